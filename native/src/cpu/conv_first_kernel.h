// First-layer convolution register tiles (FirstFwdArgs / FirstWgradArgs in conv_first.h), written once and
// instantiated per ISA: conv_first_avx2.cpp (-mavx2 -mfma: W = 8, and W = 16 lowered to ymm pairs to test the
// AVX-512 blocking on AVX2) and conv_first_avx512.cpp (W = 16), each in its own namespace CONVNET_FIRST_NS.
// Forward: OB weight vectors (W output channels each) and one broadcast input value per pixel per tap, OB·NP
// accumulators; the stride is a compile-time 4 (conv1) or read from the arguments. Weight gradient: OB dy vectors
// per pixel and one broadcast input value per tap, OB·NT accumulators.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "conv_first.h"

#ifndef CONVNET_FIRST_NS
#error "define CONVNET_FIRST_NS before including conv_first_kernel.h"
#endif

#pragma GCC diagnostic ignored "-Wpsabi"

namespace convnet {
namespace CONVNET_FIRST_NS {

#include "simd_vec.h"

template <int W>
static inline __attribute__((always_inline)) Vec<W> vload(const float* p) {
#if defined(__AVX512F__)
  if constexpr (W == 16) return (Vec<W>)_mm512_loadu_ps(p);
#endif
  if constexpr (W == 8) {
    return (Vec<W>)_mm256_loadu_ps(p);
  } else {
    Vec<W> r;
    __builtin_memcpy(&r, p, sizeof(r));
    return r;
  }
}
template <int W>
static inline __attribute__((always_inline)) Vec<W> vbroadcast(const float* p) {
#if defined(__AVX512F__)
  if constexpr (W == 16) return (Vec<W>)_mm512_set1_ps(*p);
#endif
  if constexpr (W == 8) {
    return (Vec<W>)_mm256_broadcast_ss(p);
  } else {
    const __m256 h = _mm256_broadcast_ss(p);
    Vec<W> r;
    __builtin_memcpy(&r, &h, 32);
    __builtin_memcpy(reinterpret_cast<char*>(&r) + 32, &h, 32);
    return r;
  }
}

template <int W, int OB, int NP, bool S4>
__attribute__((noinline)) void fwd_tile(const FirstFwdArgs& a) {
  using V = Vec<W>;
  V acc[OB][NP];
#pragma GCC unroll 4
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 12
    for (int p = 0; p < NP; ++p) acc[o][p] = a.accumulate ? vload<W>(a.out + o * a.out_ob + p * W) : V{};
  const int64_t px = S4 ? 4 : a.sw;
  for (int64_t c = 0; c < a.nc; ++c) {
    for (int64_t ky = 0; ky < a.kh; ++ky) {
      const float* xp = a.x + c * a.x_ch + ky * a.x_row;
      const float* wp = a.w + (c * a.kh + ky) * a.kw * W;
#pragma GCC unroll 4
      for (int64_t kx = 0; kx < a.kw; ++kx) {
        V wv[OB];
#pragma GCC unroll 4
        for (int o = 0; o < OB; ++o) wv[o] = vload<W>(wp + o * a.w_ob);
#pragma GCC unroll 12
        for (int p = 0; p < NP; ++p) {
          const V b = vbroadcast<W>(xp + p * px);
#pragma GCC unroll 4
          for (int o = 0; o < OB; ++o) acc[o][p] = vfma<W>(wv[o], b, acc[o][p]);
        }
        xp += 1;
        wp += W;
      }
    }
  }
#pragma GCC unroll 4
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 12
    for (int p = 0; p < NP; ++p) __builtin_memcpy(a.out + o * a.out_ob + p * W, &acc[o][p], sizeof(V));
}

template <int W, int OB, int NT, bool S4>
__attribute__((noinline)) void wgrad_tile(const FirstWgradArgs& a) {
  using V = Vec<W>;
  V acc[OB][NT];
#pragma GCC unroll 4
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 12
    for (int t = 0; t < NT; ++t) acc[o][t] = V{};
  const int64_t px = S4 ? 4 : a.sw;
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* xp = a.x + r * a.x_row;
    const float* dp = a.dy + r * a.ow * W;
#pragma GCC unroll 2
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      V d[OB];
#pragma GCC unroll 4
      for (int o = 0; o < OB; ++o) d[o] = vload<W>(dp + o * a.dy_ob);
#pragma GCC unroll 12
      for (int t = 0; t < NT; ++t) {
        const V b = vbroadcast<W>(xp + t);
#pragma GCC unroll 4
        for (int o = 0; o < OB; ++o) acc[o][t] = vfma<W>(d[o], b, acc[o][t]);
      }
      xp += px;
      dp += W;
    }
  }
  // the band's sums are added to the totals (a float32 sum per band, not one running sum over every pixel)
#pragma GCC unroll 4
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 12
    for (int t = 0; t < NT; ++t) {
      const V sum = vload<W>(a.acc + o * a.acc_ob + t * W) + acc[o][t];
      __builtin_memcpy(a.acc + o * a.acc_ob + t * W, &sum, sizeof(V));
    }
}

