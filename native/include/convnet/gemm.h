// Single-precision GEMM, row-major:  C = alpha * op(A) * op(B) + beta * C
//   op(A) is M x K: A is stored M x K (lda >= K), or K x M when transA (lda >= M).
//   op(B) is K x N: B is stored K x N (ldb >= N), or N x K when transB (ldb >= K).
//   C is M x N (ldc >= N). beta == 0 means C is written without being read (NaNs in C are ignored).
#pragma once
#include <cstdint>

namespace convnet {

// Uses the whole thread pool.
void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Runs on the calling thread only: for use inside a parallel region (e.g. one image per thread).
void sgemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc);

// Precision of every matrix product (sgemm and sgemm_serial, so convolutions and linear layers), process-wide.
//   fp32: float32 inputs and sums (the default).
//   bf16: op(A) and op(B) rounded to bfloat16 (round to nearest even) as they are packed, products summed in
//         float32, C float32: the mixed-precision path (master weights, activations, gradients stay float32).
//         Runs on AVX512-BF16 (VDPBF16PS) where the CPU has it, else emulated with the same rounding (AVX2
//         FMAs, or portable loops). Results depend on the thread count only, as in fp32.
// The initial value comes from CONVNET_MATMUL_PRECISION=fp32|bf16; CONVNET_BF16_ENGINE=emulated uses the
// emulation even on AVX512-BF16 hardware (to compare the two).
enum class MatmulPrecision { fp32 = 0, bf16 = 1 };
void set_matmul_precision(MatmulPrecision p);
MatmulPrecision matmul_precision();
// What bf16 runs on here: "avx512bf16-12x32", "avx2-bf16-emulated-4x16" or "generic-bf16-emulated".
const char* bf16_engine_name();

}  // namespace convnet
