// kiln's fused attention kernels (see attention.h).
//
// Flash kernel: one CTA of 4 warps per (batch, head, block of 64 query rows); each warp owns
// 16 rows. Q's fragments stay in registers; per tile of 64 keys, K and V are staged in shared
// memory (16-byte loads, zeros past the end), S = Q.K^T is computed with WMMA into float
// shared memory, two lanes per row apply scale, mask and causality and run the online softmax
// (running max and sum, in the log2 domain), P is written as T, the row's float accumulator O
// (shared memory) is rescaled and O += P.V with WMMA. Causal blocks stop at the last key any of
// their rows can see. Rows whose keys are all masked end with l = 0: zeros or NaN.
//
// Generic kernel: one warp per query row, lanes over the head dims, one key at a time.
#include <mma.h>

#include <cstring>
#include <type_traits>

#include "backends/cuda/kernels/attention.h"
#include "backends/cuda/kernels/compute_common.cuh"

namespace kiln::cuda {
namespace {

using namespace nvcuda;

constexpr float kLog2e = 1.4426950408889634f;

//! The mask's contribution to a scaled score in the log2 domain: 0 to keep it as is, -inf to
//! mask it.
template <typename T>
__device__ __forceinline__ float maskTerm(const AttentionParams& p, int64_t index) {
  switch (p.mask_kind) {
    case AttentionMaskKind::kAdditive: return toFloat(static_cast<const T*>(p.mask)[index]) * kLog2e;
    case AttentionMaskKind::kAdditiveFloat: return static_cast<const float*>(p.mask)[index] * kLog2e;
    case AttentionMaskKind::kBool: return static_cast<const uint8_t*>(p.mask)[index] ? 0.0f : -INFINITY;
    default: return 0.0f;
  }
}

// ---- flash (tensor cores) ----------------------------------------------------------------------

constexpr int kBlockM = 64, kBlockN = 64, kFlashThreads = 128;

//! Shared-memory layout for head size D. Rows are padded (by 16 bytes) against bank conflicts;
//! every WMMA pointer stays 32-byte aligned.
template <int D>
struct FlashSmem {
  static constexpr int kLdT = D + 8;        // elements per Q/K/V row
  static constexpr int kLdS = kBlockN + 4;  // floats per score row
  static constexpr int kLdP = kBlockN + 8;  // elements per P row
  static constexpr int kLdO = D + 4;        // floats per accumulator row
  static constexpr size_t kQ = 0;
  static constexpr size_t kK = kQ + size_t{kBlockM} * kLdT * 2;
  static constexpr size_t kV = kK + size_t{kBlockN} * kLdT * 2;
  static constexpr size_t kS = kV + size_t{kBlockN} * kLdT * 2;
  static constexpr size_t kP = kS + size_t{kBlockM} * kLdS * 4;
  static constexpr size_t kO = kP + size_t{kBlockM} * kLdP * 2;
  static constexpr size_t kBytes = kO + size_t{kBlockM} * kLdO * 4;
};

//! Copies `rows` rows of D elements (from row `first` of a tensor whose rows are `stride`
//! apart) into shared memory with leading dimension ld; rows at or past `limit` become zeros.
template <typename T, int D>
__device__ __forceinline__ void stageRows(T* dst, int ld, const T* src, int64_t stride, int first, int limit,
                                          int rows) {
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  for (int c = threadIdx.x; c < rows * kChunks; c += kFlashThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    uint4 value = make_uint4(0, 0, 0, 0);
    if (first + r < limit) value = *reinterpret_cast<const uint4*>(src + (first + r) * stride + col);
    *reinterpret_cast<uint4*>(dst + r * ld + col) = value;
  }
}

template <typename T, int D>
__global__ void __launch_bounds__(kFlashThreads) flashAttention(AttentionParams p) {
  using L = FlashSmem<D>;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem + L::kQ);
  T* ks = reinterpret_cast<T*>(smem + L::kK);
  T* vs = reinterpret_cast<T*>(smem + L::kV);
  float* ss = reinterpret_cast<float*>(smem + L::kS);
  T* ps = reinterpret_cast<T*>(smem + L::kP);
  float* os = reinterpret_cast<float*>(smem + L::kO);

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int b = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
  const int q0 = blockIdx.y * kBlockM;
  const T* qg = static_cast<const T*>(p.q) + b * p.q_stride[0] + h * p.q_stride[1];
  const T* kg = static_cast<const T*>(p.k) + b * p.k_stride[0] + h * p.k_stride[1];
  const T* vg = static_cast<const T*>(p.v) + b * p.v_stride[0] + h * p.v_stride[1];
  const int64_t mask_base = b * p.mask_stride[0] + h * p.mask_stride[1];

