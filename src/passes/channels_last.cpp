#include "passes/channels_last.h"

#include <map>
#include <numeric>
#include <optional>
#include <tuple>

#include "ir/ops/conv_epilogue.h"
#include "ir/ops/window.h"
#include "passes/pattern.h"
#include "passes/pipeline.h"

namespace kiln::passes {
namespace {

const std::vector<int64_t> kToNhwc = {0, 2, 3, 1}, kToNchw = {0, 3, 1, 2};

bool isConvolution(const ir::Node& n) {
  return (n.op == "Conv" && n.domain.empty()) || (n.op == "FusedConv" && n.domain == "kiln");
}

//! X of a layer this step may convert: 4-D float16 / bfloat16 with a known channel count.
bool reducedImage(const ir::TensorInfo& x) {
  return (x.type == DataType::kHALF || x.type == DataType::kBF16) && x.rank_known && x.shape.size() == 4 &&
         ir::isKnown(x.shape[1]);
}

//! A convolution this step converts: 2-D, float16 / bfloat16, constant W, not already NHWC,
//! and either of group 1 with output channels a multiple of 8 and input channels too or fewer
//! than 8 (a stem: padded to 8), or (when `depthwise`) depthwise, group == input channels ==
//! output channels (one filter per channel, W [C, 1, R, S]) with channels a multiple of 8.
bool convertibleConvolution(const ir::Graph& g, const ir::Node& n, bool depthwise) {
  if (!isConvolution(n) || n.inputs.size() < 2 || n.outputs.size() != 1 || n.inputs[1] == ir::kAbsent) return false;
  if (n.op == "FusedConv" && ir::convChannelsLast(n.attrs)) return false;
  const ir::TensorInfo& x = g.tensors[n.inputs[0]];
  const ir::TensorInfo& w = g.tensors[n.inputs[1]];
  if (!reducedImage(x) || !w.value || w.shape.size() != 4) return false;
  const int64_t c = x.shape[1], k = w.shape[0], group = n.attrs.i("group", 1);
  if (!ir::isKnown(k)) return false;
  if (group == 1) return (c % 8 == 0 || c < 8) && k % 8 == 0 && w.shape[1] == c;
  return depthwise && group == c && k == c && w.shape[1] == 1 && c % 8 == 0;
}

bool isDepthwise(const ir::Node& n) { return isConvolution(n) && n.attrs.i("group", 1) != 1; }

//! A 2-D MaxPool without Indices over channels that are a multiple of 8.
bool convertiblePool(const ir::Graph& g, const ir::Node& n) {
  if (n.op != "MaxPool" || !n.domain.empty() || n.inputs.size() != 1) return false;
  if (n.outputs.size() > 1 && n.outputs[1] != ir::kAbsent) return false;
  const ir::TensorInfo& x = g.tensors[n.inputs[0]];
  return reducedImage(x) && x.shape[1] % 8 == 0 && n.attrs.ints("kernel_shape", {}).size() == 2;
}

//! Channels a stem convolution's input is padded to (0: no padding).
int64_t paddedChannels(const ir::Graph& g, const ir::Node& n) {
  const int64_t c = g.tensors[n.inputs[0]].shape[1];
  return isConvolution(n) && c % 8 != 0 ? 8 : 0;
}

ir::Shape permuted(const ir::Shape& s, const std::vector<int64_t>& perm) {
  ir::Shape out(perm.size());
  for (size_t d = 0; d < perm.size(); ++d) out[d] = s[perm[d]];
  return out;
}

//! A constant of Pad's pads for a 4-D NHWC tensor: `to - from` zeros after the channels.
int channelPads(ir::Graph& g, int64_t from, int64_t to) {
  const std::vector<int64_t> pads = {0, 0, 0, 0, 0, 0, 0, to - from};
  return g.addConstant("channel_pads", ir::Tensor::fromInt64({8}, pads));
}

//! A constant of Pad's pads: `begin` then `end`, one per dim.
int padsConstant(ir::Graph& g, std::vector<int64_t> begin, const std::vector<int64_t>& end) {
  begin.insert(begin.end(), end.begin(), end.end());
  return g.addConstant("pads", ir::Tensor::fromInt64({static_cast<int64_t>(begin.size())}, begin));
}

int shapeConstant(ir::Graph& g, const std::vector<int64_t>& dims) {
  return g.addConstant("shape", ir::Tensor::fromInt64({static_cast<int64_t>(dims.size())}, dims));
}

//! A stem rewritten by space-to-depth (see the header): X zero-padded to [N, 4, hp, wp]
//! (pads_begin / pads_end in H, W; channels padded after), its 2x2 blocks made 16 channels,
//! and W [K, C, R, S] padded to [K, 4, 2 * kh, 2 * kw] the same way.
struct SpaceToDepthStem {
  int64_t channels = 0;                       //!< C, at most kS2dChannels
  int64_t kernel_h = 0, kernel_w = 0;         //!< R, S
  int64_t kh = 0, kw = 0;                     //!< the stride-1 kernel: ceil(R / 2), ceil(S / 2)
  int64_t hp = 0, wp = 0;                     //!< padded spatial dims, even
  std::vector<int64_t> pads_begin, pads_end;  //!< X's spatial pads (H, W), all >= 0
};

constexpr int64_t kS2dChannels = 4;  // 2x2 blocks of 4 channels: 16, a tensor-core multiple
//! Xp [N, 4, hp, wp] viewed [N, 4, hp/2, 2 (dy), wp/2, 2 (dx)] -> [N, hp/2, wp/2, dy, dx, 4]:
//! channel (dy * 2 + dx) * 4 + c. W uses the same permutation ([K, 4, kh, 2, kw, 2]).
const std::vector<int64_t> kBlocksToChannels = {0, 2, 4, 3, 5, 1};
//! The same blocks of X taken channels last: [N, hp/2, dy, wp/2, dx, 4] -> [N, hp/2, wp/2, dy, dx, 4].
const std::vector<int64_t> kNhwcBlocksToChannels = {0, 1, 3, 2, 4, 5};

//! The space-to-depth form of a convolution, when it has one: group 1, at most 4 input
//! channels, strides 2 x 2, dilations 1, known H and W, constant W, and a padded input that
//! does not crop X (hp - H - pad_top >= 0, same for W).
std::optional<SpaceToDepthStem> spaceToDepthStem(const ir::Graph& g, const ir::Node& n) {
  if (!isConvolution(n) || n.attrs.i("group", 1) != 1) return std::nullopt;
  const ir::Shape& x = g.tensors[n.inputs[0]].shape;
  const ir::Shape& w = g.tensors[n.inputs[1]].shape;
  // N may be symbolic (the Reshapes copy it); C, H, W and W's dims are known.
  if (x.size() != 4 || w.size() != 4 || !ir::isKnown(x[1]) || !ir::isKnown(x[2]) || !ir::isKnown(x[3]) ||
      !ir::allKnown(w) || x[1] > kS2dChannels)
    return std::nullopt;
  if (n.attrs.ints("strides", {1, 1}) != std::vector<int64_t>{2, 2}) return std::nullopt;
  if (n.attrs.ints("dilations", {1, 1}) != std::vector<int64_t>{1, 1}) return std::nullopt;
  const ir::Window win = ir::resolveWindow(n.attrs, {x[2], x[3]}, {w[2], w[3]}, false);
  SpaceToDepthStem s{.channels = x[1], .kernel_h = w[2], .kernel_w = w[3], .kh = (w[2] + 1) / 2, .kw = (w[3] + 1) / 2};
  // Output row oh reads padded rows 2 oh + r, r < 2 kh (rows r >= R meet zero weights).
  s.hp = 2 * (win.out[0] + s.kh - 1);
  s.wp = 2 * (win.out[1] + s.kw - 1);
  s.pads_begin = {win.pads_begin[0], win.pads_begin[1]};
  s.pads_end = {s.hp - x[2] - win.pads_begin[0], s.wp - x[3] - win.pads_begin[1]};
  if (s.pads_end[0] < 0 || s.pads_end[1] < 0) return std::nullopt;
  return s;
}

//! Appends `op` with one output to `nodes` (a device layer), the output `type` and `shape`.
int appendNode(ir::Graph& g, std::vector<ir::Node>& nodes, std::vector<bool>& marks, const std::string& name,
               const std::string& op, std::vector<int> inputs, DataType type, ir::Shape shape,
               ir::Attributes attrs = {}) {
  const int out = g.addTensor(name);
  ir::TensorInfo& info = g.tensors[out];
  info.type = type;
  info.shape = std::move(shape);
  info.rank_known = true;
  ir::Node node{.name = name, .op = op, .inputs = std::move(inputs), .outputs = {out}};
  node.attrs = std::move(attrs);
  node.attrs.owner = node.describe();
  nodes.push_back(std::move(node));
  marks.push_back(false);
  return out;
}

//! X [N, C, H, W] (NCHW, outside the region) as the stem's space-to-depth input
//! [N, hp/2, wp/2, 16] (NHWC): Transpose to [N, H, W, C], Pad to [N, hp, wp, 4], Reshape to
//! [N, hp/2, 2 (dy), wp/2, 2 (dx), 4], Transpose to [N, hp/2, wp/2, dy, dx, 4], Reshape. Channels
//! last first, so that each copy moves whole rows: the first transposes a few rows (C), the
//! Pad writes 8-byte rows, the block Transpose moves 16-byte (dx, c) runs. N may be symbolic:
//! the Reshapes copy it (0).
int spaceToDepthInput(ir::Graph& g, std::vector<ir::Node>& nodes, std::vector<bool>& marks, int x,
                      const SpaceToDepthStem& s) {
  const std::string base = g.tensors[x].name + "/s2d";
  const DataType type = g.tensors[x].type;
  const ir::Shape& xs = g.tensors[x].shape;
  const int64_t n = xs[0], hb = s.hp / 2, wb = s.wp / 2;
  ir::Attributes to_nhwc;
  to_nhwc.set("perm", kToNhwc);
  int t = appendNode(g, nodes, marks, base + "_nhwc", "Transpose", {x}, type, {n, xs[2], xs[3], s.channels}, to_nhwc);
  if (s.channels != kS2dChannels || s.pads_begin != std::vector<int64_t>{0, 0} ||
      s.pads_end != std::vector<int64_t>{0, 0}) {
    const int pads = padsConstant(g, {0, s.pads_begin[0], s.pads_begin[1], 0},
                                  {0, s.pads_end[0], s.pads_end[1], kS2dChannels - s.channels});
    t = appendNode(g, nodes, marks, base + "_pad", "Pad", {t, pads}, type, {n, s.hp, s.wp, kS2dChannels});
  }
  t = appendNode(g, nodes, marks, base + "_blocks", "Reshape", {t, shapeConstant(g, {0, hb, 2, wb, 2, kS2dChannels})},
                 type, {n, hb, 2, wb, 2, kS2dChannels});
  ir::Attributes perm;
  perm.set("perm", kNhwcBlocksToChannels);
  t = appendNode(g, nodes, marks, base + "_transpose", "Transpose", {t}, type, {n, hb, wb, 2, 2, kS2dChannels}, perm);
  return appendNode(g, nodes, marks, base, "Reshape", {t, shapeConstant(g, {0, hb, wb, 4 * kS2dChannels})}, type,
                    {n, hb, wb, 4 * kS2dChannels});
}

//! W [K, C, R, S] (OIHW) as the stem's space-to-depth weight [K, kh, kw, 16] (KRSC), in the
//! weight program: Pad, Reshape, Transpose, Reshape.
int spaceToDepthWeight(ir::Graph& g, const std::string& base, int w, const SpaceToDepthStem& s) {
  const int64_t k = g.tensors[w].shape[0];
  const int pads =
      padsConstant(g, {0, 0, 0, 0}, {0, kS2dChannels - s.channels, 2 * s.kh - s.kernel_h, 2 * s.kw - s.kernel_w});
  w = addWeightProgramNode(g, base, "Pad", {w, pads});
  w = addWeightProgramNode(g, base, "Reshape", {w, shapeConstant(g, {k, kS2dChannels, s.kh, 2, s.kw, 2})});
  ir::Attributes perm;
  perm.set("perm", kBlocksToChannels);
  w = addWeightProgramNode(g, base, "Transpose", {w}, perm);
  return addWeightProgramNode(g, base, "Reshape", {w, shapeConstant(g, {k, s.kh, s.kw, 4 * kS2dChannels})});
}

int find(std::vector<int>& parent, int i) {
  while (parent[i] != i) i = parent[i] = parent[parent[i]];
  return i;
}

}  // namespace

ChannelsLastResult convertToChannelsLast(ir::Graph& graph, std::vector<bool>& host, const std::set<std::string>& keep,
                                         const ChannelsLastOptions& options) {
  const int min_convs_per_edge = options.min_convs_per_edge;
  ChannelsLastResult result;
  const size_t count = graph.nodes.size();
  std::vector<bool> candidate(count, false);
  for (size_t n = 0; n < count; ++n) {
    const ir::Node& node = graph.nodes[n];
    if (host[n]) continue;
    if (convertibleConvolution(graph, node, options.depthwise))
      candidate[n] = options.stems_and_pools || paddedChannels(graph, node) == 0;
    else candidate[n] = options.stems_and_pools && convertiblePool(graph, node);
  }

  // Regions: candidates joined through X, R or Y.
  const std::vector<int> producer = producers(graph);
  std::vector<int> parent(count);
  std::iota(parent.begin(), parent.end(), 0);
  auto activations = [](const ir::Node& n) {  // X and R, the inputs that carry the layout (a pool: X)
    std::vector<int> ids = {n.inputs[0]};
    if (n.op == "FusedConv" && n.inputs.size() > 3 && n.inputs[3] != ir::kAbsent) ids.push_back(n.inputs[3]);
    return ids;
  };
  for (size_t n = 0; n < count; ++n) {
    if (!candidate[n]) continue;
    for (int t : activations(graph.nodes[n])) {
      const int p = producer[t];
      if (p >= 0 && candidate[p]) parent[find(parent, static_cast<int>(n))] = find(parent, p);
    }
  }

  // Per tensor: read by a convolution of a region as X / R, and read otherwise (another layer,
  // another input slot, a graph output, kept).
  std::vector<bool> read_as_activation(graph.tensors.size(), false), read_otherwise(graph.tensors.size(), false);
  for (size_t n = 0; n < count; ++n) {
    const ir::Node& node = graph.nodes[n];
    std::vector<int> acts = candidate[n] ? activations(node) : std::vector<int>{};
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int t = node.inputs[i];
      if (t == ir::kAbsent) continue;
      const bool act = candidate[n] && (i == 0 || (i == 3 && node.op == "FusedConv"));
      (act ? read_as_activation : read_otherwise)[t] = true;
    }
  }
  for (int t : graph.outputs) read_otherwise[t] = true;
  for (const std::string& name : keep)
    if (int t = graph.find(name); t >= 0) read_otherwise[t] = true;

