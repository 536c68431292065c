// bf16 GEMM engine (the opt-in mixed-precision path: convnet/gemm.h, set_matmul_precision): op(A) and op(B)
// are rounded to bfloat16 (round to nearest even) while they are packed, products are summed in float32,
// C stays float32. Written once, instantiated per ISA:
//   gemm_avx512bf16.cpp   micro-kernel on AVX512-BF16's VDPBF16PS (two bf16 products per float lane and
//                         instruction), chosen when the CPU has AVX512-BF16;
//   gemm_bf16_avx2.cpp    the same packed format, widened back to float32 and summed with AVX2 FMAs: the
//                         numbers of the bf16 path on any AVX2 CPU (slower than float32, never faster).
// Each .cpp defines CONVNET_BF16_NS (a namespace unique to the translation unit, as gemm_kernel.h does).
//
// Packed panels hold k in pairs: word p of row r of an A panel = bf16(op(A)[r][k0 + 2p]) in the low half and
// bf16(op(A)[r][k0 + 2p + 1]) in the high half (0 past K); B panels likewise per column. Loops: jc (NC columns)
// -> pc (KC depth; pack B block) -> ic (MC rows; pack A block) -> jr (NR) -> ir (MR) -> micro-kernel. KC
// depends on K only and every element of C is summed over k in the same order, so results do not depend on
// how a parallel call cuts M and N (gemm.cpp) or on the thread count.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_engine.h"

#ifndef CONVNET_BF16_NS
#error "define CONVNET_BF16_NS before including gemm_bf16_kernel.h"
#endif

#pragma GCC diagnostic ignored "-Wpsabi"

namespace convnet {
namespace CONVNET_BF16_NS {

// float -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN.
static inline uint32_t bf16_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}
static inline uint32_t pair(float lo, float hi) { return bf16_bits(lo) | (bf16_bits(hi) << 16); }

// W-lane versions (GCC vector extensions; W * 4 bytes = one register of the TU's ISA).
template <int W>
struct Lanes {
  typedef uint32_t U __attribute__((vector_size(W * 4)));
  typedef int32_t I __attribute__((vector_size(W * 4)));
  static inline __attribute__((always_inline)) U load(const float* p) {
    U u;
    std::memcpy(&u, p, sizeof(u));
    return u;
  }
  // bf16 bits of each lane, rounded to nearest even, in the low (HIGH = false) or high half of each word
  template <bool HIGH>
  static inline __attribute__((always_inline)) U round(U u) {
    const U nan = (U)((I)((u & 0x7fffffffu) > 0x7f800000u));  // all ones where NaN
    U r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    r = (r & ~nan) | ((u | 0x00400000u) & 0xffff0000u & nan);
    return HIGH ? r : r >> 16;
  }
  static inline __attribute__((always_inline)) void pairs(uint32_t* d, const float* lo, const float* hi) {
    const U v = round<false>(load(lo)) | round<true>(load(hi));
    std::memcpy(d, &v, sizeof(v));
  }
  static inline __attribute__((always_inline)) void pairs_lo(uint32_t* d, const float* lo) {  // hi = 0
    const U v = round<false>(load(lo));
    std::memcpy(d, &v, sizeof(v));
  }
};

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Packs rows [0, rows) x depth [k0, k0 + kc) of a matrix X given as element(i, k) into P-wide panels of
// pairs at dst: panel q at dst + q * P * kp, word [p * P + r]. Rows past `rows` are zero.
// CONTIG: element(i, k) = X[k * ld + i] (contiguous along the panel: vectorised), else X[i * ld + k].
template <int P, int W, bool CONTIG>
static void pack_pairs(uint32_t* __restrict dst, const float* __restrict X, int64_t ld, int64_t rows,
                       int64_t k0, int64_t kc) {
  const int64_t kp = ceil_div(kc, 2), kend = k0 + kc;
  for (int64_t r0 = 0; r0 < rows; r0 += P) {
    uint32_t* d = dst + r0 * kp;
    const int64_t nv = min64(P, rows - r0);
    if constexpr (CONTIG) {
      for (int64_t p = 0; p < kp; ++p) {
        const int64_t k = k0 + 2 * p;
        const float* lo = X + k * ld + r0;
        const float* hi = lo + ld;
        uint32_t* o = d + p * P;
        int64_t r = 0;
        if (k + 1 < kend) {
          for (; r + W <= nv; r += W) Lanes<W>::pairs(o + r, lo + r, hi + r);
          for (; r < nv; ++r) o[r] = pair(lo[r], hi[r]);
        } else {
          for (; r + W <= nv; r += W) Lanes<W>::pairs_lo(o + r, lo + r);
          for (; r < nv; ++r) o[r] = bf16_bits(lo[r]);
        }
        for (; r < P; ++r) o[r] = 0;
      }
    } else {
      for (int64_t r = 0; r < P; ++r) {
        if (r >= nv) {
          for (int64_t p = 0; p < kp; ++p) d[p * P + r] = 0;
          continue;
        }
        const float* x = X + (r0 + r) * ld + k0;
        const int64_t full = kc / 2;
        for (int64_t p = 0; p < full; ++p) d[p * P + r] = pair(x[2 * p], x[2 * p + 1]);
        if (full < kp) d[full * P + r] = bf16_bits(x[2 * full]);
      }
    }
  }
}

// Driver around a micro-kernel MK: MK::MR, MK::NR, and
//   MK::tile(kp, a, b, acc): acc[MR * NR] = a-panel x b-panel over kp pairs (row-major tile).
template <class MK>
struct Bf16Engine {
  static constexpr int MR = MK::MR, NR = MK::NR, W = MK::W;
  static constexpr int64_t KC = 512, MC = 96, NC = 3072;  // KC even: pairs never straddle blocks