  stageRows<T, D>(qs, L::kLdT, qg, p.q_stride[2], q0, p.q_len, kBlockM);
  for (int i = threadIdx.x; i < kBlockM * L::kLdO; i += kFlashThreads) os[i] = 0.0f;
  __syncthreads();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> qf[D / 16];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) wmma::load_matrix_sync(qf[kk], qs + warp * 16 * L::kLdT + kk * 16, L::kLdT);

  // Two lanes per row: lane r and r + 16 share row r of the warp's 16, even / odd columns.
  const int row = lane & 15, half = lane >> 4;
  const int qi = q0 + warp * 16 + row;
  const int shift = p.kv_len - p.q_len;  // causal: query i sees keys j <= i + shift
  float* srow = ss + (warp * 16 + row) * L::kLdS;
  T* prow = ps + (warp * 16 + row) * L::kLdP;
  float* orow = os + (warp * 16 + row) * L::kLdO;
  const float scale2 = p.scale * kLog2e;
  float m = -INFINITY, l = 0.0f;

  const int kv_end = p.causal ? min(p.kv_len, q0 + kBlockM + shift) : p.kv_len;
  for (int k0 = 0; k0 < kv_end; k0 += kBlockN) {
    __syncthreads();  // every warp is done with the previous K and V tiles
    stageRows<T, D>(ks, L::kLdT, kg, p.k_stride[2], k0, p.kv_len, kBlockN);
    stageRows<T, D>(vs, L::kLdT, vg, p.v_stride[2], k0, p.kv_len, kBlockN);
    __syncthreads();

#pragma unroll
    for (int n = 0; n < kBlockN / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
#pragma unroll
      for (int kk = 0; kk < D / 16; ++kk) {
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> kf;  // K rows are K^T's columns
        wmma::load_matrix_sync(kf, ks + n * 16 * L::kLdT + kk * 16, L::kLdT);
        wmma::mma_sync(acc, qf[kk], kf, acc);
      }
      wmma::store_matrix_sync(ss + warp * 16 * L::kLdS + n * 16, acc, L::kLdS, wmma::mem_row_major);
    }
    __syncwarp();

    // Online softmax over this row's 32 columns of the tile (log2 domain).
    float x[kBlockN / 2];
    float tile_max = -INFINITY;
#pragma unroll
    for (int c = 0; c < kBlockN / 2; ++c) {
      const int col = 2 * c + half, j = k0 + col;
      bool keep = j < p.kv_len && qi < p.q_len && (!p.causal || j <= qi + shift);
      float s = srow[col] * scale2;
      if (keep && p.mask_kind != AttentionMaskKind::kNone)
        s += maskTerm<T>(p, mask_base + qi * p.mask_stride[2] + j * p.mask_stride[3]);
      x[c] = keep ? s : -INFINITY;
      tile_max = fmaxf(tile_max, x[c]);
    }
    tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, 16));
    const float m_new = fmaxf(m, tile_max);
    float alpha = 1.0f, sum = 0.0f;
    if (m_new == -INFINITY) {  // nothing seen yet in this row
#pragma unroll
      for (int c = 0; c < kBlockN / 2; ++c) prow[2 * c + half] = fromFloat<T>(0.0f);
    } else {
      alpha = exp2f(m - m_new);
#pragma unroll
      for (int c = 0; c < kBlockN / 2; ++c) {
        const float e = exp2f(x[c] - m_new);
        const T rounded = fromFloat<T>(e);
        sum += toFloat(rounded);  // the sum matches the P that multiplies V
        prow[2 * c + half] = rounded;
      }
    }
    sum += __shfl_xor_sync(0xffffffffu, sum, 16);
    l = l * alpha + sum;
    m = m_new;
