// Shape rules of the linear-algebra operators: MatMul, Gemm, Einsum.
#include <algorithm>
#include <array>

#include "ir/op_schema.h"
#include "ir/ops/einsum.h"

namespace kiln::ir {

namespace {

[[noreturn]] void einsumError(const std::string& owner, const std::string& message) {
  throw Error(ErrorCode::kInvalidModel, owner + ": " + message);
}

constexpr int kLetterLabels = 52;  // 'A'..'Z' then 'a'..'z'
int letterLabel(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return 26 + (c - 'a');
  return -1;
}

// One term of the equation: its letters with kEllipsis where "..." stood.
constexpr int kEllipsis = -2;
std::vector<int> parseTerm(const std::string& term, const std::string& owner) {
  std::vector<int> labels;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term[i] == '.') {
      if (term.compare(i, 3, "...") != 0) einsumError(owner, "malformed ellipsis in equation term '" + term + "'");
      if (std::find(labels.begin(), labels.end(), kEllipsis) != labels.end())
        einsumError(owner, "more than one ellipsis in equation term '" + term + "'");
      labels.push_back(kEllipsis);
      i += 2;
      continue;
    }
    int label = letterLabel(term[i]);
    if (label < 0) einsumError(owner, std::string("invalid character '") + term[i] + "' in equation");
    labels.push_back(label);
  }
  return labels;
}

}  // namespace

EinsumEquation parseEinsum(const std::string& equation, const std::vector<int64_t>& ranks, const std::string& owner) {
  std::string eq;
  for (char c : equation)
    if (c != ' ' && c != '\t') eq += c;
  std::string lhs = eq, rhs;
  bool explicit_output = false;
  if (auto arrow = eq.find("->"); arrow != std::string::npos) {
    lhs = eq.substr(0, arrow);
    rhs = eq.substr(arrow + 2);
    explicit_output = true;
  }
  std::vector<std::vector<int>> terms;
  for (size_t start = 0;;) {
    size_t comma = lhs.find(',', start);
    terms.push_back(parseTerm(lhs.substr(start, comma == std::string::npos ? std::string::npos : comma - start), owner));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ranks.size())
    einsumError(owner, "equation '" + equation + "' has " + std::to_string(terms.size()) + " input terms but the node has " +
                           std::to_string(ranks.size()) + " inputs");

  // The number of dims each ellipsis stands for; all of them broadcast together (right-aligned).
  std::vector<int64_t> ellipsis_dims(terms.size(), 0);
  int64_t max_ellipsis = 0;
  for (size_t t = 0; t < terms.size(); ++t) {
    bool has_ellipsis = std::find(terms[t].begin(), terms[t].end(), kEllipsis) != terms[t].end();
    int64_t letters = static_cast<int64_t>(terms[t].size()) - (has_ellipsis ? 1 : 0);
    if (has_ellipsis ? ranks[t] < letters : ranks[t] != letters)
      einsumError(owner, "equation term " + std::to_string(t) + " of '" + equation + "' does not match input rank " +
                             std::to_string(ranks[t]));
    if (has_ellipsis) ellipsis_dims[t] = ranks[t] - letters;
    max_ellipsis = std::max(max_ellipsis, ellipsis_dims[t]);
  }

  EinsumEquation result;
  result.num_labels = kLetterLabels + static_cast<int>(max_ellipsis);
  auto expand = [&](const std::vector<int>& term, int64_t n_ellipsis) {
    std::vector<int> labels;
    for (int l : term) {
      if (l != kEllipsis) {
        labels.push_back(l);
        continue;
      }
      for (int64_t e = max_ellipsis - n_ellipsis; e < max_ellipsis; ++e)
        labels.push_back(kLetterLabels + static_cast<int>(e));
    }
    return labels;
  };
  std::array<int, kLetterLabels> count{};
  for (size_t t = 0; t < terms.size(); ++t) {
    result.inputs.push_back(expand(terms[t], ellipsis_dims[t]));
    for (int l : terms[t])
      if (l != kEllipsis) ++count[l];
  }

  if (explicit_output) {
    std::vector<int> out = parseTerm(rhs, owner);
    // Without "..." in the output, the broadcast dims are summed over.
    std::array<bool, kLetterLabels> seen{};
    for (int l : out) {
      if (l == kEllipsis) continue;
      if (count[l] == 0) einsumError(owner, "output label of '" + equation + "' does not appear in any input");
      if (seen[l]) einsumError(owner, "output label repeated in '" + equation + "'");
      seen[l] = true;
    }
    result.output = expand(out, max_ellipsis);
  } else {
    for (int64_t e = 0; e < max_ellipsis; ++e) result.output.push_back(kLetterLabels + static_cast<int>(e));
    for (int l = 0; l < kLetterLabels; ++l)
      if (count[l] == 1) result.output.push_back(l);
  }
  return result;
}

std::vector<int64_t> einsumLabelDims(const EinsumEquation& eq, const std::vector<Shape>& shapes, const std::string& owner) {
  std::vector<int64_t> dims(eq.num_labels, 1);
  std::vector<bool> set(eq.num_labels, false);
  for (size_t t = 0; t < eq.inputs.size(); ++t) {
    for (size_t d = 0; d < eq.inputs[t].size(); ++d) {
      int l = eq.inputs[t][d];
      int64_t v = shapes[t][d];
      if (!set[l]) {
        dims[l] = v;
        set[l] = true;
      } else if (dims[l] == 1) {
        dims[l] = v;
      } else if (v == 1) {
        continue;  // broadcast
      } else if (isKnown(v) && isKnown(dims[l])) {
        if (v != dims[l])
          einsumError(owner, "dimension " + std::to_string(d) + " of input " + std::to_string(t) + " is " +
                                 std::to_string(v) + " but the same label elsewhere has size " + std::to_string(dims[l]));
      } else {
        dims[l] = mergeDims(dims[l], v);
      }
    }
  }
  return dims;
}

