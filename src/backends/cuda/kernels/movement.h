// Launchers of kiln's data-movement CUDA kernels (movement.cu), called by the "cuda.movement"
// provider (cuda_movement.cpp). Kernels move bits in units of 1-16 bytes, so they serve every
// element type; plans are computed on the host when shapes change, launchers only launch.
// Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "backends/cuda/kernels/index_map.h"
#include "kiln/types.h"

namespace kiln::cuda {

// ---- strided copy: Transpose, Slice, Expand, Tile, DepthToSpace, SpaceToDepth ---------------

//! out[i] = in[base + sum_d coord_d(i) * stride_d], the output contiguous.
struct StridedCopyPlan {
  struct Level {
    size_t unit = 1;  //!< bytes per moved element
    bool use32 = true;
    IndexMap<int32_t, 1> m32{};
    IndexMap<int64_t, 1> m64{};
  };
  int64_t n = 0;       //!< output elements
  Level element;       //!< one element at a time
  Level wide;          //!< several contiguous elements at a time (unit up to 16 bytes)
  int64_t wide_n = 0;  //!< output units at the wide level
  //! Set when the copy is a batched matrix transpose: in [batch, rows, cols] -> out [batch, cols, rows].
  bool is_transpose = false;
  int64_t batch = 0, rows = 0, cols = 0;
};

//! Plans a strided copy from a map in elements (one operand: the input). Collapses the map.
StridedCopyPlan planStridedCopy(HostIndexMap map, size_t element_size);
//! `tiled`: use the shared-memory transpose when the plan is a transpose.
void launchStridedCopy(const StridedCopyPlan& plan, bool tiled, const void* in, void* out, cudaStream_t stream);

// ---- row copies: Concat, Split ----------------------------------------------------------------

//! `rows` rows of `row_bytes` from src (rows `src_pitch` bytes apart) to dst (`dst_pitch`).
struct RowCopy {
  const void* src = nullptr;
  void* dst = nullptr;
  int64_t src_pitch = 0;
  int64_t dst_pitch = 0;
  int64_t row_bytes = 0;
};
//! Copies every piece (same row count); pieces are batched several to a launch.
void launchRowCopies(const RowCopy* pieces, int count, int64_t rows, cudaStream_t stream);

// ---- Gather -----------------------------------------------------------------------------------

//! out[o, j, :] = data[o, indices[j], :] with `inner_bytes` per row; negative indices count
//! from the end; an index outside [-axis_dim, axis_dim) gives zeros (no error on the device).
void launchGather(const void* data, const void* indices, bool indices_int64, void* out, int64_t outer,
                  int64_t axis_dim, int64_t num_indices, int64_t inner_bytes, cudaStream_t stream);

// ---- Pad --------------------------------------------------------------------------------------

constexpr int kMaxPadRank = 8;
enum class PadMode : int32_t { kConstant = 0, kEdge = 1, kReflect = 2, kWrap = 3 };

struct PadPlan {
  int rank = 0;
  int64_t n = 0;
  size_t element_size = 4;
  PadMode mode = PadMode::kConstant;
  int64_t out_dims[kMaxPadRank] = {};
  int64_t in_dims[kMaxPadRank] = {};
  int64_t in_strides[kMaxPadRank] = {};
  int64_t before[kMaxPadRank] = {};  //!< may be negative (cropping)
};
//! `value`: the constant (one element, on the device) or null for zero.
void launchPad(const PadPlan& plan, const void* in, const void* value, void* out, cudaStream_t stream);

// ---- Resize (4-D NCHW, H and W) ------------------------------------------------------------------

enum class ResizeTransform : int32_t {
  kHalfPixel = 0, kAsymmetric = 1, kAlignCorners = 2, kPytorchHalfPixel = 3, kTfHalfPixelForNn = 4,
  kHalfPixelSymmetric = 5,
};
enum class NearestMode : int32_t { kRoundPreferFloor = 0, kRoundPreferCeil = 1, kFloor = 2, kCeil = 3 };

struct ResizePlan {
  bool linear = false;
  DataType type = DataType::kFLOAT;  //!< linear needs a floating-point type
  size_t element_size = 4;
  int64_t planes = 0;  //!< N * C
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  double scale_h = 1, scale_w = 1;
  ResizeTransform transform = ResizeTransform::kHalfPixel;
  NearestMode nearest = NearestMode::kRoundPreferFloor;
  bool exclude_outside = false;
};
void launchResize(const ResizePlan& plan, const void* in, void* out, cudaStream_t stream);

}  // namespace kiln::cuda