#pragma unroll 8
    for (int c = half; c < D; c += 2) orow[c] *= alpha;
    __syncwarp();

#pragma unroll
    for (int n = 0; n < D / 16; ++n) {
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      float* otile = os + warp * 16 * L::kLdO + n * 16;
      wmma::load_matrix_sync(acc, otile, L::kLdO, wmma::mem_row_major);
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> pf;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> vf;
        wmma::load_matrix_sync(pf, ps + warp * 16 * L::kLdP + kk * 16, L::kLdP);
        wmma::load_matrix_sync(vf, vs + kk * 16 * L::kLdT + n * 16, L::kLdT);
        wmma::mma_sync(acc, pf, vf, acc);
      }
      wmma::store_matrix_sync(otile, acc, L::kLdO, wmma::mem_row_major);
    }
    __syncwarp();
  }

  // Each row's 1 / l (0 or NaN for a row with every key masked, whose O is 0) goes where the
  // warp's scores were, then the warp writes its 16 rows with consecutive lanes on consecutive
  // columns.
  float* inv = ss + warp * 16 * L::kLdS;
  if (half == 0) inv[row] = l > 0.0f ? 1.0f / l : (p.zero_masked_rows ? 0.0f : __int_as_float(0x7fc00000));
  __syncwarp();
  T* out = static_cast<T*>(p.out) + b * p.out_stride[0] + h * p.out_stride[1];
  for (int idx = lane; idx < 16 * D; idx += 32) {
    const int r = idx / D, c = idx % D, i = q0 + warp * 16 + r;
    if (i >= p.q_len) break;  // rows only grow with idx
    out[i * p.out_stride[2] + c * p.out_stride[3]] = fromFloat<T>(os[(warp * 16 + r) * L::kLdO + c] * inv[r]);
  }
}

template <typename T, int D>
cudaError_t allowFlashSmem() {
  return cudaFuncSetAttribute(flashAttention<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(FlashSmem<D>::kBytes));
}

template <typename T, int D>
void launchFlash(const AttentionParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.batch * p.heads), static_cast<unsigned>((p.q_len + kBlockM - 1) / kBlockM));
  flashAttention<T, D><<<grid, kFlashThreads, FlashSmem<D>::kBytes, stream>>>(p);
}

// ---- flash (mma.sync, registers) ----------------------------------------------------------------

// FlashAttention-2 style: one CTA of 4 warps per (batch, head, block of 64 query rows), each
// warp owning 16 rows. Q's A fragments, the scores S and the accumulator O live in registers
// (mma.sync m16n8k16, float accumulation); the score accumulators of two adjacent 8-key tiles
// are, rounded to T, exactly the A fragment of P for P.V, so P never goes through shared
// memory. K and V tiles of 64 keys are double-buffered in shared memory with cp.async (zero
// fill past the end) and read with ldmatrix (V transposed). Each thread holds rows g and g + 8
// of its warp's 16 (g = lane / 4) and two adjacent columns per 8-column tile; row maxima are
// reduced over the 4 lanes of a quad, row sums only once at the end.

__device__ __forceinline__ uint32_t sharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

