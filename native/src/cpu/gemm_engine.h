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

struct EngineInfo {
  const char* name;
  int mr, nr;                       // micro-tile (rows of C x columns of C)
  void (*run)(const Problem& p);    // serial: runs on the calling thread
};

// 64-byte aligned scratch buffer `which` (0: packed A, 1: packed B) of the calling thread, at least
// `floats` long. Allocated once per thread and grown when needed; never freed while the thread lives.
float* scratch(int which, size_t floats);

// Defined in gemm_avx2.cpp / gemm_avx512.cpp. Call only when the CPU supports the ISA.
const EngineInfo& engine_avx2();
const EngineInfo& engine_avx2_emulating_avx512();  // the AVX-512 tile geometry on AVX2 (for tests)
const EngineInfo& engine_avx512();

}  // namespace gemm
}  // namespace convnet
