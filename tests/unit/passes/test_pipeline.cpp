// The pass pipeline and symbolic shape values: the build report lists every pass with its
// count, --dump-graph writes the graph after each pass, level 0 fuses nothing, and Reshapes
// whose targets come from Shape -> Slice -> Concat chains get symbolic dims (on the forms
// torch.onnx's dynamo exporter writes: tests/data/models/*_tiny_dynamo.onnx).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "ir/graph.h"
#include "kiln/kiln.h"
#include "onnx/importer.h"
#include "passes/pipeline.h"
#include "support/models.h"

namespace kiln {
namespace {

std::string modelPath(const std::string& name) { return std::string(KILN_TEST_DATA_DIR) + "/models/" + name; }

const ir::TensorInfo& tensorNamed(const ir::Graph& g, const std::string& name) {
  const int id = g.find(name);
  EXPECT_GE(id, 0) << name;
  return g.tensors.at(static_cast<size_t>(std::max(id, 0)));
}

TEST(SymbolicShapes, ReshapeTargetsFromShapeChainsGetSymbolicDims) {
  const ir::Graph g = onnx::importFile(modelPath("bert_tiny_dynamo.onnx"));
  const int64_t batch = ir::kFirstSymbol - 0, sequence = ir::kFirstSymbol - 1;
  ASSERT_EQ(g.symbols.at(0), "batch");
  ASSERT_EQ(g.symbols.at(1), "sequence");
  // view = Reshape(linear [batch, sequence, 64], Concat(Shape[0:1], Shape[1:2], -1, 32))
  EXPECT_EQ(tensorNamed(g, "view").shape, (ir::Shape{batch, sequence, 2, 32}));
  // The K transpose as the exporter writes it: [batch*2, sequence, 32] -> [.., 32, sequence]
  // -> Reshape back with the leading dims taken from Shape(transpose_1)[0:2].
  EXPECT_EQ(tensorNamed(g, "val_106").shape, (ir::Shape{batch, 2, 32, sequence}));
  EXPECT_EQ(tensorNamed(g, "view_3").shape, (ir::Shape{batch, sequence, 64}));
}

TEST(SymbolicShapes, AnUnknownEntryLeavesTheDimUnknown) {
  // [batch*2, sequence, 32]: the product of a symbol and a number has no symbol of its own.
  const ir::Graph g = onnx::importFile(modelPath("bert_tiny_dynamo.onnx"));
  EXPECT_EQ(tensorNamed(g, "val_103").shape[0], ir::kUnknownDim);
}

TEST(PassPipeline, ReportListsEveryPassAndDumpWritesTheGraphAfterEach) {
  Network network = OnnxParser::parseFile(modelPath("bert_tiny_dynamo.onnx"));
  BuilderConfig config = testing::cpuConfig();
  OptimizationProfile profile;
  profile.setDimensions("input_ids", ProfileDims{.min = {1, 5}, .opt = {2, 16}, .max = {4, 32}});
  profile.setDimensions("attention_mask", ProfileDims{.min = {1, 5}, .opt = {2, 16}, .max = {4, 32}});
  config.addOptimizationProfile(profile);
  const std::filesystem::path dir = testing::freshTempDir("dump") / "graphs";
  config.setGraphDumpDirectory(dir.string());
  std::string report;
  Builder::buildSerializedNetwork(network, config, &report);
  const nlohmann::json r = nlohmann::json::parse(report);
  // The pipeline's passes, then the Cast folding that follows precision conversion and the
  // channels-last step (GPU builds in float16 / bfloat16 only: not run here).
  ASSERT_EQ(r["passes"].size(), passes::pipeline().size() + 2);
  EXPECT_EQ(r["passes"][passes::pipeline().size()]["name"], "fold_casts");
  EXPECT_EQ(r["passes"].back()["name"], "channels_last");
  EXPECT_FALSE(r["passes"].back()["ran"].get<bool>());
  for (size_t i = 0; i < passes::pipeline().size(); ++i) {
    EXPECT_EQ(r["passes"][i]["name"], passes::pipeline()[i].name);
    EXPECT_TRUE(r["passes"][i]["ran"].get<bool>());
    const std::string file = (i + 1 < 10 ? "0" : "") + std::to_string(i + 1) + "_" + passes::pipeline()[i].name + ".txt";
    EXPECT_TRUE(std::filesystem::exists(dir / file)) << file;
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "00_input.txt"));
  std::ifstream first(dir / "00_input.txt");
  std::string line;
  std::getline(first, line);
  EXPECT_EQ(line.rfind("input input_ids:int64[batch,sequence]", 0), 0u) << line;
}

TEST(PassPipeline, LevelZeroRunsNoFusion) {
  ir::Graph g = onnx::importFile(modelPath("bert_tiny_dynamo.onnx"));
  const size_t before = g.nodes.size();
  std::set<std::string> keep;
  const auto results = passes::runPipeline(g, passes::PassContext{.keep = keep, .opt_level = 0});
  for (const auto& r : results) {
    if (r.name.rfind("fuse_", 0) == 0) {
      EXPECT_FALSE(r.ran) << r.name;
    }
  }
  EXPECT_EQ(g.nodes.size(), before);
}

TEST(PassPipeline, UnwritableDumpFolderIsOneClearError) {
  ir::Graph g = onnx::importFile(modelPath("bert_tiny_dynamo.onnx"));
  const std::filesystem::path file = testing::freshTempDir("dump_file") / "a_file";
  std::ofstream(file) << "x";
  std::set<std::string> keep;
  try {
    passes::runPipeline(g, passes::PassContext{.keep = keep, .opt_level = 3}, (file / "sub").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("graph dump folder"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln
