// The engine plan in memory: everything the builder decided and the runtime needs. The
// format (plan_format.h) turns it into bytes and back, validating every byte it reads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/graph.h"
#include "kiln/builder.h"
#include "kiln/tactic.h"

namespace kiln::plan {

//! The tactic chosen for one layer in one profile.
struct TacticChoice {
  std::string provider;         //!< TacticProvider::name()
  backend::TacticConfig config;
  uint64_t id = 0;              //!< backend::tacticId(provider, config)
  TacticSource source = TacticSource::kREFERENCE;
  double time_ms = -1;          //!< as measured at build time; < 0 if untimed
  //! The input whose memory output 0 takes over (the layer runs in place), or -1: the memory
  //! planner's decision, within what config.inplace_inputs allowed. -1 in format 1 plans.
  int inplace_input = -1;
};

//! One layer: a node of the optimized graph and its tactic per profile.
struct Layer {
  ir::Node node;
  //! Evaluated on the host whenever the context's shapes change (Shape/Size and the small
  //! integer computations that follow them); has no kernel.
  bool host = false;
  std::vector<TacticChoice> tactics;  //!< one per profile; empty when host

  //! A view (Reshape, Flatten, Squeeze, Unsqueeze, Identity on the device): no kernel, no
  //! memory of its own; its output aliases its input's memory. Marked by the view tactic in
  //! every profile.
  bool isView() const { return !host && !tactics.empty() && tactics[0].provider == kViewProvider; }
  static constexpr const char* kViewProvider = "view";
};

struct Profile {
  std::map<std::string, ProfileDims> inputs;  //!< every graph input, static ones too
  //! The values of each shape input (see OptimizationProfile::setShapeValues); every profile
  //! names the same inputs. Empty in plans before format 3.
  std::map<std::string, ProfileShapeValues> shape_values;
  //! Byte offset of each tensor in the activation block (-1: not an activation, e.g. I/O
  //! bound by the user, constants, host tensors), planned for the max shapes.
  std::vector<int64_t> offsets;
  uint64_t activation_bytes = 0;  //!< with lifetime reuse
  uint64_t no_reuse_bytes = 0;    //!< what it would be without reuse
  uint64_t workspace_bytes = 0;   //!< largest workspace of any chosen tactic
  //! The largest total of activations alive at one layer (after in-place and views): no
  //! placement needs less than this; activation_bytes is the placement's size. 0 (unknown) in
  //! format 1 plans.
  uint64_t activation_lower_bound = 0;
};

//! Weights that passes derived from model weights (conv+BatchNorm folding, transposes,
//! casts): `program` recomputes every derived constant from the model's initializers, so a
//! refit of any member recomputes the fused buffer.
struct WeightProgram {
  std::vector<ir::Node> nodes;  //!< evaluated in order on the CPU reference backend
};

struct Header {
  uint32_t format_version = 0;
  std::string kiln_version;
  DeviceKind device = DeviceKind::kCPU;
  std::string device_identity;  //!< backend::Device::identity() at build time
  std::string architecture;     //!< "x86_64", "sm_90"
  HardwareCompatibility hardware = HardwareCompatibility::kSAME_ARCHITECTURE;
  bool refittable = false;
  bool weights_stripped = false;
  bool version_compatible = false;
};

struct Plan {
  Header header;
  //! The optimized graph: tensors (with constant values unless weights are stripped: then
  //! initializers have no value but keep type and shape), inputs, outputs, symbols, opset.
  //! `graph.nodes` is unused (the layers hold the nodes).
  ir::Graph graph;
  std::vector<Layer> layers;
  std::vector<Profile> profiles;
  WeightProgram weight_program;
  std::vector<int> debug_tensors;  //!< tensor ids kept alive and readable
};

}  // namespace kiln::plan
