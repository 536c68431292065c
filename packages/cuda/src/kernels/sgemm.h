// SGEMM with the structure of fast ones, written as the per-thread phases of one thread block so the CUDA kernel
// (src/sgemm.cu) and the host emulator (src/host/emulate.cpp) run the very same code:
//   128×128 block tiles, k tiles of 8, 256 threads each owning an 8×8 register tile; global loads of 4
//   consecutive floats per thread and operand (one float4 where the operand is 16-byte aligned along its
//   contiguous dimension, else 4 scalar loads), shared memory double-buffered: the loads of k tile t + 1 are
//   in flight (in registers) while tile t is multiplied, then stored into the other buffer; one barrier per tile.
//     prologue:   sgemm_fetch(tile 0) → registers; sgemm_stash → buffer 0; barrier
//     tile t:     sgemm_fetch(tile t + 1) → registers; sgemm_compute(buffer t&1); sgemm_stash → buffer (t+1)&1;
//                 barrier
//     epilogue:   sgemm_store (alpha, beta; beta == 0 never reads C)
// C[M,N] = alpha · op(A) · op(B) + beta · C, row-major; op(A) = A [M,K] (lda) or Aᵀ with A [K,M];
// op(B) = B [K,N] (ldb) or Bᵀ with B [N,K]. A batch of `batch` problems is laid out with element strides
// strideA/B/C; with `reduce`, the products of items [item0, item1) are summed into one C, in item order, as one
// sequence of k tiles (the conv weight gradient: Σ over images of dy·colᵀ), so the result does not depend on
// scheduling. `splits` > 1 (with reduce): block z sums its own contiguous range of items into C + z·strideC
// (split-K over images; conv.cpp adds the partials in split order).
//
// Expected speed (sm_90, fp32 FMA pipes; ptxas -v in the build log gives the registers and shared memory):
// per k step a thread reads 4 float4 from shared memory (8 of A, 8 of B) for 64 FMAs: 4 FMAs per 4-byte shared
// load, twice the 64×64/4×4 tiling's ratio, so the FMA pipes, not shared-memory bandwidth, bound the inner loop.
// Registers ≈ 64 accumulators + 16 operands + 8 prefetched + addresses, capped at 128 by __launch_bounds__(256, 2):
// 2 blocks (16 warps) per SM, 2 × 16 KiB of shared memory; each SM has 2 tiles × 128×128×8×2 = 524 K flops in
// flight per 32 KiB of tile loads, so a 4096³ product (1024 tiles over 132 SMs, ~3.9 waves) should reach 70-80% of
// the fp32 peak (the share cuBLAS-like kernels of this shape reach), against ~30% for the 64×64 tiling.
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
  int64_t splits;  // 0 or 1: one C; > 1 (reduce only): partial sums per split of the items (see above)
  // set by the launcher (sgemm_prepare): whether the operands may be read as aligned float4
  bool vecA, vecB;
};

constexpr int kSgemmBM = 128, kSgemmBN = 128, kSgemmBK = 8;
constexpr int kSgemmTM = 8, kSgemmTN = 8;
constexpr int kSgemmThreadsX = kSgemmBN / kSgemmTN;                    // 16
constexpr int kSgemmThreads = (kSgemmBM / kSgemmTM) * kSgemmThreadsX;  // 256

struct alignas(16) SgemmShared {
  float As[2][kSgemmBK][kSgemmBM];  // As[buf][k][m] = op(A)(m0 + m, k0 + k)
  float Bs[2][kSgemmBK][kSgemmBN];  // Bs[buf][k][n] = op(B)(k0 + k, n0 + n)
};
struct SgemmRegs {
  float a[4], b[4];  // the next tile's 4 elements of A and of B this thread loads
};

// Which operands are float4-aligned along their contiguous dimension (every problem of the batch).
CONVNET_HD bool sgemm_aligned(const float* p, int64_t ld, int64_t stride, int64_t batch) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && ld % 4 == 0 && (batch <= 1 || stride % 4 == 0);
}
inline void sgemm_prepare(SgemmArgs& p) {
  p.vecA = sgemm_aligned(p.A, p.lda, p.strideA, p.batch);
  p.vecB = sgemm_aligned(p.B, p.ldb, p.strideB, p.batch);
}