// v[i][j] → v[j][i] for a W×W block held in W vectors: log2(W) rounds of swapping the off-diagonal D×D sub-blocks
// of rows i and i + D (two-source shuffles with constant masks: vpermt2ps on AVX-512).
template <int W>
struct IVecT {
  typedef int type __attribute__((vector_size(W * 4)));
};
template <int W>
static inline __attribute__((always_inline)) void transpose(Vec<W> (&v)[W]) {
  using M = typename IVecT<W>::type;
#pragma GCC unroll 4
  for (int D = W / 2; D >= 1; D /= 2) {
    M lo, hi;
#pragma GCC unroll 16
    for (int j = 0; j < W; ++j) {
      lo[j] = (j & D) ? W + j - D : j;
      hi[j] = (j & D) ? W + j : j + D;
    }
#pragma GCC unroll 16
    for (int i = 0; i < W; ++i) {
      if (i & D) continue;
      const Vec<W> a = v[i], b = v[i + D];
      v[i] = __builtin_shuffle(a, b, lo);
      v[i + D] = __builtin_shuffle(a, b, hi);
    }
  }
}

template <int W>
static inline __attribute__((always_inline)) void store_n(float* p, Vec<W> v, int64_t n) {
  if (n == W) {
    __builtin_memcpy(p, &v, sizeof(v));
    return;
  }
#if defined(__AVX512F__)
  if constexpr (W == 16) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << n) - 1), (__m512)v);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i) p[i] = v[i];
}

// One output row of the forward's tile, res [nb][ow][W] (row_floats between blocks), to out[o][ow] (out_ch floats
// between channels) for the first `channels` channels, plus bias[o] (or 0 when bias is null).
// W pixels (n valid) × W channels (m valid) of res [pixel][W] → out[channel][pixel] (+ bias[channel]).
template <int W, bool FULL>
static inline __attribute__((always_inline)) void store_square(const float* r, float* out, int64_t out_ch,
                                                               const float* bias, int64_t n, int64_t m) {
  using V = Vec<W>;
  V v[W];
#pragma GCC unroll 16
  for (int p = 0; p < W; ++p) v[p] = FULL || p < n ? vload<W>(r + p * W) : V{};
  transpose<W>(v);
#pragma GCC unroll 16
  for (int j = 0; j < W; ++j) {
    if (!FULL && j >= m) break;
    const V o = bias ? v[j] + bias[j] : v[j];
    if (FULL)
      __builtin_memcpy(out + j * out_ch, &o, sizeof(V));
    else
      store_n<W>(out + j * out_ch, o, n);
  }
}

