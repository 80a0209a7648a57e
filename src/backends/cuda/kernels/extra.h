// Launchers of the "cuda.extra" kernels (extra.cu), called by cuda_extra.cpp: Mod, Xor,
// BitShift and the variadic Sum / Mean / Min / Max with numpy broadcasting. Shapes and
// small parameters come from the host; launchers only launch. Plain C++17.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "kiln/types.h"

namespace kiln::cuda {

constexpr int kExtraMaxInputs = 8;
constexpr int kExtraMaxRank = 8;

//! Output dims (row-major) and, per input, the stride of each output coordinate (0 broadcasts).
struct ExtraBroadcast {
  int rank = 0;
  int inputs = 0;
  int64_t dims[kExtraMaxRank];
  int64_t strides[kExtraMaxInputs][kExtraMaxRank];
};

enum class ExtraOp : int { kMod, kFmod, kXor, kShiftLeft, kShiftRight, kSum, kMean, kMin, kMax };

//! out[i] = fold of every input at the broadcast position of i, as the reference computes it
//! (Sum / Mean accumulate in double for floats and int64 / uint64 for integers).
void launchExtraElementwise(ExtraOp op, DataType type, const ExtraBroadcast& map, const void* const* inputs, void* out,
                            int64_t n, cudaStream_t stream);

//! 2-D NCHW ConvTranspose geometry (resolved on the host as the reference resolves it).
struct ConvTransposeGeometry {
  int64_t batch = 0, channels = 0, in_h = 0, in_w = 0;
  int64_t out_channels = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
  int64_t group = 1;
};

//! ConvTranspose by gather, one thread per output element, accumulating in double (fp32) or float.
//! x [N, C, H, W], w [C, OC / group, KH, KW], bias [OC] (may be null), y [N, OC, OH, OW].
void launchConvTranspose(DataType type, const ConvTransposeGeometry& g, const void* x, const void* w, const void* bias,
                         void* y, cudaStream_t stream);

constexpr int kEinsumMaxInputs = 3;
constexpr int kEinsumMaxLabels = 12;

//! An Einsum as loops: the first `out_labels` loop labels index the output (row-major), the
//! others are summed; strides[i][x] is input i's step per step of loop label x.
struct EinsumLoops {
  int inputs = 0;
  int out_labels = 0;
  int labels = 0;
  int64_t extent[kEinsumMaxLabels];
  int64_t strides[kEinsumMaxInputs][kEinsumMaxLabels];
};

//! Einsum, one thread per output element summing the products over the summed labels in
//! double (fp32) or float (fp16 / bf16).
void launchEinsum(DataType type, const EinsumLoops& loops, const void* const* inputs, void* out, int64_t n,
                  cudaStream_t stream);

//! LRN over the channels of x viewed as [batch, channels, pixels] (sums in double).
void launchLrn(DataType type, const void* x, void* y, int64_t batch, int64_t channels, int64_t pixels, int64_t size,
               double alpha, double beta, double bias, cudaStream_t stream);

//! Hardmax along the middle axis of [outer, length, inner]: 1 at the first largest, 0 elsewhere.
void launchHardmax(DataType type, const void* x, void* y, int64_t outer, int64_t length, int64_t inner,
                   cudaStream_t stream);

//! Statistics slots: element j of slot s is at sum over kept dims (coords of s) * kept_strides
//! plus sum over reduced dims (coords of j) * reduced_strides (row-major coordinates).
struct SlotMap {
  int kept_rank = 0, reduced_rank = 0;
  int64_t kept_dims[kExtraMaxRank], kept_strides[kExtraMaxRank];
  int64_t reduced_dims[kExtraMaxRank], reduced_strides[kExtraMaxRank];
  int64_t slots = 0, count = 0;  //!< number of slots, elements per slot
};

//! MeanVarianceNormalization: y = (x - mean) / (sqrt(var) + 1e-9) per slot, in double.
void launchMeanVarianceNormalization(DataType type, const SlotMap& map, const void* x, void* y, cudaStream_t stream);

//! GroupNormalization of x [batch, channels, pixels] in `groups` groups; scale / bias have
//! `channels` values (or `groups` when per_group), of x's type. In double, as the reference.
void launchGroupNormalization(DataType type, const void* x, const void* scale, const void* bias, void* y, int64_t batch,
                              int64_t channels, int64_t pixels, int64_t groups, bool per_group, double epsilon,
                              cudaStream_t stream);

//! 2-D LpPool window (resolved on the host as the reference resolves it).
struct LpPoolGeometry {
  int64_t planes = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
};

//! LpPool: y = (sum over the window's inside positions of |x|^p)^(1/p), in double.
void launchLpPool(DataType type, const LpPoolGeometry& g, double p, const void* x, void* y, cudaStream_t stream);

//! GlobalLpPool over each of `planes` planes of `pixels` values, in double.
void launchGlobalLpPool(DataType type, int64_t planes, int64_t pixels, double p, const void* x, void* y,
                        cudaStream_t stream);

//! MaxUnpool (y already zeroed by the caller: `out_numel` elements of `element_size` bytes): writes x[i] at
//! the position of flat index indices[i] of the unpooled shape, re-flattened into y's shape
//! (both given as `rank` dims). Indices out of range are skipped.
void launchMaxUnpool(size_t element_size, const void* x, const int64_t* indices, void* y, int64_t n, int64_t out_numel,
                     int rank, const int64_t* unpooled_dims, const int64_t* out_dims, cudaStream_t stream);

}  // namespace kiln::cuda