  // Edges per region: tensors converted in (read as X / R, not written by the region) and out
  // (written by the region, read otherwise).
  std::map<int, int> convs, edges;
  std::map<int, std::set<int>> entering;
  for (size_t n = 0; n < count; ++n) {
    if (!candidate[n]) continue;
    const int r = find(parent, static_cast<int>(n));
    if (isConvolution(graph.nodes[n])) ++convs[r];
    for (int t : activations(graph.nodes[n])) {
      const int p = producer[t];
      if (p < 0 || !candidate[p]) entering[r].insert(t);
    }
    if (read_otherwise[graph.nodes[n].outputs[0]]) ++edges[r];
  }
  for (const auto& [r, tensors] : entering) edges[r] += static_cast<int>(tensors.size());
  for (size_t n = 0; n < count; ++n) {
    if (!candidate[n]) continue;
    const int r = find(parent, static_cast<int>(n));
    if (convs[r] < min_convs_per_edge * edges[r]) candidate[n] = false;
  }

  // Rewrite in order: entry Transposes before their first reader, each convolution NHWC, a
  // Transpose back after a result that leaves its region.
  std::map<int, int> nhwc;    // NCHW tensor -> its NHWC twin
  std::map<int, int> padded;  // NCHW tensor -> its NHWC twin with channels zero-padded (stems)
  // (NCHW tensor, hp, wp, pads begin) -> its space-to-depth form (stems)
  std::map<std::tuple<int, int64_t, int64_t, std::vector<int64_t>>, int> blocks;
  auto twin = [&](int t, const std::string& hint) {
    const int id = graph.addTensor(hint);
    ir::TensorInfo& info = graph.tensors[id];
    info.type = graph.tensors[t].type;
    info.shape = permuted(graph.tensors[t].shape, kToNhwc);
    info.rank_known = true;
    return id;
  };
  std::vector<ir::Node> nodes;
  std::vector<bool> marks;
  nodes.reserve(count);
  for (size_t n = 0; n < count; ++n) {
    ir::Node node = std::move(graph.nodes[n]);
    if (!candidate[n]) {
      nodes.push_back(std::move(node));
      marks.push_back(host[n]);
      continue;
    }
    const bool pool = node.op == "MaxPool";
    int64_t pad_to = pool ? 0 : paddedChannels(graph, node);
    const std::optional<SpaceToDepthStem> s2d =
        pad_to > 0 && options.space_to_depth_stems ? spaceToDepthStem(graph, node) : std::nullopt;
    if (s2d) pad_to = 0;
    for (size_t i : {size_t{0}, size_t{3}}) {
      if (i >= node.inputs.size() || node.inputs[i] == ir::kAbsent) continue;
      if (i == 3 && node.op != "FusedConv") continue;
      const int t = node.inputs[i];
      if (i == 0 && s2d) {  // X's own conversion in, once per tensor and geometry
        const auto key = std::make_tuple(t, s2d->hp, s2d->wp, s2d->pads_begin);
        if (!blocks.count(key)) {
          blocks[key] = spaceToDepthInput(graph, nodes, marks, t, *s2d);
          ++result.transposes;
        }
        node.inputs[0] = blocks[key];
        continue;
      }
      if (!nhwc.count(t)) {  // produced outside the region: convert it in
        const std::string name = graph.tensors[t].name + "/nhwc";
        const int out = twin(t, name);
        ir::Node transpose{.name = name, .op = "Transpose", .inputs = {t}, .outputs = {out}};
        transpose.attrs.set("perm", kToNhwc);
        transpose.attrs.owner = transpose.describe();
        nodes.push_back(std::move(transpose));
        marks.push_back(false);
        nhwc[t] = out;
        ++result.transposes;
      }
      node.inputs[i] = nhwc[t];
      if (i == 0 && pad_to > 0) {  // a stem: zero channels up to pad_to, once per tensor
        if (!padded.count(t)) {
          const int in = nhwc[t];
          const std::string name = graph.tensors[t].name + "/nhwc_pad" + std::to_string(pad_to);
          const int out = graph.addTensor(name);
          ir::TensorInfo& info = graph.tensors[out];
          info.type = graph.tensors[in].type;
          info.shape = graph.tensors[in].shape;
          info.shape[3] = pad_to;
          info.rank_known = true;
          ir::Node pad{.name = name,
                       .op = "Pad",
                       .inputs = {in, channelPads(graph, graph.tensors[in].shape[3], pad_to)},
                       .outputs = {out}};
          pad.attrs.owner = pad.describe();
          nodes.push_back(std::move(pad));
          marks.push_back(false);
          padded[t] = out;
        }
        node.inputs[0] = padded[t];
      }
    }
    if (pool) {
      node.op = "NhwcMaxPool";
      node.domain = "kiln";
      node.attrs.erase("storage_order");
      node.outputs.resize(1);
    } else if (s2d) {
      node.inputs[1] = spaceToDepthWeight(graph, node.name + "/s2d", node.inputs[1], *s2d);
      node.attrs.erase("auto_pad");
      node.attrs.set("kernel_shape", std::vector<int64_t>{s2d->kh, s2d->kw});
      node.attrs.set("strides", std::vector<int64_t>{1, 1});
      node.attrs.set("pads", std::vector<int64_t>{0, 0, 0, 0});
      node.attrs.set("dilations", std::vector<int64_t>{1, 1});
      ++result.space_to_depth_stems;
    } else {
      ir::Attributes perm;
      perm.set("perm", kToNhwc);
      int w = addWeightProgramNode(graph, node.name + "/krsc", "Transpose", {node.inputs[1]}, perm);
      if (pad_to > 0)
        w = addWeightProgramNode(graph, node.name + "/krsc", "Pad",
                                 {w, channelPads(graph, graph.tensors[w].shape[3], pad_to)});
      node.inputs[1] = w;
    }
    if (!pool) {
      if (node.op == "Conv") {
        node.op = "FusedConv";
        node.domain = "kiln";
      }
      node.attrs.set("layout", std::string("NHWC"));
    }
    const int y = node.outputs[0];
    const int y_nhwc = twin(y, graph.tensors[y].name + "/nhwc");
    node.outputs[0] = y_nhwc;
    nhwc[y] = y_nhwc;
    const std::string name = node.name;
    nodes.push_back(std::move(node));
    marks.push_back(false);
    if (!pool) {
      ++result.convolutions;
      if (isDepthwise(nodes.back())) ++result.depthwise;
    } else {
      ++result.pools;
    }
    if (read_otherwise[y] || !read_as_activation[y]) {
      ir::Node back{.name = name + "/nchw", .op = "Transpose", .inputs = {y_nhwc}, .outputs = {y}};
      back.attrs.set("perm", kToNchw);
      back.attrs.owner = back.describe();
      nodes.push_back(std::move(back));
      marks.push_back(false);
      ++result.transposes;
    }
  }
  graph.nodes = std::move(nodes);
  host = std::move(marks);
  return result;
}

}  // namespace kiln::passes
