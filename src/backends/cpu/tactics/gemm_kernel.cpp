#include "backends/cpu/tactics/gemm_kernel.h"

#include <algorithm>
#include <cstring>

namespace kiln::cpu::tactics {
namespace {

// GCC vector extensions (not intrinsics): 8 floats, split into SSE halves by the default
// target and one AVX register by the x86-64-v3 clone below.
typedef float V8 __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KILN_GEMM_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define KILN_GEMM_CLONES
#endif

int64_t roundUp(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

//! C[mr x nr] (+)= A panel [kc][MR] * B panel [kc][NR]. Accumulators stay in registers; the
//! edge tiles go through a small stack buffer.
template <int MR, int NR>
[[gnu::always_inline]] inline void microKernel(int64_t kc, const float* __restrict a, const float* __restrict b,
                                               float* __restrict c, int64_t ldc, int mr, int nr, bool accumulate) {
  constexpr int NV = NR / 8;
  V8 acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V8{0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
    V8 bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) std::memcpy(&bv[v], b + 8 * v, sizeof(V8));
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const float s = a[i];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += s * bv[v];
    }
  }
  if (mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* dst = c + i * ldc + 8 * v;
        V8 out = acc[i][v];
        if (accumulate) {
          V8 old;
          std::memcpy(&old, dst, sizeof(V8));
          out += old;
        }
        std::memcpy(dst, &out, sizeof(V8));
      }
    }
    return;
  }
  float tile[MR][NR];
  std::memcpy(tile, acc, sizeof tile);
  for (int i = 0; i < mr; ++i) {
    float* dst = c + i * ldc;
    if (accumulate) {
      for (int j = 0; j < nr; ++j) dst[j] += tile[i][j];
    } else {
      for (int j = 0; j < nr; ++j) dst[j] = tile[i][j];
    }
  }
}

//! One packed MC x KC block of A times one packed KC x NC panel of B.
template <int MR, int NR>
[[gnu::always_inline]] inline void macroKernel(int64_t mcb, int64_t ncb, int64_t kcb, const float* ap, const float* bp,
                                               float* c, int64_t ldc, bool accumulate) {
  for (int64_t jr = 0; jr < ncb; jr += NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, ncb - jr));
    for (int64_t ir = 0; ir < mcb; ir += MR) {
      const int mr = static_cast<int>(std::min<int64_t>(MR, mcb - ir));
      microKernel<MR, NR>(kcb, ap + ir * kcb, bp + jr * kcb, c + ir * ldc + jr, ldc, mr, nr, accumulate);
    }
  }
}

KILN_GEMM_CLONES
void macro6x16(int64_t mcb, int64_t ncb, int64_t kcb, const float* ap, const float* bp, float* c, int64_t ldc,
               bool accumulate) {
  macroKernel<6, 16>(mcb, ncb, kcb, ap, bp, c, ldc, accumulate);
}

KILN_GEMM_CLONES
void macro4x8(int64_t mcb, int64_t ncb, int64_t kcb, const float* ap, const float* bp, float* c, int64_t ldc,
              bool accumulate) {
  macroKernel<4, 8>(mcb, ncb, kcb, ap, bp, c, ldc, accumulate);
}

//! Packs rows [i0, i0+mcb) x cols [p0, p0+kcb) of A into MR-row panels [kcb][MR], scaled.
void packPanelA(const MatrixView& a, int64_t i0, int64_t mcb, int64_t p0, int64_t kcb, int mr_full, float alpha,
                float* dst) {
  for (int64_t ir = 0; ir < mcb; ir += mr_full) {
    const int64_t mr = std::min<int64_t>(mr_full, mcb - ir);
    float* d = dst + ir * kcb;
    const float* src = a.data + (i0 + ir) * a.rs + p0 * a.cs;
    if (a.cs == 1) {
      for (int64_t i = 0; i < mr; ++i) {
        const float* row = src + i * a.rs;
        for (int64_t p = 0; p < kcb; ++p) d[p * mr_full + i] = alpha * row[p];
      }
    } else {
      for (int64_t p = 0; p < kcb; ++p) {
        const float* col = src + p * a.cs;
        for (int64_t i = 0; i < mr; ++i) d[p * mr_full + i] = alpha * col[i * a.rs];
      }
    }
    if (mr < mr_full)
      for (int64_t p = 0; p < kcb; ++p)
        for (int64_t i = mr; i < mr_full; ++i) d[p * mr_full + i] = 0.0f;
  }
}

//! Packs rows [p0, p0+kcb) x cols [j0, j0+ncb) of B into NR-column panels [kcb][NR].
void packPanelB(const MatrixView& b, int64_t p0, int64_t kcb, int64_t j0, int64_t ncb, int nr_full, float* dst) {
  for (int64_t jr = 0; jr < ncb; jr += nr_full) {
    const int64_t nr = std::min<int64_t>(nr_full, ncb - jr);
    float* d = dst + jr * kcb;
    const float* src = b.data + p0 * b.rs + (j0 + jr) * b.cs;
    if (b.cs == 1) {
      for (int64_t p = 0; p < kcb; ++p) {
        const float* row = src + p * b.rs;
        float* out = d + p * nr_full;
        for (int64_t j = 0; j < nr; ++j) out[j] = row[j];
        for (int64_t j = nr; j < nr_full; ++j) out[j] = 0.0f;
      }
    } else {
      for (int64_t j = 0; j < nr; ++j) {
        const float* col = src + j * b.cs;
        for (int64_t p = 0; p < kcb; ++p) d[p * nr_full + j] = col[p * b.rs];
      }
      if (nr < nr_full)
        for (int64_t p = 0; p < kcb; ++p)
          for (int64_t j = nr; j < nr_full; ++j) d[p * nr_full + j] = 0.0f;
    }
  }
}

