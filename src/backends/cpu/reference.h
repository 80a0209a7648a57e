// The CPU reference backend: one simple, accurate kernel per operator. It is the oracle that
// every other tactic is tested against, and the evaluator behind constant folding.
//
// A kernel file registers its kernels where they are defined:
//   KILN_REFERENCE_KERNEL(Relu, [](KernelContext& ctx) { ... });
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ir/graph.h"
#include "ir/op_schema.h"

namespace kiln::cpu {

//! One node's inputs (nullptr where absent) and its outputs, already allocated with the
//! types and shapes its shape rule inferred (nullptr where the output is not wanted).
struct KernelContext {
  const ir::Node& node;
  std::vector<const ir::Tensor*> inputs;
  std::vector<ir::Tensor*> outputs;
  int opset = 0;

  const ir::Attributes& attrs() const { return node.attrs; }
  bool has(int i) const { return i < static_cast<int>(inputs.size()) && inputs[i] != nullptr; }
  const ir::Tensor& in(int i) const;
  bool wants(int i) const { return i < static_cast<int>(outputs.size()) && outputs[i] != nullptr; }
  ir::Tensor& out(int i) const;
  //! Writes `values` (double precision results) into floating-point output i, rounded once
  //! into its type; nothing when the output is not wanted.
  void storeOutput(int i, const std::vector<double>& values) const;
  [[noreturn]] void unsupported(const std::string& message) const;
};

using ReferenceKernel = std::function<void(KernelContext&)>;

struct ReferenceKernelRegistrar {
  ReferenceKernelRegistrar(const char* op, ReferenceKernel kernel);
};
const ReferenceKernel* findReferenceKernel(std::string_view op);

//! Declares that `op`'s reference kernel may write output 0 over the memory of the given
//! inputs (in-place execution): it reads each element of such an input only to compute the
//! same element of output 0, before writing it. Registered beside the kernel it describes.
struct ReferenceInPlaceRegistrar {
  ReferenceInPlaceRegistrar(const char* op, std::vector<int> inputs);
};
//! The inputs `op`'s reference kernel may write output 0 over; empty for most operators.
std::vector<int> referenceInPlaceInputs(std::string_view op);

#define KILN_REFERENCE_IN_PLACE(op, ...) \
  static const ::kiln::cpu::ReferenceInPlaceRegistrar KILN_PP_CAT(kiln_ref_in_place_, __LINE__)(#op, {__VA_ARGS__})

#define KILN_REFERENCE_KERNEL(op, ...) \
  static const ::kiln::cpu::ReferenceKernelRegistrar KILN_PP_CAT(kiln_ref_kernel_, __LINE__)(#op, __VA_ARGS__)

//! Evaluates one node whose inputs all have values in `tensors`: infers its outputs' shapes,
//! allocates them, runs the reference kernel and stores the results as the outputs' values.
void evaluateNode(const ir::Node& node, std::vector<ir::TensorInfo>& tensors, int opset);

//! Runs a whole graph on the CPU reference backend. `inputs` maps graph input names to
//! values (shapes must match the graph's known dims). Returns the graph outputs by name.
//! `keep` names extra tensors to return as well (debug tensors, per-layer comparison); an
//! empty name list and keep_all=false returns only the outputs.
std::map<std::string, ir::Tensor> runReference(const ir::Graph& graph, const std::map<std::string, ir::Tensor>& inputs,
                                               bool keep_all = false);

}  // namespace kiln::cpu
