#include "passes/precision_guard.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "backends/cpu/reference.h"
#include "passes/precision.h"

namespace kiln::passes {

namespace {

//! How a reduced-precision tensor departs from its float32 value.
struct Deviation {
  int64_t overflow = 0;   //!< finite in float32, not in the reduced run
  int64_t underflow = 0;  //!< non-zero in float32, zero in the reduced run
  int64_t nonzero = 0;
  double rel = 0;         //!< relative L2 error over the finite values
  double max_abs = 0;     //!< largest |float32 value|

  bool overflows() const { return overflow > 0; }
  bool underflows() const { return underflow > std::max<int64_t>(1, nonzero / 100); }
  bool bad(double tolerance) const { return overflows() || underflows() || rel > tolerance; }
  void worsen(const Deviation& o) {
    overflow = std::max(overflow, o.overflow);
    underflow = std::max(underflow, o.underflow);
    nonzero = std::max(nonzero, o.nonzero);
    rel = std::max(rel, o.rel);
  }
};

Deviation compare(const ir::Tensor& f, const ir::Tensor& r) {
  Deviation d;
  const std::vector<double> a = f.toDouble(), b = r.toDouble();
  if (a.size() != b.size()) {
    d.rel = std::numeric_limits<double>::infinity();
    return d;
  }
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) continue;
    d.max_abs = std::max(d.max_abs, std::fabs(a[i]));
    if (!std::isfinite(b[i])) {
      ++d.overflow;
      continue;
    }
    if (a[i] != 0) {
      ++d.nonzero;
      if (b[i] == 0) ++d.underflow;
    }
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += a[i] * a[i];
  }
  d.rel = num == 0 ? 0 : std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
  return d;
}

std::string number(double v) {
  std::ostringstream os;
  os.precision(3);
  os << v;
  return os.str();
}

}  // namespace