//! 16 bytes from global to shared memory, asynchronously; zeros when !valid (src unread).
__device__ __forceinline__ void copyAsync16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sharedAddress(dst)), "l"(src),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void commitAsync() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void waitAsyncAll() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void loadMatrixX4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(p)));
}
__device__ __forceinline__ void loadMatrixX4Transposed(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(sharedAddress(p)));
}

//! c += a.b for one m16n8k16 tile (row-major A, column-major B, float accumulation).
template <typename T>
__device__ __forceinline__ void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  if constexpr (std::is_same_v<T, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

//! Rounds (lo, hi) to a pair of T in one 32-bit register (lo in the low half) and adds the
//! rounded values to `sum`.
template <typename T>
__device__ __forceinline__ uint32_t packPair(float lo, float hi, float& sum) {
  uint32_t bits;
  if constexpr (std::is_same_v<T, __half>) {
    const __half2 v = __floats2half2_rn(lo, hi);
    sum += __low2float(v) + __high2float(v);
    memcpy(&bits, &v, 4);
  } else {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    sum += __low2float(v) + __high2float(v);
    memcpy(&bits, &v, 4);
  }
  return bits;
}

template <int D>
struct MmaSmem {
  static constexpr int kLd = D + 8;  // elements per row: 16 bytes of padding keep ldmatrix conflict-free
  static constexpr size_t kTile = size_t{kBlockN} * kLd;
  // Q (64 rows, reused for the output), then two K and two V tiles.
  static constexpr size_t kBytes = (size_t{kBlockM} * kLd + 4 * kTile) * 2;
};

//! Issues the asynchronous copy of `rows` rows of D elements, from row `first` of a tensor
//! whose rows are `stride` apart, to shared memory; rows at or past `limit` become zeros.
template <typename T, int D>
__device__ __forceinline__ void stageRowsAsync(T* dst, const T* src, int64_t stride, int first, int limit, int rows) {
  constexpr int kChunks = D / 8, kLd = MmaSmem<D>::kLd;
  for (int c = threadIdx.x; c < rows * kChunks; c += kFlashThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const bool valid = first + r < limit;
    copyAsync16(dst + r * kLd + col, valid ? src + (first + r) * stride + col : src, valid);
  }
}

//! mk[n][e] = the mask's term (log2 domain) for row qi[e / 2], key j0 + 8n + e % 2, with
//! rows and keys clamped into the mask; zeros without a mask. One branch per tile, then
//! independent loads.
template <typename T, int kTilesN>
__device__ __forceinline__ void loadMaskTerms(const AttentionParams& p, int64_t mask_base, const int (&qi)[2], int j0,
                                              float (&mk)[kTilesN][4]) {
  int64_t row[2], col[kTilesN][2];
#pragma unroll
  for (int r = 0; r < 2; ++r) row[r] = mask_base + min(qi[r], p.q_len - 1) * p.mask_stride[2];
#pragma unroll
  for (int n = 0; n < kTilesN; ++n)
#pragma unroll
    for (int c = 0; c < 2; ++c) col[n][c] = min(j0 + n * 8 + c, p.kv_len - 1) * p.mask_stride[3];
  switch (p.mask_kind) {
    case AttentionMaskKind::kAdditive:
#pragma unroll
      for (int n = 0; n < kTilesN; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          mk[n][e] = toFloat(static_cast<const T*>(p.mask)[row[e >> 1] + col[n][e & 1]]) * kLog2e;
      break;
    case AttentionMaskKind::kAdditiveFloat:
#pragma unroll
      for (int n = 0; n < kTilesN; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e) mk[n][e] = static_cast<const float*>(p.mask)[row[e >> 1] + col[n][e & 1]] * kLog2e;
      break;
    case AttentionMaskKind::kBool:
#pragma unroll
      for (int n = 0; n < kTilesN; ++n)
#pragma unroll
        for (int e = 0; e < 4; ++e)
          mk[n][e] = static_cast<const uint8_t*>(p.mask)[row[e >> 1] + col[n][e & 1]] ? 0.0f : -INFINITY;
      break;
    default:
#pragma unroll
      for (int n = 0; n < kTilesN; ++n) mk[n][0] = mk[n][1] = mk[n][2] = mk[n][3] = 0.0f;
  }
}

//! Blocks per SM the register budget is set for: 4 at head size 64 (128 registers a thread).
template <int D>
constexpr int kMmaMinBlocks = D == 64 ? 4 : 1;

template <typename T, int D>
__global__ void __launch_bounds__(kFlashThreads, kMmaMinBlocks<D>) flashAttentionMma(AttentionParams p) {
  constexpr int kLd = MmaSmem<D>::kLd, kTilesN = kBlockN / 8, kTilesD = D / 8;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);
  T* ks = qs + kBlockM * kLd;         // two K tiles
  T* vs = ks + 2 * MmaSmem<D>::kTile;  // two V tiles

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int b = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
  const int q0 = blockIdx.y * kBlockM;
  const T* qg = static_cast<const T*>(p.q) + b * p.q_stride[0] + h * p.q_stride[1];
  const T* kg = static_cast<const T*>(p.k) + b * p.k_stride[0] + h * p.k_stride[1];
  const T* vg = static_cast<const T*>(p.v) + b * p.v_stride[0] + h * p.v_stride[1];
  const int64_t mask_base = b * p.mask_stride[0] + h * p.mask_stride[1];
  const int shift = p.kv_len - p.q_len;  // causal: query i sees keys j <= i + shift
  const int kv_end = p.causal ? min(p.kv_len, q0 + kBlockM + shift) : p.kv_len;
  const int tiles = kv_end > 0 ? (kv_end + kBlockN - 1) / kBlockN : 0;

  stageRowsAsync<T, D>(qs, qg, p.q_stride[2], q0, p.q_len, kBlockM);
  if (tiles > 0) {
    stageRowsAsync<T, D>(ks, kg, p.k_stride[2], 0, p.kv_len, kBlockN);
    stageRowsAsync<T, D>(vs, vg, p.v_stride[2], 0, p.kv_len, kBlockN);
  }
  commitAsync();
  waitAsyncAll();
  __syncthreads();

  uint32_t qf[D / 16][4];
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk)
    loadMatrixX4(qf[kk], qs + (warp * 16 + (lane & 15)) * kLd + kk * 16 + (lane >> 4) * 8);

  float o[kTilesD][4];
#pragma unroll
  for (int d = 0; d < kTilesD; ++d) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const int qi[2] = {q0 + warp * 16 + g, q0 + warp * 16 + g + 8};
  const float scale2 = p.scale * kLog2e;

  for (int it = 0; it < tiles; ++it) {
    const int k0 = it * kBlockN;
    const T* kt = ks + (it & 1) * MmaSmem<D>::kTile;
    const T* vt = vs + (it & 1) * MmaSmem<D>::kTile;
    if (it + 1 < tiles) {  // the other buffers were released by the barrier ending the last tile
      stageRowsAsync<T, D>(ks + ((it + 1) & 1) * MmaSmem<D>::kTile, kg, p.k_stride[2], k0 + kBlockN, p.kv_len,
                           kBlockN);
      stageRowsAsync<T, D>(vs + ((it + 1) & 1) * MmaSmem<D>::kTile, vg, p.v_stride[2], k0 + kBlockN, p.kv_len,
                           kBlockN);
    }
    commitAsync();

    // The mask's terms for this thread's scores, loaded before the products so that their
    // latency hides behind them (indices clamped into the tensor; `keep` below drops the rest).
    float mk[kTilesN][4];
    loadMaskTerms<T, kTilesN>(p, mask_base, qi, k0 + 2 * t, mk);

    float s[kTilesN][4];
#pragma unroll
    for (int n = 0; n < kTilesN; ++n) {
      s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
      for (int kk = 0; kk < D / 32; ++kk) {
        uint32_t kb[4];  // keys 8n..8n+7; head dims 32kk + {0, 8, 16, 24} + 0..7
        loadMatrixX4(kb, kt + (n * 8 + (lane & 7)) * kLd + kk * 32 + (lane >> 3) * 8);
        mma16816<T>(s[n], qf[2 * kk], kb[0], kb[1]);
        mma16816<T>(s[n], qf[2 * kk + 1], kb[2], kb[3]);
      }
    }

    // Scale, mask, causality (log2 domain); element e of tile n is row qi[e / 2], key
    // k0 + 8n + 2t + e % 2.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kTilesN; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = qi[e >> 1], j = k0 + n * 8 + 2 * t + (e & 1);
        const bool keep = j < p.kv_len && i < p.q_len && (!p.causal || j <= i + shift);
        s[n][e] = keep ? s[n][e] * scale2 + mk[n][e] : -INFINITY;
        tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[n][e]);
      }
    float alpha[2], base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 1));
      tile_max[r] = fmaxf(tile_max[r], __shfl_xor_sync(0xffffffffu, tile_max[r], 2));
      const float m_new = fmaxf(m[r], tile_max[r]);
      base[r] = m_new == -INFINITY ? 0.0f : m_new;  // nothing seen yet: every p is 0
      alpha[r] = exp2f(m[r] - base[r]);
      m[r] = m_new;
    }

    // P = exp2(S - m), rounded to T, as the A fragments of keys 16kk..16kk+15.
    uint32_t pa[kBlockN / 16][4];
    float sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int kk = 0; kk < kBlockN / 16; ++kk)
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const float* tile = s[2 * kk + half];
        pa[kk][2 * half] = packPair<T>(exp2f(tile[0] - base[0]), exp2f(tile[1] - base[0]), sum[0]);
        pa[kk][2 * half + 1] = packPair<T>(exp2f(tile[2] - base[1]), exp2f(tile[3] - base[1]), sum[1]);
      }
    l[0] = l[0] * alpha[0] + sum[0];
    l[1] = l[1] * alpha[1] + sum[1];
