// The one harness every tactic test uses: builds a one-node graph, runs it on the CPU
// reference backend (the oracle) and through every candidate of a provider on a device,
// on random data, and compares within a tolerance.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/graph.h"

namespace kiln::testing {

struct NodeInput {
  std::string name;
  DataType type = DataType::kFLOAT;
  ir::Shape shape;
  bool constant = false;         //!< a weight: handed to the tactic as a constant
  const ir::Tensor* value = nullptr;  //!< fixed value (e.g. indices, shapes); random if null
};

//! A single-node graph: inputs in order (an empty name = absent optional input), the op,
//! attributes and the number of outputs.
ir::Graph makeNodeGraph(const std::string& op, const std::vector<NodeInput>& inputs, ir::Attributes attrs,
                        int num_outputs = 1, int opset = 21);

//! Random values in [lo, hi] (never all zero), deterministic for a seed.
ir::Tensor randomTensor(DataType type, const ir::Shape& shape, uint32_t seed, double lo = -1.0, double hi = 1.0);

struct Tolerance {
  double rtol = 1e-5;
  double atol = 1e-6;
  //! When > 0: the relative L2 error ||actual - expected|| / ||expected|| must be at most this,
  //! and each element within `atol` times the largest |expected| (rtol unused). This is the
  //! measure for TF32, whose error per element grows with the dot product's length and norm,
  //! not with the element's own magnitude.
  double l2 = 0;
};
//! Tolerance by precision: fp32 1e-5 elementwise; tf32 1e-3 relative L2 (and 1e-2 of the
//! largest value per element); fp16/bf16 1e-2 elementwise.
Tolerance toleranceFor(DataType type, bool tf32 = false);

struct CandidateResult {
  std::string name;
  bool passed = false;
  std::string message;  //!< first mismatch
};

//! Runs every candidate `provider` offers for the graph's node on `device`, comparing each
//! output with the reference. Returns one result per candidate (none: the provider does not
//! support the layer at these shapes). Random inputs unless NodeInput::value is set.
std::vector<CandidateResult> checkProvider(const backend::TacticProvider& provider, const ir::Graph& graph,
                                           backend::Device& device, Tolerance tolerance,
                                           const backend::BuildOptions& options = {}, uint32_t seed = 1);

//! What expectProviderPasses checks and how.
struct ProviderCheck {
  DataType precision = DataType::kFLOAT;  //!< sets the default tolerance and fp16/bf16 options
  bool tf32 = false;
  std::optional<Tolerance> tolerance;  //!< the precision's default when unset
  bool may_be_empty = false;           //!< a provider may decline the layer
  std::string what;                    //!< names the case in failure messages
  uint32_t seed = 1;
};

//! gtest expectations for one provider on a one-node graph: it is registered, offers at least
//! one candidate (unless may_be_empty), every candidate matches the reference, and candidate
//! names are unique. The one check every tactic test shares.
void expectProviderPasses(const char* provider, const ir::Graph& graph, backend::Device& device,
                          const ProviderCheck& check = {});

//! Compares two tensors elementwise; "" when equal within tolerance, else the first mismatch.
std::string compareTensors(const ir::Tensor& expected, const ir::Tensor& actual, Tolerance tolerance);

}  // namespace kiln::testing
