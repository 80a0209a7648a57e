// kiln's blocked, packed single-precision GEMM for the CPU tactics ("cpu.gemm", "cpu.conv").
//
// The structure is the classic Goto/BLIS one: C is computed in NC-wide column slabs; each
// slab walks K in KC-deep steps, packing a KC x NC panel of B; each panel meets MC x KC
// blocks of packed A; a register-blocked MR x NR micro-kernel does the arithmetic. Packing
// lays A out as [K/KC blocks][M/MR panels][kc][MR] and B as [K/KC blocks][N/NR panels][kc][NR]
// (rows/columns past the edge are zero), so one layout serves both the on-the-fly packing of
// a run (into the workspace) and the weights a kernel packs once at instantiation.
//
// No allocation happens in gemm(): the caller hands it two scratch panels (panelFloatsA/B).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace kiln::cpu::tactics {

//! Block sizes of one GEMM configuration. mr x nr picks the micro-kernel (6x16 or 4x8);
//! mc must be a multiple of mr and nc of nr.
struct Blocking {
  int32_t mr = 6;
  int32_t nr = 16;
  int32_t mc = 96;
  int32_t kc = 256;
  int32_t nc = 1024;

  bool valid() const;
  //! "6x16.mc96.kc256.nc1024"
  std::string name() const;
};

//! The configurations the tactics offer (each becomes one candidate).
const std::vector<Blocking>& standardBlockings();

//! A strided view of a row-major-ish matrix: element (r, c) is at data[r * rs + c * cs].
struct MatrixView {
  const float* data = nullptr;
  int64_t rs = 0;
  int64_t cs = 1;
};

//! An operand of gemm(): either packed once in advance (`packed`, the layout above, from
//! packA/packB over the whole matrix) or packed per block during the call (`view`).
struct Operand {
  MatrixView view;
  const float* packed = nullptr;
};

//! Floats of a whole M x K A packed with `b` (packAll of A) / K x N B.
size_t packedSizeA(const Blocking& b, int64_t m, int64_t k);
size_t packedSizeB(const Blocking& b, int64_t k, int64_t n);
//! Packs a whole matrix once (the "prepare weights" step); `alpha` scales A.
void packAllA(const Blocking& b, MatrixView a, int64_t m, int64_t k, float alpha, float* dst);
void packAllB(const Blocking& b, MatrixView bm, int64_t k, int64_t n, float* dst);

//! Scratch floats gemm() needs for an on-the-fly A (resp. B) panel.
size_t panelFloatsA(const Blocking& b);
size_t panelFloatsB(const Blocking& b);

//! C[m x n] (row stride ldc) = alpha * A * B (+ C when `accumulate`). A prepacked A already
//! carries its alpha (packAllA); alpha then only scales an on-the-fly A. `ws_a`/`ws_b` hold
//! panelFloatsA/B floats (may be null for a prepacked operand); 64-byte aligned is best.
void gemm(const Blocking& b, int64_t m, int64_t n, int64_t k, float alpha, const Operand& a, const Operand& bm,
          float* c, int64_t ldc, bool accumulate, float* ws_a, float* ws_b);

//! Bytes rounded up to 64 (workspace carving).
constexpr size_t alignBytes(size_t bytes) { return (bytes + 63) / 64 * 64; }

//! Serialization of a Blocking into TacticConfig::params and back (false if malformed).
std::vector<std::byte> encodeBlocking(const Blocking& b, int32_t variant = 0);
bool decodeBlocking(const std::vector<std::byte>& params, Blocking& b, int32_t& variant);

}  // namespace kiln::cpu::tactics
