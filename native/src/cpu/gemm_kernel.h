// Packed, cache-blocked SGEMM engine (BLIS-style), written once and instantiated per instruction set.
//
// gemm_avx2.cpp and gemm_avx512.cpp define CONVNET_GEMM_NS (a namespace unique to the translation unit)
// and include this file; each is compiled with its own -m flags. Everything below lives in that
// namespace, so no inline function or template instantiation is shared between the two translation
// units (a shared COMDAT could otherwise hand AVX-512 code to an AVX2-only CPU).
//
// The micro-kernel uses GCC vector extensions: `Vec<W>` is a W-float vector. W = 8 maps to one ymm
// register under -mavx2, W = 16 to one zmm register under -mavx512f (and to a pair of ymm registers
// under -mavx2, which lets the AVX-512 geometry be tested on an AVX2-only machine with exactly the
// same source). Packing routines use AVX2 intrinsics, which both translation units may use.
//
// Layout (row-major C = alpha * op(A) * op(B) + beta * C):
//   packed A: micro-panels of MR rows of op(A); panel p holds a[k * MR + r] = op(A)[p*MR + r][k]
//   packed B: micro-panels of NR columns of op(B); panel q holds b[k * NR + c] = op(B)[k][q*NR + c]
//   rows / columns past the edge of the matrix are packed as zeros.
// Loops: jc (NC columns) -> pc (KC depth, pack B block) -> ic (MC rows, pack A block)
//        -> jr (NR) -> ir (MR) -> micro-kernel over kc.
// Each element of C is accumulated over k in the same order whatever M/N partitioning is used, and
// KC depends only on K, so results do not depend on the number of threads.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "gemm_engine.h"

#ifndef CONVNET_GEMM_NS
#error "define CONVNET_GEMM_NS before including gemm_kernel.h"
#endif

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"

namespace convnet {
namespace CONVNET_GEMM_NS {

template <int W>
struct VecT {
  typedef float type __attribute__((vector_size(W * 4)));
};
template <int W>
using Vec = typename VecT<W>::type;

template <int W>
static inline __attribute__((always_inline)) Vec<W> vfma(Vec<W> a, Vec<W> b, Vec<W> c) {
#if defined(__AVX512F__)
  if constexpr (W == 16) return (Vec<W>)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#endif
#if defined(__FMA__)
  if constexpr (W == 8) return (Vec<W>)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#endif
  return a * b + c;  // contracted to FMAs (gnu++17 default -ffp-contract=fast with -mfma)
}

template <int W>
static inline __attribute__((always_inline)) Vec<W> vload(const float* p) {  // unaligned
  Vec<W> v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
template <int W>
static inline __attribute__((always_inline)) void vstore(float* p, Vec<W> v) {  // unaligned
  __builtin_memcpy(p, &v, sizeof(v));
}

static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

// ---------------------------------------------------------------------------------------------
// Packing (AVX2). P is the panel width (MR for A, NR for B).

// 8-lane mask with the first n (0..8) lanes set.
static inline __m256i lane_mask(int64_t n) {
  alignas(32) static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - n));
}

// Source rows are contiguous along the panel direction: dst[k*P + r] = src[k*ld + r] for r < nv,
// 0 for nv <= r < P. Used for A (transA) and B (!transB). Never reads past src[k*ld + nv - 1].
// When P is not a multiple of 8, each row's last 8-float store spills into the next row (or the
// next panel, or the buffer's padding), which is written afterwards.
template <int P>
static void pack_copy(float* __restrict dst, const float* __restrict src, int64_t ld, int64_t kc,
                      int64_t nv) {
  constexpr int G = (P + 7) / 8;
  if (nv == P && P % 8 == 0) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* s = src + k * ld;
      float* d = dst + k * P;
#pragma GCC unroll 8
      for (int g = 0; g < G; ++g) _mm256_storeu_ps(d + 8 * g, _mm256_loadu_ps(s + 8 * g));
    }
    return;
  }
  __m256i masks[G];
  int cnt[G];
  for (int g = 0; g < G; ++g) {
    int64_t c = nv - 8 * g;
    c = c < 0 ? 0 : c > 8 ? 8 : c;
    cnt[g] = static_cast<int>(c);
    masks[g] = lane_mask(c);
  }
  for (int64_t k = 0; k < kc; ++k) {
    const float* s = src + k * ld;
    float* d = dst + k * P;
    for (int g = 0; g < G; ++g) {
      __m256 v = cnt[g] == 8   ? _mm256_loadu_ps(s + 8 * g)
                 : cnt[g] == 0 ? _mm256_setzero_ps()
                               : _mm256_maskload_ps(s + 8 * g, masks[g]);
      _mm256_storeu_ps(d + 8 * g, v);
    }
  }
}

static inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
  __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// Source rows run along k: dst[k*P + r] = src[r*ld + k] for r < nv, 0 for nv <= r < P.
// Used for A (!transA) and B (transB). Reads only src[r*ld + k] with r < nv, k < kc.
template <int P>
static void pack_transpose(float* __restrict dst, const float* __restrict src, int64_t ld, int64_t kc,
                           int64_t nv) {
  constexpr int G = (P + 7) / 8;
  const int64_t k8 = kc & ~int64_t(7);
  // Row groups of 8. A group that is partial within the panel (P % 8 != 0: the last one) spills
  // into the next k row, so it is stored first and the full groups overwrite the spill.
  int order[G];
  {
    int n = 0;
    if (P % 8) order[n++] = G - 1;
    for (int g = 0; g < G - (P % 8 ? 1 : 0); ++g) order[n++] = g;
  }
  for (int oi = 0; oi < G; ++oi) {
    const int g = order[oi];
    const int64_t r0 = 8 * g;
    int64_t rows = nv - r0;
    rows = rows < 0 ? 0 : rows > 8 ? 8 : rows;
    const float* s = src + r0 * ld;
    if (rows == 8) {
      for (int64_t k = 0; k < k8; k += 8) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + i * ld + k);
        transpose8(r);
        float* d = dst + k * P + r0;
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(d + i * P, r[i]);
      }
    } else {
      for (int64_t k = 0; k < k8; k += 8) {
        __m256 r[8];
        for (int i = 0; i < 8; ++i)
          r[i] = i < rows ? _mm256_loadu_ps(s + i * ld + k) : _mm256_setzero_ps();
        transpose8(r);
        float* d = dst + k * P + r0;
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(d + i * P, r[i]);
      }
    }
  }
  // k tail: scalar, writes every entry of the remaining rows (after the vector part's spills).
  for (int64_t k = k8; k < kc; ++k) {
    float* d = dst + k * P;
    for (int r = 0; r < P; ++r) d[r] = r < nv ? src[r * ld + k] : 0.f;
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel: C[0:m, 0:n] = alpha * (a-panel x b-panel) + beta * C (beta == 0: C is not read).
// MR rows x NR = NV*W columns, MR*NV accumulators.

template <int W, int MR, int NV>
static inline __attribute__((always_inline)) void micro_kernel(int64_t kc, const float* __restrict a,
                                                               const float* __restrict b, float* c,
                                                               int64_t ldc, float alpha, float beta,
                                                               int64_t m, int64_t n) {
  using V = Vec<W>;
  constexpr int NR = NV * W;
  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V{};

  if (m == MR) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) __builtin_prefetch(c + i * ldc, 1, 3);
  }