// 4 consecutive floats at `src` (indices idx..idx+3 of a line of `len` valid elements): one float4 when aligned
// and whole, else scalar loads with zeros past the end.
CONVNET_HD void sgemm_load4(const float* src, int64_t idx, int64_t len, bool vec, float out[4]) {
#if defined(__CUDA_ARCH__)
  if (vec && idx + 3 < len) {
    const float4 v = __ldg(reinterpret_cast<const float4*>(src));
    out[0] = v.x; out[1] = v.y; out[2] = v.z; out[3] = v.w;
    return;
  }
#else
  (void)vec;
#endif
  for (int i = 0; i < 4; ++i) out[i] = idx + i < len ? src[i] : 0.f;
}

// Thread tid's share of k tile (A, B, k0): A's tile is 128 m × 8 k, 4 floats per thread along A's contiguous
// dimension (k for A [M,K]: m = tid/2, k = 4·(tid%2); m for Aᵀ: k = tid/32, m = 4·(tid%32)); B likewise.
// Consecutive threads read consecutive addresses (coalesced) in every layout.
CONVNET_HD void sgemm_fetch(const SgemmArgs& p, int tid, int64_t m0, int64_t n0, int64_t k0, const float* A,
                            const float* B, SgemmRegs& r) {
  if (!p.transA) {
    const int64_t m = m0 + tid / 2, k = k0 + 4 * (tid % 2);
    if (m < p.M) sgemm_load4(A + m * p.lda + k, k, p.K, p.vecA, r.a);
    else r.a[0] = r.a[1] = r.a[2] = r.a[3] = 0.f;
  } else {
    const int64_t k = k0 + tid / 32, m = m0 + 4 * (tid % 32);
    if (k < p.K) sgemm_load4(A + k * p.lda + m, m, p.M, p.vecA, r.a);
    else r.a[0] = r.a[1] = r.a[2] = r.a[3] = 0.f;
  }
  if (p.transB) {
    const int64_t n = n0 + tid / 2, k = k0 + 4 * (tid % 2);
    if (n < p.N) sgemm_load4(B + n * p.ldb + k, k, p.K, p.vecB, r.b);
    else r.b[0] = r.b[1] = r.b[2] = r.b[3] = 0.f;
  } else {
    const int64_t k = k0 + tid / 32, n = n0 + 4 * (tid % 32);
    if (k < p.K) sgemm_load4(B + k * p.ldb + n, n, p.N, p.vecB, r.b);
    else r.b[0] = r.b[1] = r.b[2] = r.b[3] = 0.f;
  }
}

// The fetched elements into buffer `buf` (k-major, so the compute phase reads 4 consecutive m or n at once).
CONVNET_HD void sgemm_stash(const SgemmArgs& p, SgemmShared& s, int buf, int tid, const SgemmRegs& r) {
  if (!p.transA) for (int i = 0; i < 4; ++i) s.As[buf][4 * (tid % 2) + i][tid / 2] = r.a[i];
  else for (int i = 0; i < 4; ++i) s.As[buf][tid / 32][4 * (tid % 32) + i] = r.a[i];
  if (p.transB) for (int i = 0; i < 4; ++i) s.Bs[buf][4 * (tid % 2) + i][tid / 2] = r.b[i];
  else for (int i = 0; i < 4; ++i) s.Bs[buf][tid / 32][4 * (tid % 32) + i] = r.b[i];
}

// Thread (ty, tx) owns rows 4·ty + i and 64 + 4·ty + i, columns 4·tx + j and 64 + 4·tx + j (i, j < 4): each
// half is 4 consecutive floats (one float4 from shared memory), and a warp's 32 threads read 2 distinct
// addresses of A (broadcast) and 16 float4 of B per half: conflict-free.
CONVNET_HD int sgemm_row(int tid, int i) { return (i < 4 ? 0 : 64) + 4 * (tid / kSgemmThreadsX) + (i & 3); }
CONVNET_HD int sgemm_col(int tid, int j) { return (j < 4 ? 0 : 64) + 4 * (tid % kSgemmThreadsX) + (j & 3); }