// One output row of a forward tile (FirstStoreArgs): whole W × W squares without a test per element.
template <int W>
__attribute__((noinline)) void store_row(const FirstStoreArgs& a) {
  for (int64_t cb = 0; cb * W < a.channels; ++cb) {
    const int64_t m = a.channels - cb * W < W ? a.channels - cb * W : W;
    const float* bias = a.bias ? a.bias + cb * W : nullptr;
    float* out = a.out + cb * W * a.out_ch;
    const float* r = a.res + cb * a.row_floats;
    int64_t ox0 = 0;
    if (m == W)
      for (; ox0 + W <= a.ow; ox0 += W) store_square<W, true>(r + ox0 * W, out + ox0, a.out_ch, bias, W, W);
    for (; ox0 < a.ow; ox0 += W) {
      const int64_t n = a.ow - ox0 < W ? a.ow - ox0 : W;
      store_square<W, false>(r + ox0 * W, out + ox0, a.out_ch, bias, n, m);
    }
  }
}

template <int W>
static inline __attribute__((always_inline)) Vec<W> load_n(const float* p, int64_t n) {
  if (n == W) return vload<W>(p);
#if defined(__AVX512F__)
  if constexpr (W == 16) return (Vec<W>)_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1), p);
#endif
  Vec<W> v{};
  for (int64_t i = 0; i < n; ++i) v[i] = p[i];
  return v;
}

// dy of one image, src [channels][pixels], to dst [blocks][pixels][W] (dst_ob floats between blocks; lanes past the
// last channel are left as they are).
template <int W>
__attribute__((noinline)) void block_rows(const FirstBlockArgs& a) {
  using V = Vec<W>;
  for (int64_t cb = 0; cb * W < a.channels; ++cb) {
    const int64_t m = a.channels - cb * W < W ? a.channels - cb * W : W;
    for (int64_t q0 = 0; q0 < a.pixels; q0 += W) {
      const int64_t n = a.pixels - q0 < W ? a.pixels - q0 : W;
      V v[W];
#pragma GCC unroll 16
      for (int j = 0; j < W; ++j) v[j] = j < m ? load_n<W>(a.src + (cb * W + j) * a.pixels + q0, n) : V{};
      transpose<W>(v);
      float* d = a.dst + cb * a.dst_ob + q0 * W;
#pragma GCC unroll 16
      for (int p = 0; p < W; ++p)
        if (p < n) __builtin_memcpy(d + p * W, &v[p], sizeof(V));
    }
  }
}

// Tables: entries np ≤ NPMAX for tiles of OB output blocks (the rest stay null and are never chosen).
template <int W, int OB, int... P>
void fill_row(FirstKernels& k, std::integer_sequence<int, P...>) {
  ((k.fwd[0][OB - 1][P] = &fwd_tile<W, OB, P + 1, false>), ...);
  ((k.fwd[1][OB - 1][P] = &fwd_tile<W, OB, P + 1, true>), ...);
  ((k.wgrad[0][OB - 1][P] = &wgrad_tile<W, OB, P + 1, false>), ...);
  ((k.wgrad[1][OB - 1][P] = &wgrad_tile<W, OB, P + 1, true>), ...);
}
constexpr int np_for(int acc, int ob) { return acc / ob < kFirstMaxNP ? acc / ob : kFirstMaxNP; }
template <int W, int ACC, int... O>
void fill(FirstKernels& k, std::integer_sequence<int, O...>) {
  (fill_row<W, O + 1>(k, std::make_integer_sequence<int, np_for(ACC, O + 1)>{}), ...);
  ((k.np_max[O] = np_for(ACC, O + 1)), ...);
}
// W-channel blocks, tiles of up to OB blocks with at most ACC accumulators.
template <int W, int OB, int ACC>
FirstKernels make(const char* name) {
  static_assert(OB <= kFirstMaxOB, "tile too large for the table");
  FirstKernels k{name, W, OB, {}, {}, {}, &store_row<W>, &block_rows<W>};
  fill<W, ACC>(k, std::make_integer_sequence<int, OB>{});
  return k;
}

}  // namespace CONVNET_FIRST_NS
}  // namespace convnet