#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = *reinterpret_cast<const V*>(b + v * W);  // aligned
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const V av = V{} + a[i];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = vfma<W>(av, bv[v], acc[i][v]);
    }
    a += MR;
    b += NR;
  }

  const V va = V{} + alpha;
  if (m == MR && n == NR) {
    if (beta == 0.f) {
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) vstore<W>(c + i * ldc + v * W, va * acc[i][v]);
    } else {
      const V vb = V{} + beta;
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          float* p = c + i * ldc + v * W;
          vstore<W>(p, vfma<W>(va, acc[i][v], vb * vload<W>(p)));
        }
    }
    return;
  }
  // Edge tile: same arithmetic as above (alpha*acc, or fma(alpha, acc, beta*c)), element by element.
  alignas(64) float t[MR * NR];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) *reinterpret_cast<V*>(t + i * NR + v * W) = acc[i][v];
  for (int64_t i = 0; i < m; ++i) {
    float* p = c + i * ldc;
    const float* q = t + i * NR;
    if (beta == 0.f) {
      for (int64_t j = 0; j < n; ++j) p[j] = alpha * q[j];
    } else {
      for (int64_t j = 0; j < n; ++j) p[j] = __builtin_fmaf(alpha, q[j], beta * p[j]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Serial driver.

template <int W_, int MR_, int NV_, int KC_, int MC_, int NC_>
struct Config {
  static constexpr int W = W_, MR = MR_, NV = NV_, NR = NV_ * W_;
  static constexpr int KC = KC_, MC = MC_, NC = NC_;
};

template <class Cfg>
struct Engine {
  static constexpr int W = Cfg::W, MR = Cfg::MR, NV = Cfg::NV, NR = Cfg::NR;

  // Depth of the K blocks: depends on K only (keeps results independent of the M/N partitioning).
  static int64_t choose_kc(int64_t K) {
    int64_t nk = ceil_div(K, Cfg::KC);
    int64_t kc = round_up(ceil_div(K, nk), 8);
    return kc > K ? K : kc;
  }

  static void pack_a(float* dst, const gemm::Problem& p, int64_t i0, int64_t mc, int64_t k0,
                     int64_t kc) {
    for (int64_t r = 0; r < mc; r += MR) {
      const int64_t nv = min64(MR, mc - r);
      float* d = dst + r * kc;
      if (p.transA)  // A is K x M: row k holds op(A)[., k], contiguous along M
        pack_copy<MR>(d, p.A + k0 * p.lda + (i0 + r), p.lda, kc, nv);
      else
        pack_transpose<MR>(d, p.A + (i0 + r) * p.lda + k0, p.lda, kc, nv);
    }
  }

  static void pack_b(float* dst, const gemm::Problem& p, int64_t k0, int64_t kc, int64_t j0,
                     int64_t nc) {
    for (int64_t q = 0; q < nc; q += NR) {
      const int64_t nv = min64(NR, nc - q);
      float* d = dst + q * kc;
      if (p.transB)  // B is N x K
        pack_transpose<NR>(d, p.B + (j0 + q) * p.ldb + k0, p.ldb, kc, nv);
      else
        pack_copy<NR>(d, p.B + k0 * p.ldb + (j0 + q), p.ldb, kc, nv);
    }
  }

  static void scale_c(const gemm::Problem& p) {
    for (int64_t i = 0; i < p.M; ++i) {
      float* c = p.C + i * p.ldc;
      if (p.beta == 0.f)
        for (int64_t j = 0; j < p.N; ++j) c[j] = 0.f;
      else if (p.beta != 1.f)
        for (int64_t j = 0; j < p.N; ++j) c[j] *= p.beta;
    }
  }

  static void run(const gemm::Problem& p) {
    const int64_t M = p.M, N = p.N, K = p.K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || p.alpha == 0.f) {
      scale_c(p);
      return;
    }
    const int64_t kc_max = choose_kc(K);
    const int64_t mc_max = round_up(ceil_div(M, ceil_div(M, Cfg::MC)), MR);
    const int64_t nc_max = round_up(ceil_div(N, ceil_div(N, Cfg::NC)), NR);
    // Padding: the last panel's spilling 8-float stores (see pack_copy / pack_transpose).
    float* bp = gemm::scratch(1, static_cast<size_t>(nc_max * kc_max + 64));
    float* ap = gemm::scratch(0, static_cast<size_t>(mc_max * kc_max + 64));

    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = min64(nc_max, N - jc);
      for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = min64(kc_max, K - pc);
        const float beta = pc == 0 ? p.beta : 1.f;
        pack_b(bp, p, pc, kc, jc, nc);
        for (int64_t ic = 0; ic < M; ic += mc_max) {
          const int64_t mc = min64(mc_max, M - ic);
          pack_a(ap, p, ic, mc, pc, kc);
          float* c0 = p.C + ic * p.ldc + jc;
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int64_t n = min64(NR, nc - jr);
            const float* b = bp + jr * kc;
            for (int64_t ir = 0; ir < mc; ir += MR) {
              micro_kernel<W, MR, NV>(kc, ap + ir * kc, b, c0 + ir * p.ldc + jr, p.ldc, p.alpha,
                                      beta, min64(MR, mc - ir), n);
            }
          }
        }
      }
    }
  }
};

}  // namespace CONVNET_GEMM_NS
}  // namespace convnet

#pragma GCC diagnostic pop