CONVNET_HD void sgemm_compute(const SgemmShared& s, int buf, int tid, float acc[kSgemmTM][kSgemmTN]) {
  const int ty = tid / kSgemmThreadsX, tx = tid % kSgemmThreadsX;
  for (int kk = 0; kk < kSgemmBK; ++kk) {
    float a[kSgemmTM], b[kSgemmTN];
#if defined(__CUDA_ARCH__)
    // four 128-bit shared loads (the arrays are 16-byte aligned, the offsets multiples of 4)
    const float4 a0 = *reinterpret_cast<const float4*>(&s.As[buf][kk][4 * ty]);
    const float4 a1 = *reinterpret_cast<const float4*>(&s.As[buf][kk][64 + 4 * ty]);
    const float4 b0 = *reinterpret_cast<const float4*>(&s.Bs[buf][kk][4 * tx]);
    const float4 b1 = *reinterpret_cast<const float4*>(&s.Bs[buf][kk][64 + 4 * tx]);
    a[0] = a0.x; a[1] = a0.y; a[2] = a0.z; a[3] = a0.w; a[4] = a1.x; a[5] = a1.y; a[6] = a1.z; a[7] = a1.w;
    b[0] = b0.x; b[1] = b0.y; b[2] = b0.z; b[3] = b0.w; b[4] = b1.x; b[5] = b1.y; b[6] = b1.z; b[7] = b1.w;
#else
    for (int i = 0; i < 4; ++i) {
      a[i] = s.As[buf][kk][4 * ty + i];
      a[4 + i] = s.As[buf][kk][64 + 4 * ty + i];
      b[i] = s.Bs[buf][kk][4 * tx + i];
      b[4 + i] = s.Bs[buf][kk][64 + 4 * tx + i];
    }
#endif
    for (int i = 0; i < kSgemmTM; ++i)
      for (int j = 0; j < kSgemmTN; ++j) acc[i][j] += a[i] * b[j];
  }
}

CONVNET_HD void sgemm_store(const SgemmArgs& p, float beta, int tid, int64_t m0, int64_t n0, float* C,
                            const float acc[kSgemmTM][kSgemmTN]) {
  for (int i = 0; i < kSgemmTM; ++i) {
    const int64_t m = m0 + sgemm_row(tid, i);
    if (m >= p.M) continue;
    for (int j = 0; j < kSgemmTN; ++j) {
      const int64_t n = n0 + sgemm_col(tid, j);
      if (n >= p.N) continue;
      float* c = C + m * p.ldc + n;
      *c = beta == 0.f ? p.alpha * acc[i][j] : p.alpha * acc[i][j] + beta * *c;
    }
  }
}

// The k tiles a block walks: items [item0, item1) × ceil(K / BK) tiles each, in order. Tile t's item and k0.
struct SgemmWalk {
  int64_t item0, tiles, ktiles;
};
CONVNET_HD SgemmWalk sgemm_walk(const SgemmArgs& p, int64_t z) {
  const int64_t kt = (p.K + kSgemmBK - 1) / kSgemmBK;
  if (!p.reduce) return {z, kt, kt};
  const int64_t splits = p.splits > 1 ? p.splits : 1;
  const int64_t i0 = p.batch * z / splits, i1 = p.batch * (z + 1) / splits;
  return {i0, (i1 - i0) * kt, kt};
}
CONVNET_HD void sgemm_tile(const SgemmArgs& p, const SgemmWalk& w, int64_t t, const float*& A, const float*& B,
                                  int64_t& k0) {
  const int64_t item = w.item0 + t / w.ktiles;
  k0 = (t % w.ktiles) * kSgemmBK;
  A = p.A + item * p.strideA;
  B = p.B + item * p.strideB;
}
// Where block z writes, and with which beta (a split's partial overwrites its slice).
CONVNET_HD float* sgemm_c_at(const SgemmArgs& p, int64_t z) {
  return p.C + ((!p.reduce || p.splits > 1) ? z * p.strideC : 0);
}
CONVNET_HD float sgemm_beta(const SgemmArgs& p) { return p.reduce && p.splits > 1 ? 0.f : p.beta; }

}  // namespace convnet::cuda