  static void pack_a(uint32_t* dst, const gemm::Problem& p, int64_t i0, int64_t mc, int64_t k0, int64_t kc) {
    if (p.transA)  // A is K x M
      pack_pairs<MR, W, true>(dst, p.A + i0, p.lda, mc, k0, kc);
    else
      pack_pairs<MR, W, false>(dst, p.A + i0 * p.lda, p.lda, mc, k0, kc);
  }
  static void pack_b(uint32_t* dst, const gemm::Problem& p, int64_t k0, int64_t kc, int64_t j0, int64_t nc) {
    if (!p.transB)  // B is K x N
      pack_pairs<NR, W, true>(dst, p.B + j0, p.ldb, nc, k0, kc);
    else
      pack_pairs<NR, W, false>(dst, p.B + j0 * p.ldb, p.ldb, nc, k0, kc);
  }

  // C tile (m x n) = alpha * acc + beta * C (beta == 0: C not read), the float32 path's arithmetic.
  static inline void store(const float* acc, float* c, int64_t ldc, float alpha, float beta, int64_t m, int64_t n) {
    for (int64_t i = 0; i < m; ++i) {
      float* q = c + i * ldc;
      const float* t = acc + i * NR;
      if (beta == 0.f)
        for (int64_t j = 0; j < n; ++j) q[j] = alpha * t[j];
      else
        for (int64_t j = 0; j < n; ++j) q[j] = __builtin_fmaf(alpha, t[j], beta * q[j]);
    }
  }

  static void run(const gemm::Problem& p) {
    const int64_t M = p.M, N = p.N, K = p.K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || p.alpha == 0.f) {
      for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) p.C[i * p.ldc + j] = p.beta == 0.f ? 0.f : p.beta * p.C[i * p.ldc + j];
      return;
    }
    const int64_t kc_max = min64(KC, round_up(K, 2)), kp_max = kc_max / 2;
    const int64_t mc_max = round_up(min64(M, MC), MR), nc_max = round_up(min64(N, NC), NR);
    uint32_t* abuf = reinterpret_cast<uint32_t*>(gemm::scratch(0, size_t(mc_max * kp_max)));
    uint32_t* bbuf = reinterpret_cast<uint32_t*>(gemm::scratch(1, size_t(nc_max * kp_max)));
    alignas(64) float acc[MR * NR];
    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = min64(nc_max, N - jc);
      for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = min64(kc_max, K - pc), kp = ceil_div(kc, 2);
        const float beta = pc == 0 ? p.beta : 1.f;
        pack_b(bbuf, p, pc, kc, jc, nc);
        for (int64_t ic = 0; ic < M; ic += mc_max) {
          const int64_t mc = min64(mc_max, M - ic);
          pack_a(abuf, p, ic, mc, pc, kc);
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < mc; ir += MR) {
              MK::tile(kp, abuf + ir * kp, bbuf + jr * kp, acc);
              store(acc, p.C + (ic + ir) * p.ldc + jc + jr, p.ldc, p.alpha, beta, min64(MR, mc - ir),
                    min64(NR, nc - jr));
            }
        }
      }
    }
  }
};

}  // namespace CONVNET_BF16_NS
}  // namespace convnet