PrecisionGuardResult guardPrecision(const ir::Graph& graph, const std::vector<bool>& host,
                                    std::vector<DataType>& precision, const std::map<std::string, ir::Tensor>& inputs,
                                    const PrecisionGuardOptions& options) {
  PrecisionGuardResult result;
  const std::map<std::string, ir::Tensor> fp32 = cpu::runReference(graph, inputs, /*keep_all=*/true);
  // Only tensors that are float32 in the model and computed (not weights or host values).
  auto computedFloat = [&](int id) {
    return id != ir::kAbsent && graph.tensors[id].type == DataType::kFLOAT && !graph.tensors[id].value;
  };
  // Per round: each computed float tensor's deviation, compared once (a tensor is read by
  // its producer's check and by every consumer's).
  std::vector<std::optional<Deviation>> deviations;
  auto deviation = [&](int id, Deviation& d) {
    if (!computedFloat(id) || !deviations[id]) return false;
    d = *deviations[id];
    return true;
  };

  // Range first, from the float32 run alone: a reduced layer that writes or reads values
  // beyond the reduced type's range, or non-zero values it would flush to zero, is pinned at
  // once (with the layers it feeds, in one go, instead of one round per layer).
  struct Range {
    double max_abs = 0;
    int64_t tiny = 0, nonzero = 0;
  };
  std::map<std::string, Range> ranges;
  for (const auto& [name, t] : fp32) {
    if (t.type() != DataType::kFLOAT) continue;
    Range r;
    for (double v : t.toDouble()) {
      if (!std::isfinite(v)) continue;
      r.max_abs = std::max(r.max_abs, std::fabs(v));
      if (v != 0) {
        ++r.nonzero;
        if (std::fabs(v) < 5.96e-8) ++r.tiny;  // below float16's smallest subnormal
      }
    }
    ranges.emplace(name, r);
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (host[n] || precision[n] == DataType::kFLOAT || (n < options.fixed.size() && options.fixed[n])) continue;
    const bool half = precision[n] == DataType::kHALF;
    const double limit = half ? 65504.0 : 3.38e38;
    const std::string type(toString(precision[n]));
    std::string reason;
    auto check = [&](int id, const char* what) {
      if (!reason.empty() || !computedFloat(id)) return;
      auto it = ranges.find(graph.tensors[id].name);
      if (it == ranges.end()) return;
      const Range& r = it->second;
      if (r.max_abs > limit) {
        reason = "overflows " + type + ": " + what + " values up to " + number(r.max_abs) + " in float32 (" + type +
                 " ends at " + number(limit) + ")";
      } else if (half && r.tiny > std::max<int64_t>(1, r.nonzero / 100)) {
        reason = "underflows " + type + ": " + what + " " + std::to_string(r.tiny) + " of " + std::to_string(r.nonzero) +
                 " non-zero values below its smallest (5.96e-08)";
      }
    };
    for (int id : graph.nodes[n].outputs) check(id, "writes");
    for (size_t i = 0; i < graph.nodes[n].inputs.size(); ++i)
      if (graph.nodes[n].inputs[i] != ir::kAbsent && !keepsFloat32(graph.nodes[n], i)) check(graph.nodes[n].inputs[i], "reads");
    if (reason.empty()) continue;
    precision[n] = DataType::kFLOAT;
    result.pinned.push_back({graph.nodes[n].name, reason});
  }

  for (result.rounds = 1; result.rounds <= options.max_rounds; ++result.rounds) {
    ir::Graph reduced_graph = graph;
    std::vector<bool> reduced_host = host;
    convertFloatPrecision(reduced_graph, precision, reduced_host);
    const std::map<std::string, ir::Tensor> reduced = cpu::runReference(reduced_graph, inputs, /*keep_all=*/true);
    deviations.assign(graph.tensors.size(), std::nullopt);
    for (size_t id = 0; id < graph.tensors.size(); ++id) {
      if (!computedFloat(static_cast<int>(id))) continue;
      auto f = fp32.find(graph.tensors[id].name);
      auto r = reduced.find(graph.tensors[id].name);
      if (f != fp32.end() && r != reduced.end()) deviations[id] = compare(f->second, r->second);
    }

    result.agrees = true;
    result.output_error = 0;
    for (int id : graph.outputs) {
      Deviation d;
      if (!deviation(id, d)) continue;
      result.output_error = std::max(result.output_error, d.overflows() ? std::numeric_limits<double>::infinity() : d.rel);
      result.agrees = result.agrees && !d.bad(options.tolerance);
    }
    if (result.agrees) return result;

    // Pin every reduced layer that breaks its output while its inputs are still fine.
    bool pinned_any = false;
    size_t worst = graph.nodes.size();
    double worst_increase = 0;
    for (size_t n = 0; n < graph.nodes.size(); ++n) {
      if (host[n] || precision[n] == DataType::kFLOAT || (n < options.fixed.size() && options.fixed[n])) continue;
      const ir::Node& node = graph.nodes[n];
      Deviation in, out;
      for (int id : node.inputs) {
        Deviation d;
        if (deviation(id, d)) in.worsen(d);
      }
      bool has_output = false;
      for (int id : node.outputs) {
        Deviation d;
        if (deviation(id, d)) {
          out.worsen(d);
          out.max_abs = std::max(out.max_abs, d.max_abs);
          has_output = true;
        }
      }
      if (!has_output) continue;
      const std::string type(toString(precision[n]));
      std::string reason;
      if (out.overflows() && !in.overflows()) {
        reason = "overflows " + type + ": " + std::to_string(out.overflow) + " values out of its range (largest |value| in float32: " +
                 number(out.max_abs) + ")";
      } else if (out.underflows() && !in.underflows()) {
        reason = "underflows " + type + ": " + std::to_string(out.underflow) + " of " + std::to_string(out.nonzero) +
                 " non-zero values become 0";
      } else if (!out.overflows() && out.rel > options.tolerance && in.rel <= options.tolerance) {
        reason = "differs from float32 by " + number(out.rel) + " (relative L2; tolerance " + number(options.tolerance) + ")";
      }
      if (!reason.empty()) {
        precision[n] = DataType::kFLOAT;
        result.pinned.push_back({node.name, reason});
        pinned_any = true;
        continue;
      }
      const double increase = (out.overflows() ? 1e9 : out.rel) - (in.overflows() ? 1e9 : in.rel);
      if (increase > worst_increase) {
        worst_increase = increase;
        worst = n;
      }
    }
    if (!pinned_any && worst < graph.nodes.size()) {
      // No layer breaks on its own; the error builds up: pin the layer that adds the most.
      precision[worst] = DataType::kFLOAT;
      result.pinned.push_back({graph.nodes[worst].name, "adds the most error (relative L2 " + number(worst_increase) +
                                                             ") while the outputs differ from float32 by " +
                                                             number(result.output_error)});
      pinned_any = true;
    }
    if (!pinned_any) break;
  }
  return result;
}

}  // namespace kiln::passes
