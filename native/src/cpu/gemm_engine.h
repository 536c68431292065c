// Internal interface between gemm.cpp (baseline ISA: dispatch, threading, scratch buffers) and the
// per-ISA packed GEMM engines (gemm_avx2.cpp, gemm_avx512.cpp, built from gemm_kernel.h).
// Only plain data and function declarations here, so it is safe to include from any ISA's file.
#pragma once
#include <cstddef>
#include <cstdint>

namespace convnet {
namespace gemm {

// Row-major C = alpha * op(A) * op(B) + beta * C, as in convnet/gemm.h.
struct Problem {
  bool transA, transB;
  int64_t M, N, K;
  float alpha;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float beta;
  float* C;
  int64_t ldc;
};

// An operand packed whole ahead of time (see Engine::pack_a_full in gemm_kernel.h): base is null
// when there is none; ld is the packed operand's rows (A) or columns (B) rounded up to the panel
// width; first is the row (column) of the packed operand where the problem's op(A) (op(B)) starts.
// (Plain aggregates without default member initialisers: nothing here may compile to an inline
// function that the AVX-512 and baseline translation units would share.)
struct Packed {
  const float* base;
  int64_t ld, first;
};

struct EngineInfo {
  const char* name;
  int mr, nr;  // micro-tile (rows of C x columns of C)
  // Serial GEMM on the calling thread.
  void (*run)(const Problem& p);
  // Serial GEMM of a block of a problem whose op(A) and/or op(B) is packed already.
  void (*run_shared)(const Problem& p, const Packed& a, const Packed& b);
  // Size of, and packing of panels [r0, r1) / [c0, c1) of, a whole packed op(A) / op(B).
  size_t (*packed_a_floats)(int64_t M, int64_t K);
  size_t (*packed_b_floats)(int64_t N, int64_t K);
  void (*pack_a_full)(const Problem& p, float* dst, int64_t r0, int64_t r1);
  void (*pack_b_full)(const Problem& p, float* dst, int64_t c0, int64_t c1);
  // For !transA, transB and 1 <= M <= kDotsMaxRows: columns [j0, j1) of C by direct dot products (null
  // where the engine has none).
  void (*run_dots)(const Problem& p, int64_t j0, int64_t j1);
};
constexpr int64_t kDotsMaxRows = 4;

// 64-byte aligned scratch buffer `which` (0: packed A, 1: packed B, 2: operand shared by the
// threads of a parallel call) of the calling thread, at least
// `floats` long. Allocated once per thread and grown when needed; never freed while the thread lives.
float* scratch(int which, size_t floats);

// Defined in gemm_avx2.cpp / gemm_avx512.cpp. Call only when the CPU supports the ISA.
const EngineInfo& engine_avx2();
const EngineInfo& engine_avx2_emulating_avx512();  // the AVX-512 tile geometry on AVX2 (for tests)
const EngineInfo& engine_avx512();
// bf16 engines (gemm_avx512bf16.cpp, gemm_bf16_avx2.cpp; only name, mr, nr, run and run_dots are set):
// AVX512-BF16 hardware, and the AVX2 emulation of the same numbers.
const EngineInfo& engine_bf16_avx512();
const EngineInfo& engine_bf16_avx2();
// The direct dot products (EngineInfo::run_dots) with both inputs rounded to bf16 and float32 sums, for the bf16
// engines: a linear layer's forward at batch <= 4 is memory-bound on fp32 weights, so AVX-512 F / AVX2 FMAs on
// rounded values run as fast as VDPBF16PS would (gemm_avx512.cpp, gemm_avx2.cpp).
void dots_bf16_avx512(const Problem& p, int64_t j0, int64_t j1);
void dots_bf16_avx2(const Problem& p, int64_t j0, int64_t j1);
void dots_bf16_avx2_emulating_avx512(const Problem& p, int64_t j0, int64_t j1);  // the 16-wide code on AVX2 (tests)

}  // namespace gemm
}  // namespace convnet