void putInt(std::vector<std::byte>& out, int32_t v) {
  std::byte bytes[4];
  std::memcpy(bytes, &v, 4);
  out.insert(out.end(), bytes, bytes + 4);
}

}  // namespace

bool Blocking::valid() const {
  const bool kernel = (mr == 6 && nr == 16) || (mr == 4 && nr == 8);
  return kernel && mc > 0 && kc > 0 && nc > 0 && mc % mr == 0 && nc % nr == 0;
}

std::string Blocking::name() const {
  return std::to_string(mr) + "x" + std::to_string(nr) + ".mc" + std::to_string(mc) + ".kc" + std::to_string(kc) +
         ".nc" + std::to_string(nc);
}

const std::vector<Blocking>& standardBlockings() {
  // Large panels for big problems (A block in L2, B panel in L3); a small, L1/L2-friendly
  // one; and a narrow micro-kernel that wastes less on small or odd N.
  static const std::vector<Blocking> kBlockings = {
      {.mr = 6, .nr = 16, .mc = 96, .kc = 256, .nc = 1024},
      {.mr = 6, .nr = 16, .mc = 48, .kc = 128, .nc = 256},
      {.mr = 4, .nr = 8, .mc = 64, .kc = 256, .nc = 512},
  };
  return kBlockings;
}

size_t packedSizeA(const Blocking& b, int64_t m, int64_t k) {
  return static_cast<size_t>(std::max<int64_t>(roundUp(std::max<int64_t>(m, 0), b.mr) * std::max<int64_t>(k, 0), 1));
}

size_t packedSizeB(const Blocking& b, int64_t k, int64_t n) {
  return static_cast<size_t>(std::max<int64_t>(roundUp(std::max<int64_t>(n, 0), b.nr) * std::max<int64_t>(k, 0), 1));
}

void packAllA(const Blocking& b, MatrixView a, int64_t m, int64_t k, float alpha, float* dst) {
  const int64_t mpad = roundUp(m, b.mr);
  for (int64_t pc = 0; pc < k; pc += b.kc) {
    const int64_t kcb = std::min<int64_t>(b.kc, k - pc);
    packPanelA(a, 0, m, pc, kcb, b.mr, alpha, dst + pc * mpad);
  }
}

void packAllB(const Blocking& b, MatrixView bm, int64_t k, int64_t n, float* dst) {
  const int64_t npad = roundUp(n, b.nr);
  for (int64_t pc = 0; pc < k; pc += b.kc) {
    const int64_t kcb = std::min<int64_t>(b.kc, k - pc);
    packPanelB(bm, pc, kcb, 0, n, b.nr, dst + pc * npad);
  }
}

size_t panelFloatsA(const Blocking& b) { return static_cast<size_t>(b.mc) * static_cast<size_t>(b.kc); }
size_t panelFloatsB(const Blocking& b) { return static_cast<size_t>(b.kc) * static_cast<size_t>(b.nc); }

void gemm(const Blocking& b, int64_t m, int64_t n, int64_t k, float alpha, const Operand& a, const Operand& bm,
          float* c, int64_t ldc, bool accumulate, float* ws_a, float* ws_b) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate)
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  auto macro = b.mr == 6 ? &macro6x16 : &macro4x8;
  const int64_t mpad = roundUp(m, b.mr), npad = roundUp(n, b.nr);
  for (int64_t jc = 0; jc < n; jc += b.nc) {
    const int64_t ncb = std::min<int64_t>(b.nc, n - jc);
    for (int64_t pc = 0; pc < k; pc += b.kc) {
      const int64_t kcb = std::min<int64_t>(b.kc, k - pc);
      const float* bp = bm.packed;
      if (bp) {
        bp += pc * npad + jc * kcb;
      } else {
        packPanelB(bm.view, pc, kcb, jc, ncb, b.nr, ws_b);
        bp = ws_b;
      }
      for (int64_t ic = 0; ic < m; ic += b.mc) {
        const int64_t mcb = std::min<int64_t>(b.mc, m - ic);
        const float* ap = a.packed;
        if (ap) {
          ap += pc * mpad + ic * kcb;
        } else {
          packPanelA(a.view, ic, mcb, pc, kcb, b.mr, alpha, ws_a);
          ap = ws_a;
        }
        macro(mcb, ncb, kcb, ap, bp, c + ic * ldc + jc, ldc, accumulate || pc > 0);
      }
    }
  }
}

std::vector<std::byte> encodeBlocking(const Blocking& b, int32_t variant) {
  std::vector<std::byte> out;
  for (int32_t v : {variant, b.mr, b.nr, b.mc, b.kc, b.nc}) putInt(out, v);
  return out;
}

bool decodeBlocking(const std::vector<std::byte>& params, Blocking& b, int32_t& variant) {
  if (params.size() != 6 * sizeof(int32_t)) return false;
  int32_t v[6];
  std::memcpy(v, params.data(), sizeof v);
  variant = v[0];
  b = Blocking{.mr = v[1], .nr = v[2], .mc = v[3], .kc = v[4], .nc = v[5]};
  return b.valid();
}

}  // namespace kiln::cpu::tactics
