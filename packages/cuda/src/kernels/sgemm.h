// Tiled shared-memory SGEMM, written as the three phases of one thread block so the CUDA kernel
// (src/sgemm.cu) and the host emulator (src/host/emulate.cpp) run the very same code:
//   for each k tile: every thread loads its share of the A and B tiles into shared memory (sgemm_load),
//   barrier, every thread multiplies its TM×TN register tile (sgemm_compute), barrier;
//   finally every thread writes its tile (sgemm_store).
// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major; op(A) = A [M,K] (lda) or Aᵀ with A [K,M];
// op(B) = B [K,N] (ldb) or Bᵀ with B [N,K]. A batch of `batch` problems is laid out with element strides
// strideA/B/C; with `reduce`, the products of the whole batch are summed into one C (the conv weight
// gradient: Σ over images of dy·colᵀ), in batch order, so the result does not depend on scheduling.
// beta == 0 never reads C (so NaNs in an uninitialised C do not leak in).
#pragma once
#include <cstdint>
#include "convnet/hd.h"

namespace convnet::cuda {

struct SgemmArgs {
  int64_t M, N, K;
  const float* A;
  int64_t lda;
  const float* B;
  int64_t ldb;
  float* C;
  int64_t ldc;
  float alpha, beta;
  bool transA, transB;
  int64_t batch, strideA, strideB, strideC;
  bool reduce;
};

constexpr int kSgemmBM = 64, kSgemmBN = 64, kSgemmBK = 16;
constexpr int kSgemmTM = 4, kSgemmTN = 4;
constexpr int kSgemmThreadsX = kSgemmBN / kSgemmTN;                       // 16
constexpr int kSgemmThreads = (kSgemmBM / kSgemmTM) * kSgemmThreadsX;     // 256

// One column of padding per row: the k-contiguous loads (A not transposed, B transposed) store 16
// consecutive k of one m into a column; with rows of 64 floats those 16 stores would all hit one bank,
// with rows of 65 they spread over 16 banks. (Reasoned from the bank layout, not yet measured: no GPU.)
struct SgemmShared {
  float As[kSgemmBK][kSgemmBM + 1];  // As[k][m] = op(A)(m0 + m, k0 + k)
  float Bs[kSgemmBK][kSgemmBN + 1];  // Bs[k][n] = op(B)(k0 + k, n0 + n)
};

// Thread `tid` loads elements e = tid + r·256 of each tile. The element-to-(row, k) mapping follows the
// memory order of the operand, so consecutive threads read consecutive addresses (coalesced) both for
// plain and transposed operands. Outside the matrix: 0.
CONVNET_HD void sgemm_load(const SgemmArgs& p, SgemmShared& s, int tid, int64_t m0, int64_t n0, int64_t k0,
                           const float* A, const float* B) {
  for (int r = 0; r < (kSgemmBK * kSgemmBM) / kSgemmThreads; ++r) {
    const int e = tid + r * kSgemmThreads;
    int mm, kk;
    if (p.transA) { mm = e % kSgemmBM; kk = e / kSgemmBM; }  // A [K, M]: m contiguous
    else { kk = e % kSgemmBK; mm = e / kSgemmBK; }           // A [M, K]: k contiguous
    const int64_t m = m0 + mm, k = k0 + kk;
    float v = 0.f;
    if (m < p.M && k < p.K) v = p.transA ? A[k * p.lda + m] : A[m * p.lda + k];
    s.As[kk][mm] = v;
  }
  for (int r = 0; r < (kSgemmBK * kSgemmBN) / kSgemmThreads; ++r) {
    const int e = tid + r * kSgemmThreads;
    int nn, kk;
    if (p.transB) { kk = e % kSgemmBK; nn = e / kSgemmBK; }  // B [N, K]: k contiguous
    else { nn = e % kSgemmBN; kk = e / kSgemmBN; }           // B [K, N]: n contiguous
    const int64_t n = n0 + nn, k = k0 + kk;
    float v = 0.f;
    if (n < p.N && k < p.K) v = p.transB ? B[n * p.ldb + k] : B[k * p.ldb + n];
    s.Bs[kk][nn] = v;
  }
}

// Thread (ty, tx) owns rows ty + 16·i and columns tx + 16·j of the block tile: strided, so that a warp's
// shared-memory reads hit distinct banks (or broadcast) and its global stores are 16 floats in a row.
CONVNET_HD void sgemm_compute(const SgemmShared& s, int tid, float acc[kSgemmTM][kSgemmTN]) {
  const int ty = tid / kSgemmThreadsX, tx = tid % kSgemmThreadsX;
  for (int kk = 0; kk < kSgemmBK; ++kk) {
    float a[kSgemmTM], b[kSgemmTN];
    for (int i = 0; i < kSgemmTM; ++i) a[i] = s.As[kk][ty + i * (kSgemmBM / kSgemmTM)];
    for (int j = 0; j < kSgemmTN; ++j) b[j] = s.Bs[kk][tx + j * kSgemmThreadsX];
    for (int i = 0; i < kSgemmTM; ++i)
      for (int j = 0; j < kSgemmTN; ++j) acc[i][j] += a[i] * b[j];
  }
}

CONVNET_HD void sgemm_store(const SgemmArgs& p, int tid, int64_t m0, int64_t n0, float* C,
                            const float acc[kSgemmTM][kSgemmTN]) {
  const int ty = tid / kSgemmThreadsX, tx = tid % kSgemmThreadsX;
  for (int i = 0; i < kSgemmTM; ++i) {
    const int64_t m = m0 + ty + i * (kSgemmBM / kSgemmTM);
    if (m >= p.M) continue;
    for (int j = 0; j < kSgemmTN; ++j) {
      const int64_t n = n0 + tx + j * kSgemmThreadsX;
      if (n >= p.N) continue;
      float* c = C + m * p.ldc + n;
      *c = p.beta == 0.f ? p.alpha * acc[i][j] : p.alpha * acc[i][j] + p.beta * *c;
    }
  }
}

// Pointers of problem z (or of batch item b in the reduce loop).
CONVNET_HD const float* sgemm_a_at(const SgemmArgs& p, int64_t b) { return p.A + b * p.strideA; }
CONVNET_HD const float* sgemm_b_at(const SgemmArgs& p, int64_t b) { return p.B + b * p.strideB; }

}  // namespace convnet::cuda
