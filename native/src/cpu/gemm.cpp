// Portable GEMM: simple loops, correct on any CPU (the packed AVX-512/AVX2 engine is chosen over it at run time).
#include "convnet/gemm.h"
#include "convnet/threadpool.h"

namespace convnet {

static void gemm_rows(bool transA, bool transB, int64_t m0, int64_t m1, int64_t N, int64_t K,
                      float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                      float beta, float* C, int64_t ldc) {
  for (int64_t i = m0; i < m1; ++i) {
    float* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) c[j] = beta == 0.f ? 0.f : beta * c[j];
    for (int64_t k = 0; k < K; ++k) {
      float a = alpha * (transA ? A[k * lda + i] : A[i * lda + k]);
      if (transB) {
        for (int64_t j = 0; j < N; ++j) c[j] += a * B[j * ldb + k];
      } else {
        const float* b = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) c[j] += a * b[j];
      }
    }
  }
}

void sgemm_serial(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                  int64_t ldc) {
  gemm_rows(transA, transB, 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  parallel_for(M, [&](int64_t b, int64_t e, int) {
    gemm_rows(transA, transB, b, e, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  });
}

}  // namespace convnet
