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

}  // namespace convnet