namespace {

void checkSameType(InferContext& ctx, int n) {
  for (int i = 1; i < n; ++i)
    if (ctx.hasInput(i) && ctx.inputType(i) != ctx.inputType(0)) ctx.fail("inputs have different types");
}

void checkNumeric(InferContext& ctx, bool allow_small_ints) {
  DataType t = ctx.inputType(0);
  switch (t) {
    case DataType::kFLOAT:
    case DataType::kHALF:
    case DataType::kBF16:
    case DataType::kDOUBLE:
    case DataType::kINT32:
    case DataType::kINT64:
    case DataType::kUINT32:
    case DataType::kUINT64: return;
    case DataType::kINT8:
    case DataType::kUINT8:
    case DataType::kINT16:
    case DataType::kUINT16:
      if (allow_small_ints) return;
      break;
    case DataType::kBOOL: break;
  }
  ctx.unsupported(std::string("data type ") + std::string(toString(t)) + " is not supported");
}

void inferMatMul(InferContext& ctx) {
  checkSameType(ctx, 2);
  checkNumeric(ctx, false);
  const Shape& a = ctx.inputShape(0);
  const Shape& b = ctx.inputShape(1);
  if (a.empty() || b.empty()) ctx.fail("MatMul inputs must have rank >= 1");
  int64_t k_a = a.back();
  int64_t k_b = b.size() == 1 ? b[0] : b[b.size() - 2];
  if (isKnown(k_a) && isKnown(k_b) && k_a != k_b)
    ctx.fail("inner dimensions differ: " + toString(a) + " x " + toString(b));
  Shape batch_a(a.begin(), a.end() - std::min<ptrdiff_t>(2, static_cast<ptrdiff_t>(a.size())));
  Shape batch_b(b.begin(), b.end() - std::min<ptrdiff_t>(2, static_cast<ptrdiff_t>(b.size())));
  Shape out = broadcastShapes(ctx, batch_a, batch_b);
  if (a.size() >= 2) out.push_back(a[a.size() - 2]);
  if (b.size() >= 2) out.push_back(b.back());
  ctx.setOutput(0, ctx.inputType(0), out);
}

void inferGemm(InferContext& ctx) {
  checkSameType(ctx, 3);
  checkNumeric(ctx, false);
  const Shape& a = ctx.inputShape(0);
  const Shape& b = ctx.inputShape(1);
  if (a.size() != 2 || b.size() != 2) ctx.fail("Gemm inputs A and B must be 2-D");
  bool trans_a = ctx.attrs().i("transA", 0) != 0;
  bool trans_b = ctx.attrs().i("transB", 0) != 0;
  int64_t m = trans_a ? a[1] : a[0];
  int64_t k_a = trans_a ? a[0] : a[1];
  int64_t k_b = trans_b ? b[1] : b[0];
  int64_t n = trans_b ? b[0] : b[1];
  if (isKnown(k_a) && isKnown(k_b) && k_a != k_b)
    ctx.fail("inner dimensions differ: A " + toString(a) + " x B " + toString(b) + " (transA=" +
             std::to_string(trans_a) + ", transB=" + std::to_string(trans_b) + ")");
  if (ctx.hasInput(2)) {
    const Shape& c = ctx.inputShape(2);
    if (c.size() > 2) ctx.fail("Gemm input C must have rank <= 2");
    Shape target{m, n};
    for (size_t d = 0; d < c.size(); ++d) {
      int64_t cd = c[d];
      int64_t td = target[2 - c.size() + d];
      if (isKnown(cd) && cd != 1 && isKnown(td) && cd != td)
        ctx.fail("C " + toString(c) + " cannot be broadcast to [" + std::to_string(m) + "," + std::to_string(n) + "]");
    }
  }
  ctx.setOutput(0, ctx.inputType(0), {m, n});
}

void inferEinsum(InferContext& ctx) {
  checkSameType(ctx, ctx.numInputs());
  checkNumeric(ctx, true);
  std::vector<int64_t> ranks;
  std::vector<Shape> shapes;
  for (int i = 0; i < ctx.numInputs(); ++i) {
    shapes.push_back(ctx.inputShape(i));
    ranks.push_back(ctx.inputRank(i));
  }
  std::string owner = ctx.node().describe();
  EinsumEquation eq = parseEinsum(ctx.attrs().s("equation"), ranks, owner);
  std::vector<int64_t> dims = einsumLabelDims(eq, shapes, owner);
  Shape out;
  for (int l : eq.output) out.push_back(dims[l]);
  ctx.setOutput(0, ctx.inputType(0), out);
}

KILN_REGISTER_OP({.name = "MatMul", .min_inputs = 2, .max_inputs = 2, .infer = inferMatMul});
KILN_REGISTER_OP({.name = "Gemm", .min_inputs = 2, .max_inputs = 3, .infer = inferGemm});
KILN_REGISTER_OP({.name = "Einsum", .min_inputs = 1, .max_inputs = 1000, .since_opset = 12, .infer = inferEinsum});

}  // namespace
}  // namespace kiln::ir
