// Packed, cache-blocked SGEMM engine (BLIS-style), written once and instantiated per instruction set.
//
// gemm_avx2.cpp and gemm_avx512.cpp define CONVNET_GEMM_NS (a namespace unique to the translation
// unit) and include this file; each is compiled with its own -m flags. Everything below lives in
// that namespace (or has internal linkage), so no inline function or template instantiation is
// shared between the two translation units: a shared COMDAT copy could otherwise hand AVX-512 code
// to an AVX2-only CPU.
//
// The micro-kernel uses GCC vector extensions: `Vec<W>` is a W-float vector. W = 8 maps to one ymm
// register under -mavx2, W = 16 to one zmm register under -mavx512f (and to a pair of ymm registers
// under -mavx2, which lets the AVX-512 tile geometry be tested on an AVX2-only machine with exactly
// the same source: CONVNET_GEMM_EMULATE_AVX512=1). Packing uses AVX2 intrinsics, which both
// translation units may use.
//
// Layout (row-major C = alpha * op(A) * op(B) + beta * C):
//   packed A: micro-panels of MR rows of op(A); panel p holds a[k * MR + r] = op(A)[p*MR + r][k]
//   packed B: micro-panels of NR columns of op(B); panel q holds b[k * NR + c] = op(B)[k][q*NR + c]
//   rows / columns past the edge of the matrix are packed as zeros.
// Loops (Engine::run_shared):
//   M > MC: jc (NC columns) -> pc (KC depth; pack B block) -> ic (MC rows; pack A block)
//           -> jr (NR) -> ir (MR) -> micro-kernel over kc
//   M <= MC: pc (pack A block) -> jr (pack one B micro-panel into L1) -> ir -> micro-kernel
// A parallel sgemm (gemm.cpp) may pack one operand whole ahead, shared by the threads.
// Each element of C is accumulated over k in the same order whatever M/N partitioning is used, and
// KC depends only on K, so results do not depend on the number of threads.
#pragma once
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "gemm_engine.h"

#ifndef CONVNET_GEMM_NS
#error "define CONVNET_GEMM_NS before including gemm_kernel.h"
#endif

// Engine configurations: Config<vector width, MR, vectors per row of the tile (NR = NV * W), KC, MC, NC>.
// The AVX-512 one is also instantiated with AVX2 code (gemm_avx2.cpp) to test it on AVX2 machines.
#define CONVNET_GEMM_AVX2_CONFIG 8, 6, 2, 256, 144, 4080
#define CONVNET_GEMM_AVX512_CONFIG 16, 12, 2, 256, 144, 4096