#pragma unroll
    for (int d = 0; d < kTilesD; ++d) {
      o[d][0] *= alpha[0], o[d][1] *= alpha[0];
      o[d][2] *= alpha[1], o[d][3] *= alpha[1];
    }

#pragma unroll
    for (int d = 0; d < D / 16; ++d)
#pragma unroll
      for (int kk = 0; kk < kBlockN / 16; ++kk) {
        uint32_t vb[4];  // keys 16kk + {0, 8} + 0..7 for head dims 16d + {0, 8} + 0..7
        loadMatrixX4Transposed(vb, vt + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * kLd + d * 16 + (lane >> 4) * 8);
        mma16816<T>(o[2 * d], pa[kk], vb[0], vb[1]);
        mma16816<T>(o[2 * d + 1], pa[kk], vb[2], vb[3]);
      }

    waitAsyncAll();
    __syncthreads();
  }

  // Row sums over the quad; 1 / l is 0 or NaN for a row with every key masked (its O is 0).
  float inv[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 1);
    l[r] += __shfl_xor_sync(0xffffffffu, l[r], 2);
    inv[r] = l[r] > 0.0f ? 1.0f / l[r] : (p.zero_masked_rows ? 0.0f : __int_as_float(0x7fc00000));
  }
  // The warp's 16 rows go through its own rows of the Q tile, then out with 16-byte stores
  // where the output allows them.
  T* os = qs + warp * 16 * kLd;
  float unused = 0.0f;
