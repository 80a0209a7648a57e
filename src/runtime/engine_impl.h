// The inside of Engine and ExecutionContext, shared by the runtime's files.
#pragma once

#include <atomic>
#include <memory>
#include <vector>

#include "backends/backend.h"
#include "kiln/context.h"
#include "kiln/engine.h"
#include "plan/plan.h"

namespace kiln {

struct Engine::Impl {
  plan::Plan plan;
  backend::Device* device = nullptr;
  //! [profile][layer]: the prototype kernels, holding the weights; null for host layers.
  //! Profiles choosing the same tactic share one. Contexts run their own clones (or the
  //! prototype itself where clone() says it keeps no per-shape state); refit replaces
  //! prototypes, and contexts re-clone when `weights_generation` moves.
  std::vector<std::vector<std::shared_ptr<backend::Kernel>>> kernels;
  //! Per tensor id: the device copy of a constant that device layers read (else nullptr).
  std::vector<void*> constants;
  size_t constant_bytes = 0;
  std::vector<int> io;  //!< graph inputs, then outputs
  std::atomic<uint32_t> next_context_id{1};
  //! Bumped by every refit: contexts then drop cached pointers and CUDA graphs.
  std::atomic<uint64_t> weights_generation{0};

  Impl() = default;
  Impl(const Impl&) = delete;
  ~Impl();

  int tensorId(const std::string& name) const;  //!< -1 if none
  int profileFor(const std::string& input, int32_t profile) const;
  //! Instantiates every kernel and uploads constants. Throws (and frees) on failure.
  void instantiate();
  //! Uploads every constant read by a device layer; returns the new table.
  std::vector<void*> uploadConstants(size_t* bytes) const;
  void freeConstants(std::vector<void*>& table) const;
  //! A kernel for `layer` (index) of `profile`, with the plan's current constants.
  std::shared_ptr<backend::Kernel> makeKernel(size_t layer, size_t profile) const;
};

}  // namespace kiln