// 16-wide vectors in the AVX2 file: the "changes the ABI" note is moot (everything is inlined).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace convnet {
namespace CONVNET_GEMM_NS {

#include "simd_vec.h"

// Broadcast. (x - 0 folds to x exactly; x + 0 would not, because of -0.)
template <int W>
static inline __attribute__((always_inline)) Vec<W> vset1(float x) {
  return x - Vec<W>{};
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

// Each lane rounded to bfloat16 (round to nearest even; NaN stays a quiet NaN) and widened back to float: the
// bf16 matmul precision's input rounding (gemm_bf16_kernel.h), for the direct dot products below.
template <int W>
static inline __attribute__((always_inline)) Vec<W> round_bf16(Vec<W> x) {
  typedef uint32_t U __attribute__((vector_size(W * 4)));
  typedef int32_t I __attribute__((vector_size(W * 4)));
  U u;
  __builtin_memcpy(&u, &x, sizeof(u));
  const U nan = (U)((I)((u & 0x7fffffffu) > 0x7f800000u));
  U r = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  r = (r & ~nan) | ((u | 0x00400000u) & 0xffff0000u & nan);
  Vec<W> y;
  __builtin_memcpy(&y, &r, sizeof(y));
  return y;
}
static inline float round_bf16(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  u = (u & 0x7fffffffu) > 0x7f800000u ? (u | 0x00400000u) & 0xffff0000u : (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  __builtin_memcpy(&f, &u, 4);
  return f;
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

// Stores the first CNT (1..8, compile-time) floats of v at d, exactly.
template <int CNT>
static inline __attribute__((always_inline)) void store_first(float* d, __m256 v) {
  static_assert(CNT >= 1 && CNT <= 8, "");
  if constexpr (CNT == 8) {
    _mm256_storeu_ps(d, v);
  } else {
    __m128 lo = _mm256_castps256_ps128(v);
    if constexpr (CNT >= 4) {
      _mm_storeu_ps(d, lo);
      if constexpr (CNT > 4) {
        __m128 hi = _mm256_extractf128_ps(v, 1);
        if constexpr (CNT == 5) _mm_store_ss(d + 4, hi);
        if constexpr (CNT >= 6) _mm_storel_pi(reinterpret_cast<__m64*>(d + 4), hi);
        if constexpr (CNT == 7) _mm_store_ss(d + 6, _mm_movehl_ps(hi, hi));
      }
    } else {
      if constexpr (CNT == 1) _mm_store_ss(d, lo);
      if constexpr (CNT >= 2) _mm_storel_pi(reinterpret_cast<__m64*>(d), lo);
      if constexpr (CNT == 3) _mm_store_ss(d + 2, _mm_movehl_ps(lo, lo));
    }
  }
}

// Every packing routine writes only inside its panels (never past them), so that different threads
// may pack neighbouring panels of one buffer at the same time. Within a panel, a row of P % 8
// floats may be written with a full 8-float store whose excess is rewritten by a later store.

// Source rows are contiguous along the panel direction: dst[k*P + r] = src[k*ld + r] for r < nv,
// 0 for nv <= r < P (one panel of width P). Used for A (transA) and B (!transB). Reads only
// src[k*ld + r] with r < nv.
template <int P>
__attribute__((noinline)) static void pack_copy(float* __restrict dst,
                                                const float* __restrict src, int64_t ld,
                                                int64_t kc, int64_t nv) {
  constexpr int G = P / 8, T = P % 8;
  int cnt[G + 1];
  __m256i masks[G + 1];
  for (int g = 0; g <= G; ++g) {
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
    if constexpr (T != 0) {  // spills into the next row (rewritten next), except in the last
      __m256 v = cnt[G] == 0 ? _mm256_setzero_ps() : _mm256_maskload_ps(s + 8 * G, masks[G]);
      if (k + 1 < kc)
        _mm256_storeu_ps(d + 8 * G, v);
      else
        store_first<T>(d + 8 * G, v);
    }
  }
}

// pack_copy for a block of n (>= 0) rows/columns, in panels of P: each source row is read once,
// front to back (k outer), which suits long strides between rows. The last, partial panel goes
// through pack_copy.
template <int P>
__attribute__((noinline)) static void pack_copy_block(float* __restrict dst,
                                                      const float* __restrict src, int64_t ld,
                                                      int64_t kc, int64_t n) {
  constexpr int G = P / 8, T = P % 8;
  const int64_t full = n / P;
  const int64_t pstride = kc * P;
  if (full > 0) {
    for (int64_t k = 0; k < kc; ++k) {
      const float* s = src + k * ld;
      float* d = dst + k * P;
      const bool last = k + 1 == kc;
      for (int64_t q = 0; q < full; ++q, s += P, d += pstride) {
#pragma GCC unroll 8
        for (int g = 0; g < G; ++g) _mm256_storeu_ps(d + 8 * g, _mm256_loadu_ps(s + 8 * g));
        if constexpr (T != 0) {  // spills into row k + 1 of the panel (written next), but the last
          const __m256 v = _mm256_maskload_ps(s + 8 * G, lane_mask(T));
          if (!last)
            _mm256_storeu_ps(d + 8 * G, v);
          else
            store_first<T>(d + 8 * G, v);
        }
      }
    }
  }
  if (n > full * P) pack_copy<P>(dst + full * pstride, src + full * P, ld, kc, n - full * P);
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

// 8 rows (of which `rows` are real) x 8 k's, transposed into d[kk*P + (0..CNT-1)], kk = 0..7.
// With SPILL, rows kk < 7 are written with full 8-float stores whose excess lands at the start of
// row kk + 1 (overwritten afterwards by the caller), and row 7 exactly unless spill7.
template <int P, int CNT, bool SPILL>
static inline __attribute__((always_inline)) void transpose_group(float* d, const float* s,
                                                                  int64_t ld, int64_t k,
                                                                  int64_t rows, bool spill7) {
  __m256 r[8];
  if (rows == 8) {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(s + i * ld + k);
  } else {
    for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm256_loadu_ps(s + i * ld + k) : _mm256_setzero_ps();
  }
  transpose8(r);
  if constexpr (SPILL) {
#pragma GCC unroll 8
    for (int i = 0; i < 7; ++i) _mm256_storeu_ps(d + i * P, r[i]);
    if (spill7)
      _mm256_storeu_ps(d + 7 * P, r[7]);
    else
      store_first<CNT>(d + 7 * P, r[7]);
  } else {
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) store_first<CNT>(d + i * P, r[i]);
  }
}

// Source rows run along k: dst[k*P + r] = src[r*ld + k] for r < nv, 0 for nv <= r < P (one
// panel). Used for A (!transA) and B (transB). Reads only src[r*ld + k] with r < nv, k < kc.
template <int P>
__attribute__((noinline)) static void pack_transpose(float* __restrict dst,
                                                     const float* __restrict src, int64_t ld,
                                                     int64_t kc, int64_t nv) {
  constexpr int G = P / 8, T = P % 8;
  const int64_t k8 = kc & ~int64_t(7);
  // Group by group of 8 rows, each along all of k: a group's 8 source lines are used up (two 8-float
  // reads each) before the next group's are touched. Rows a multiple of 4 KiB apart (K = 1024,
  // 9216, ...) fall in the same L1 set, which holds only 8 lines: touching all P rows at each k
  // would evict every line between its two reads.
  // Along the way, the same rows of the next panel (P rows on), one line per 16 floats, are
  // prefetched: rows are long strides apart and short (kc floats), too short for the hardware
  // prefetcher to catch on.
  const bool pf = nv == P;
  // The partial group (P % 8 rows) first: its spilling stores land in the next k row, at the
  // start of the panel row, which the full groups (or the next chunk, or the k tail) rewrite.
  // Only the panel's very last row is stored exactly.
  if constexpr (T != 0) {
    int64_t rows = nv - 8 * G;
    rows = rows < 0 ? 0 : rows > 8 ? 8 : rows;
    for (int64_t k = 0; k < k8; k += 8) {
      if ((k & 15) == 0 && pf) {
#pragma GCC unroll 8
        for (int i = 8 * G; i < P; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(src + (i + P) * ld + k), _MM_HINT_T0);
      }
      transpose_group<P, T, true>(dst + k * P + 8 * G, src + 8 * G * ld, ld, k, rows, k + 8 < kc);
    }
  }
  for (int g = 0; g < G; ++g) {
    int64_t rows = nv - 8 * g;
    rows = rows < 0 ? 0 : rows > 8 ? 8 : rows;
    for (int64_t k = 0; k < k8; k += 8) {
      if ((k & 15) == 0 && pf) {
#pragma GCC unroll 8
        for (int i = 8 * g; i < 8 * g + 8; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(src + (i + P) * ld + k), _MM_HINT_T0);
      }
      transpose_group<P, 8, false>(dst + k * P + 8 * g, src + 8 * g * ld, ld, k, rows, false);
    }
  }
  for (int64_t k = k8; k < kc; ++k) {  // k tail
    float* d = dst + k * P;
    for (int r = 0; r < P; ++r) d[r] = r < nv ? src[r * ld + k] : 0.f;
  }
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel: C[0:m, 0:n] = alpha * (a-panel x b-panel) + beta * C (beta == 0: C is not read).
// MR rows x NR = NV*W columns, MR*NV accumulators. The A panel's rows are AS floats apart
// (AS = the engine's MR; a kernel with fewer rows serves the last, partial row panel).
template <int W, int MR, int NV, int AS = MR>
static inline __attribute__((always_inline)) void micro_kernel(int64_t kc, const float* __restrict a,
                                                               const float* __restrict b, float* c,
                                                               int64_t ldc, float alpha, float beta,
                                                               int64_t m, int64_t n,
                                                               const float* pf, int64_t pf_step) {
  using V = Vec<W>;
  constexpr int NR = NV * W;
  V acc[MR][NV];
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V{};

  if (m == MR) {  // the C tile: first and last float of each row (rows may straddle lines)
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      __builtin_prefetch(c + i * ldc, 1, 3);
      __builtin_prefetch(c + i * ldc + NR - 1, 1, 3);
    }
  }

#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    // Bring the next micro-panel (of B after the last row panel, else of A) into L1 meanwhile.
    __builtin_prefetch(pf + k * pf_step, 0, 3);
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = *reinterpret_cast<const V*>(b + v * W);  // aligned
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const V av = vset1<W>(a[i]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = vfma<W>(av, bv[v], acc[i][v]);
    }
    a += AS;
    b += NR;
  }

  const V va = vset1<W>(alpha);
  if (m == MR && n == NR) {
    if (beta == 0.f) {
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) vstore<W>(c + i * ldc + v * W, va * acc[i][v]);
    } else {
      const V vb = vset1<W>(beta);
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
// Driver.

template <int W_, int MR_, int NV_, int KC_, int MC_, int NC_>
struct Config {
  static constexpr int W = W_, MR = MR_, NV = NV_, NR = NV_ * W_;
  static constexpr int KC = KC_, MC = MC_, NC = NC_;
};

template <class Cfg>
struct Engine {
  static constexpr int W = Cfg::W, MR = Cfg::MR, NV = Cfg::NV, NR = Cfg::NR;

  // Kernels for a last row panel of R < MR rows (no work on the padding rows).
  using EdgeFn = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float,
                          int64_t, const float*);
  template <int R>
  static void edge_rows(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                        float alpha, float beta, int64_t n, const float* b_next) {
    micro_kernel<W, R, NV, MR>(kc, a, b, c, ldc, alpha, beta, R, n, b_next, NR);
  }
  template <int... R>
  static EdgeFn edge_table(int r, std::integer_sequence<int, R...>) {
    static constexpr EdgeFn t[] = {&edge_rows<R + 1>...};
    return t[r - 1];
  }
  static EdgeFn edge_rows_kernel(int64_t r) {  // 1 <= r < MR
    return edge_table(static_cast<int>(r), std::make_integer_sequence<int, MR - 1>{});
  }

  // Depth of the K blocks: depends on K only, so every way of cutting M and N (threads) sums each
  // element of C in the same order.
  static int64_t choose_kc(int64_t K) {
    if (K <= Cfg::KC) return K;
    int64_t nk = ceil_div(K, Cfg::KC);
    int64_t kc = round_up(ceil_div(K, nk), 8);
    return kc > K ? K : kc;
  }

  // Rows i0..i0+mc of op(A), depth k0..k0+kc, into MR-row panels at dst.
  static void pack_a(float* dst, const gemm::Problem& p, int64_t i0, int64_t mc, int64_t k0,
                     int64_t kc) {
    if (p.transA) {  // A is K x M: row k holds op(A)[., k], contiguous along M
      pack_copy_block<MR>(dst, p.A + k0 * p.lda + i0, p.lda, kc, mc);
      return;
    }
    for (int64_t r = 0; r < mc; r += MR)  // A is M x K: rows run along k
      pack_transpose<MR>(dst + r * kc, p.A + (i0 + r) * p.lda + k0, p.lda, kc, min64(MR, mc - r));
  }

  // Columns j0..j0+nc of op(B), depth k0..k0+kc, into NR-column panels at dst.
  static void pack_b(float* dst, const gemm::Problem& p, int64_t k0, int64_t kc, int64_t j0,
                     int64_t nc) {
    if (!p.transB) {
      pack_copy_block<NR>(dst, p.B + k0 * p.ldb + j0, p.ldb, kc, nc);
      return;
    }
    for (int64_t q = 0; q < nc; q += NR)  // B is N x K: rows run along k
      pack_transpose<NR>(dst + q * kc, p.B + (j0 + q) * p.ldb + k0, p.ldb, kc, min64(NR, nc - q));
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

  // A region of memory to prefetch while the macro-kernel computes: `rows` rows of `len` floats,
  // `ld` floats apart (the source of the next block or panel of B, which the packing routine would
  // otherwise read from DRAM in short, latency-bound pieces).
  struct Prefetch {
    const float* base = nullptr;
    int64_t ld = 0, rows = 0, len = 0;
  };

  // Issues a region's prefetches a few at a time, spread over `steps` steps: per row, one per
  // 64 bytes from its start plus one at its last byte (rows need not be line-aligned).
  struct Prefetcher {
    const char* row;
    int64_t ld_bytes, rows_left, last_byte, per_step, off = 0;
    Prefetcher(const Prefetch& f, int64_t steps)
        : row(reinterpret_cast<const char*>(f.base)), ld_bytes(f.ld * 4),
          rows_left(f.len > 0 ? f.rows : 0), last_byte(f.len * 4 - 1),
          per_step(steps > 0 && f.len > 0 ? ceil_div(f.rows * ((f.len * 4 + 63) / 64 + 1), steps)
                                          : 0) {}
    inline __attribute__((always_inline)) void step() {
      for (int64_t t = per_step; t > 0 && rows_left > 0; --t) {
        _mm_prefetch(row + (off < last_byte ? off : last_byte), _MM_HINT_T0);
        off += 64;
        if (off >= last_byte + 64) {
          off = 0;
          row += ld_bytes;
          --rows_left;
        }
      }
    }
  };

  // Where the B block (depth k0..k0+kc, columns j0..j0+nc) comes from.
  static Prefetch b_source(const gemm::Problem& p, int64_t k0, int64_t kc, int64_t j0, int64_t nc) {
    Prefetch f;
    if (p.transB) {
      f.base = p.B + j0 * p.ldb + k0;
      f.rows = nc;
      f.len = kc;
    } else {
      f.base = p.B + k0 * p.ldb + j0;
      f.rows = kc;
      f.len = nc;
    }
    f.ld = p.ldb;
    return f;
  }

  // One column panel of C: C[0:mc, 0:n] (+)= packed A block x packed B micro-panel b.
  static inline __attribute__((always_inline)) void panel(int64_t mc, int64_t n, int64_t kc,
                                                          const float* ap, const float* b,
                                                          float* c, int64_t ldc, float alpha,
                                                          float beta, Prefetcher& pf,
                                                          const float* b_next) {
    const int64_t full = mc / MR * MR;
    for (int64_t ir = 0; ir < full; ir += MR) {
      pf.step();
      const bool last = ir + MR >= mc;
      micro_kernel<W, MR, NV>(kc, ap + ir * kc, b, c + ir * ldc, ldc, alpha, beta, MR, n,
                              last ? b_next : ap + (ir + MR) * kc, last ? NR : MR);
    }
    if (full < mc) {
      pf.step();
      edge_rows_kernel(mc - full)(kc, ap + full * kc, b, c + full * ldc, ldc, alpha, beta, n,
                                  b_next);
    }
  }

  // C[0:mc, 0:nc] (+)= packed A block x packed B block.
  __attribute__((noinline)) static void macro_kernel(int64_t mc, int64_t nc, int64_t kc,
                                                     const float* ap, const float* bp, float* c,
                                                     int64_t ldc, float alpha, float beta,
                                                     Prefetch next) {
    Prefetcher pf(next, ceil_div(nc, NR) * ceil_div(mc, MR));
    for (int64_t jr = 0; jr < nc; jr += NR) {
      const float* b = bp + jr * kc;
      panel(mc, min64(NR, nc - jr), kc, ap, b, c + jr, ldc, alpha, beta, pf, b + NR * kc);
    }
  }

  // The same for all of C's rows (M <= MC) with B packed one micro-panel at a time, just before
  // use, into a small buffer that stays in L1 (a packed B block would be used only once here).
  // The next panel's source is prefetched meanwhile when B is large.
  __attribute__((noinline)) static void macro_kernel_fused(const gemm::Problem& p, int64_t k0,
                                                           int64_t kc, const float* ap,
                                                           float* bbuf, float beta,
                                                           bool prefetch) {
    const int64_t mc = p.M, N = p.N;
    const int64_t steps = ceil_div(mc, MR);
    for (int64_t jr = 0; jr < N; jr += NR) {
      const int64_t n = min64(NR, N - jr);
      if (p.transB)
        pack_transpose<NR>(bbuf, p.B + jr * p.ldb + k0, p.ldb, kc, n);
      else
        pack_copy<NR>(bbuf, p.B + k0 * p.ldb + jr, p.ldb, kc, n);
      Prefetch next;
      if (prefetch) {
        if (jr + NR < N)
          next = b_source(p, k0, kc, jr + NR, min64(NR, N - jr - NR));
        else if (k0 + kc < p.K)
          next = b_source(p, k0 + kc, min64(kc, p.K - k0 - kc), 0, min64(NR, N));
      }
      Prefetcher pf(next, steps);
      panel(mc, n, kc, ap, bbuf, p.C + jr, p.ldc, p.alpha, beta, pf, bbuf);
    }
  }

  // ----- Whole operands packed ahead (shared by the threads of a parallel sgemm) -----
  // Layout of a fully packed op(A): depth block by depth block (pc = 0, kc_max, ...), each block
  // holding its MR-row panels: panel r/MR of block pc starts at pc * round_up(M, MR) + r * kc.
  // Likewise op(B) with NR-column panels and round_up(N, NR).
  static size_t packed_a_floats(int64_t M, int64_t K) { return size_t(round_up(M, MR) * K); }
  static size_t packed_b_floats(int64_t N, int64_t K) { return size_t(round_up(N, NR) * K); }

  // Packs rows r0..r1 (r0 a multiple of MR; r1 one too, or M) of op(A), every depth block.
  static void pack_a_full(const gemm::Problem& p, float* dst, int64_t r0, int64_t r1) {
    const int64_t kc_max = choose_kc(p.K), ld = round_up(p.M, MR);
    for (int64_t pc = 0; pc < p.K; pc += kc_max) {
      const int64_t kc = min64(kc_max, p.K - pc);
      pack_a(dst + pc * ld + r0 * kc, p, r0, r1 - r0, pc, kc);
    }
  }
  static void pack_b_full(const gemm::Problem& p, float* dst, int64_t c0, int64_t c1) {
    const int64_t kc_max = choose_kc(p.K), ld = round_up(p.N, NR);
    for (int64_t pc = 0; pc < p.K; pc += kc_max) {
      const int64_t kc = min64(kc_max, p.K - pc);
      pack_b(dst + pc * ld + c0 * kc, p, pc, kc, c0, c1 - c0);
    }
  }

  // Serial GEMM of p, or of a block of a larger problem whose op(A) (or op(B)) is already packed:
  // a.base (b.base) non-null, p's rows (columns) starting at row (column) a.first (b.first) of it.
  static void run_shared(const gemm::Problem& p, const gemm::Packed& a, const gemm::Packed& b) {
    const int64_t M = p.M, N = p.N, K = p.K;
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || p.alpha == 0.f) {
      scale_c(p);
      return;
    }
    const int64_t kc_max = choose_kc(K);
    const int64_t mc_max = round_up(ceil_div(M, ceil_div(M, Cfg::MC)), MR);
    const int64_t nc_max = round_up(ceil_div(N, ceil_div(N, Cfg::NC)), NR);
    float* abuf = a.base ? nullptr : gemm::scratch(0, size_t(mc_max * kc_max));
    // A block (rows ic.., depth block pc of depth kc): packed here, or found in a.
    auto a_block = [&](int64_t ic, int64_t mc, int64_t pc, int64_t kc) -> const float* {
      if (a.base) return a.base + pc * a.ld + (a.first + ic) * kc;
      pack_a(abuf, p, ic, mc, pc, kc);
      return abuf;
    };
    // Large B (read from memory once, rows far apart, which the hardware prefetchers do not see
    // coming): prefetch the source of the next B panel / block while computing with this one.
    const bool prefetch_b = !b.base && K * N * 4 > (int64_t(4) << 20);

    if (M <= mc_max && !b.base) {
      // One block of rows: pack A once per depth block, B one micro-panel at a time.
      float* bbuf = gemm::scratch(1, size_t(NR * kc_max));
      for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = min64(kc_max, K - pc);
        macro_kernel_fused(p, pc, kc, a_block(0, M, pc, kc), bbuf, pc == 0 ? p.beta : 1.f,
                           prefetch_b);
      }
      return;
    }
    float* bbuf = b.base ? nullptr : gemm::scratch(1, size_t(nc_max * kc_max));
    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = min64(nc_max, N - jc);
      for (int64_t pc = 0; pc < K; pc += kc_max) {
        const int64_t kc = min64(kc_max, K - pc);
        const float beta = pc == 0 ? p.beta : 1.f;
        const float* bp;
        if (b.base) {
          bp = b.base + pc * b.ld + (b.first + jc) * kc;
        } else {
          pack_b(bbuf, p, pc, kc, jc, nc);
          bp = bbuf;
        }
        // The next B block, prefetched over this block's macro-kernels when B is large.
        Prefetch next;
        if (prefetch_b) {
          if (pc + kc < K)
            next = b_source(p, pc + kc, min64(kc_max, K - pc - kc), jc, nc);
          else if (jc + nc < N)
            next = b_source(p, 0, kc_max, jc + nc, min64(nc_max, N - jc - nc));
        }
        const int64_t n_ic = ceil_div(M, mc_max);
        for (int64_t ic = 0, i = 0; ic < M; ic += mc_max, ++i) {
          const int64_t mc = min64(mc_max, M - ic);
          const float* ap = a_block(ic, mc, pc, kc);
          Prefetch part = next;  // this macro-kernel's share of the rows
          const int64_t r0 = next.rows * i / n_ic, r1 = next.rows * (i + 1) / n_ic;
          part.base = next.base + r0 * next.ld;
          part.rows = r1 - r0;
          macro_kernel(mc, nc, kc, ap, bp, p.C + ic * p.ldc + jc, p.ldc, p.alpha, beta, part);
        }
      }
    }
  }

  static void run(const gemm::Problem& p) {
    const gemm::Packed none{nullptr, 0, 0};
    run_shared(p, none, none);
  }

  // ----- Few rows times a transposed B (x · Wᵀ of a linear layer at batch 1..4) -----
  // C[m, j0..j1) = alpha * dot(A row m, B row j) + beta * C (beta == 0: C not read), A M x K (M <= 4),
  // B N x K, both rows contiguous. Each B row is read once, straight from memory, with no packing (the
  // packed path would read, write and re-read all of B: 3x the traffic of this memory-bound product).
  // Each dot product: W-lane partial sums over k in order, the lanes added pairwise, then the k tail: a
  // fixed order whatever range of j a thread gets.
  // BF16: the bf16 matmul precision's numbers (both inputs rounded to bf16, products summed in float32): A's
  // rows are rounded once into a scratch buffer, B's as they are loaded (memory-bound: the rounding is free).
  template <int MROWS, bool BF16 = false>
  static void dots(const gemm::Problem& p, int64_t j0, int64_t j1) {
    using V = Vec<W>;
    constexpr int J = 4;  // B rows per step
    const int64_t K = p.K, kv = K / W * W;
    const float* A = p.A;
    int64_t lda = p.lda;
    if constexpr (BF16) {
      float* r = gemm::scratch(0, size_t(MROWS * K));
      for (int m = 0; m < MROWS; ++m) {
        int64_t k = 0;
        for (; k < kv; k += W) vstore<W>(r + m * K + k, round_bf16<W>(vload<W>(p.A + m * p.lda + k)));
        for (; k < K; ++k) r[m * K + k] = round_bf16(p.A[m * p.lda + k]);
      }
      A = r;
      lda = K;
    }
    auto ld = [](const float* q) {
      if constexpr (BF16)
        return round_bf16<W>(vload<W>(q));
      else
        return vload<W>(q);
    };
    auto sc = [](float x) {
      if constexpr (BF16)
        return round_bf16(x);
      else
        return x;
    };
    auto hsum = [](V v) {
      float t[W];
      __builtin_memcpy(t, &v, sizeof(v));
      for (int w = W / 2; w >= 1; w /= 2)
        for (int i = 0; i < w; ++i) t[i] += t[i + w];
      return t[0];
    };
    auto finish = [&](int m, int64_t j, float dot) {
      float* c = p.C + m * p.ldc + j;
      *c = p.beta == 0.f ? p.alpha * dot : __builtin_fmaf(p.alpha, dot, p.beta * *c);
    };
    int64_t j = j0;
    for (; j + J <= j1; j += J) {
      V acc[MROWS][J];
      for (int m = 0; m < MROWS; ++m)
        for (int q = 0; q < J; ++q) acc[m][q] = V{};
      const float* b = p.B + j * p.ldb;
      for (int64_t k = 0; k < kv; k += W) {
        V bv[J];
#pragma GCC unroll 4
        for (int q = 0; q < J; ++q) bv[q] = ld(b + q * p.ldb + k);
#pragma GCC unroll 4
        for (int m = 0; m < MROWS; ++m) {
          const V av = vload<W>(A + m * lda + k);
#pragma GCC unroll 4
          for (int q = 0; q < J; ++q) acc[m][q] = vfma<W>(av, bv[q], acc[m][q]);
        }
      }
      for (int m = 0; m < MROWS; ++m)
        for (int q = 0; q < J; ++q) {
          float d = hsum(acc[m][q]);
          for (int64_t k = kv; k < K; ++k) d = __builtin_fmaf(A[m * lda + k], sc(b[q * p.ldb + k]), d);
          finish(m, j + q, d);
        }
    }
    for (; j < j1; ++j) {  // last columns, one at a time (the same arithmetic)
      V acc[MROWS];
      for (int m = 0; m < MROWS; ++m) acc[m] = V{};
      const float* b = p.B + j * p.ldb;
      for (int64_t k = 0; k < kv; k += W) {
        const V bv = ld(b + k);
        for (int m = 0; m < MROWS; ++m) acc[m] = vfma<W>(vload<W>(A + m * lda + k), bv, acc[m]);
      }
      for (int m = 0; m < MROWS; ++m) {
        float d = hsum(acc[m]);
        for (int64_t k = kv; k < K; ++k) d = __builtin_fmaf(A[m * lda + k], sc(b[k]), d);
        finish(m, j, d);
      }
    }
  }
  template <bool BF16 = false>
  static void run_dots(const gemm::Problem& p, int64_t j0, int64_t j1) {
    switch (p.M) {
      case 1: dots<1, BF16>(p, j0, j1); break;
      case 2: dots<2, BF16>(p, j0, j1); break;
      case 3: dots<3, BF16>(p, j0, j1); break;
      default: dots<4, BF16>(p, j0, j1); break;
    }
  }

  static gemm::EngineInfo info(const char* name) {
    gemm::EngineInfo e{};
    e.name = name;
    e.run_dots = &run_dots<false>;
    e.mr = MR;
    e.nr = NR;
    e.run = &run;
    e.run_shared = &run_shared;
    e.packed_a_floats = &packed_a_floats;
    e.packed_b_floats = &packed_b_floats;
    e.pack_a_full = &pack_a_full;
    e.pack_b_full = &pack_b_full;
    return e;
  }
};

}  // namespace CONVNET_GEMM_NS
}  // namespace convnet