#pragma unroll
  for (int d = 0; d < kTilesD; ++d) {
    const uint32_t top = packPair<T>(o[d][0] * inv[0], o[d][1] * inv[0], unused);
    const uint32_t bottom = packPair<T>(o[d][2] * inv[1], o[d][3] * inv[1], unused);
    memcpy(os + g * kLd + d * 8 + 2 * t, &top, 4);
    memcpy(os + (g + 8) * kLd + d * 8 + 2 * t, &bottom, 4);
  }
  __syncwarp();
  T* out = static_cast<T*>(p.out) + b * p.out_stride[0] + h * p.out_stride[1];
  const bool vector = p.out_stride[3] == 1 && p.out_stride[2] % 8 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0;
  if (vector) {
    for (int c = lane; c < 16 * kTilesD; c += 32) {
      const int r = c / kTilesD, col = (c % kTilesD) * 8, i = q0 + warp * 16 + r;
      if (i >= p.q_len) break;  // rows only grow with c
      *reinterpret_cast<uint4*>(out + i * p.out_stride[2] + col) = *reinterpret_cast<const uint4*>(os + r * kLd + col);
    }
  } else {
    for (int idx = lane; idx < 16 * D; idx += 32) {
      const int r = idx / D, c = idx % D, i = q0 + warp * 16 + r;
      if (i >= p.q_len) break;
      out[i * p.out_stride[2] + c * p.out_stride[3]] = os[r * kLd + c];
    }
  }
}

template <typename T, int D>
cudaError_t allowFlashMmaSmem() {
  return cudaFuncSetAttribute(flashAttentionMma<T, D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(MmaSmem<D>::kBytes));
}

template <typename T, int D>
void launchFlashMma(const AttentionParams& p, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>(p.batch * p.heads), static_cast<unsigned>((p.q_len + kBlockM - 1) / kBlockM));
  flashAttentionMma<T, D><<<grid, kFlashThreads, MmaSmem<D>::kBytes, stream>>>(p);
}

// ---- generic --------------------------------------------------------------------------------

constexpr int kGenericWarps = 4, kMaxPerLane = 8;  // head sizes up to 32 * 8 = 256

template <typename T>
__global__ void __launch_bounds__(kGenericWarps * 32) genericAttention(AttentionParams p) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kGenericWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= static_cast<int64_t>(p.batch) * p.heads * p.q_len) return;
  const int i = static_cast<int>(row % p.q_len);
  const int bh = static_cast<int>(row / p.q_len), h = bh % p.heads, b = bh / p.heads;
  const T* qg = static_cast<const T*>(p.q) + b * p.q_stride[0] + h * p.q_stride[1] + i * p.q_stride[2];
  const T* kg = static_cast<const T*>(p.k) + b * p.k_stride[0] + h * p.k_stride[1];
  const T* vg = static_cast<const T*>(p.v) + b * p.v_stride[0] + h * p.v_stride[1];
  const int64_t mask_row = b * p.mask_stride[0] + h * p.mask_stride[1] + i * p.mask_stride[2];

  float q[kMaxPerLane], o[kMaxPerLane];
#pragma unroll
  for (int t = 0; t < kMaxPerLane; ++t) {
    const int d = lane + 32 * t;
    q[t] = d < p.head_dim ? toFloat(qg[d * p.q_stride[3]]) : 0.0f;
    o[t] = 0.0f;
  }
  const float scale2 = p.scale * kLog2e;
  const int kv_end = p.causal ? min(p.kv_len, i + p.kv_len - p.q_len + 1) : p.kv_len;
  float m = -INFINITY, l = 0.0f;
  for (int j = 0; j < kv_end; ++j) {
    const T* kj = kg + j * p.k_stride[2];
    float dot = 0.0f;
#pragma unroll
    for (int t = 0; t < kMaxPerLane; ++t) {
      const int d = lane + 32 * t;
      if (d < p.head_dim) dot += q[t] * toFloat(kj[d * p.k_stride[3]]);
    }
    float s = warpSum(dot) * scale2;
    if (p.mask_kind != AttentionMaskKind::kNone) s += maskTerm<T>(p, mask_row + j * p.mask_stride[3]);
    if (s == -INFINITY) continue;
    const float m_new = fmaxf(m, s);
    const float alpha = exp2f(m - m_new), e = exp2f(s - m_new);
    l = l * alpha + e;
    m = m_new;
    const T* vj = vg + j * p.v_stride[2];
#pragma unroll
    for (int t = 0; t < kMaxPerLane; ++t) {
      const int d = lane + 32 * t;
      if (d < p.value_dim) o[t] = o[t] * alpha + e * toFloat(vj[d * p.v_stride[3]]);
    }
  }
  const float inv = l > 0.0f ? 1.0f / l : (p.zero_masked_rows ? 0.0f : __int_as_float(0x7fc00000));
  T* out = static_cast<T*>(p.out) + b * p.out_stride[0] + h * p.out_stride[1] + i * p.out_stride[2];
#pragma unroll
  for (int t = 0; t < kMaxPerLane; ++t) {
    const int d = lane + 32 * t;
    if (d < p.value_dim) out[d * p.out_stride[3]] = fromFloat<T>(l > 0.0f ? o[t] * inv : inv);
  }
}

}  // namespace

bool flashAttentionAddressable(const AttentionParams& p) {
  for (const void* ptr : {p.q, p.k, p.v})
    if (reinterpret_cast<uintptr_t>(ptr) % 16 != 0) return false;
  for (const int64_t* s : {p.q_stride, p.k_stride, p.v_stride})
    if (s[3] != 1 || s[0] % 8 || s[1] % 8 || s[2] % 8) return false;
  return true;
}

cudaError_t prepareFlashAttention(DataType type, int head_dim) {
  const bool bf16 = type == DataType::kBF16;
  if (head_dim == 64) return bf16 ? allowFlashSmem<__nv_bfloat16, 64>() : allowFlashSmem<__half, 64>();
  return bf16 ? allowFlashSmem<__nv_bfloat16, 128>() : allowFlashSmem<__half, 128>();
}

cudaError_t prepareFlashMmaAttention(DataType type, int head_dim) {
  const bool bf16 = type == DataType::kBF16;
  if (head_dim == 64) return bf16 ? allowFlashMmaSmem<__nv_bfloat16, 64>() : allowFlashMmaSmem<__half, 64>();
  return bf16 ? allowFlashMmaSmem<__nv_bfloat16, 128>() : allowFlashMmaSmem<__half, 128>();
}

void launchFlashMmaAttention(DataType type, const AttentionParams& p, cudaStream_t stream) {
  const bool bf16 = type == DataType::kBF16;
  if (p.head_dim == 64)
    return bf16 ? launchFlashMma<__nv_bfloat16, 64>(p, stream) : launchFlashMma<__half, 64>(p, stream);
  return bf16 ? launchFlashMma<__nv_bfloat16, 128>(p, stream) : launchFlashMma<__half, 128>(p, stream);
}

void launchFlashAttention(DataType type, const AttentionParams& p, cudaStream_t stream) {
  const bool bf16 = type == DataType::kBF16;
  if (p.head_dim == 64) return bf16 ? launchFlash<__nv_bfloat16, 64>(p, stream) : launchFlash<__half, 64>(p, stream);
  return bf16 ? launchFlash<__nv_bfloat16, 128>(p, stream) : launchFlash<__half, 128>(p, stream);
}

void launchGenericAttention(DataType type, const AttentionParams& p, cudaStream_t stream) {
  const int64_t rows = static_cast<int64_t>(p.batch) * p.heads * p.q_len;
  const unsigned blocks = static_cast<unsigned>((rows + kGenericWarps - 1) / kGenericWarps);
  dispatchCompute(type, [&]<typename T>() { genericAttention<T><<<blocks, kGenericWarps * 32, 0, stream>>>(p); });
}

}  // namespace kiln::cuda
