// Direct convolution register tiles (see DirectTileArgs in conv_direct.h), written once and instantiated per ISA:
// conv_direct_avx2.cpp (-mavx2 -mfma: W = 8, and W = 16 lowered to pairs of ymm registers to test the AVX-512
// blocking on AVX2) and conv_direct_avx512.cpp (W = 16), each in its own namespace CONVNET_DIRECT_NS, so that no
// inline function is shared between translation units built for different ISAs. GCC vector extensions: Vec<W> is
// a W-float vector (one ymm / zmm register).
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "conv_direct.h"

#ifndef CONVNET_DIRECT_NS
#error "define CONVNET_DIRECT_NS before including conv_direct_kernel.h"
#endif

#pragma GCC diagnostic ignored "-Wpsabi"

namespace convnet {
namespace CONVNET_DIRECT_NS {

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

// Within one filter row ky, tap kx and channel ci of the block are one flat index j = kx·W + ci: the input of pixel p
// is x[ky·x_row + p·sw·W + j] and the weights w[ob][ky][j][·], so each row is one simple loop over j (as the GEMM
// micro-kernel's loop over k). S1: stride 1, the pixels' offsets compile-time constants.
template <int W, int OB, int NP, bool S1>
__attribute__((noinline)) void tile(const DirectTileArgs& a) {
  using V = Vec<W>;
  V acc[OB][NP];
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) acc[o][p] = a.accumulate ? vload<W>(a.out + o * a.out_ob + p * W) : V{};
  const int64_t px = S1 ? W : a.sw * W, row = a.kw * W;
  for (int64_t ky = 0; ky < a.kh; ++ky) {
    const float* xp = a.x + ky * a.x_row;
    const float* wp = a.w + ky * row * W;
#pragma GCC unroll 4
    for (int64_t j = 0; j < row; ++j) {
      V wv[OB];
#pragma GCC unroll 8
      for (int o = 0; o < OB; ++o) wv[o] = vload<W>(wp + o * a.w_ob);
#pragma GCC unroll 16
      for (int p = 0; p < NP; ++p) {
        const V b = vbroadcast<W>(xp + p * px);
#pragma GCC unroll 8
        for (int o = 0; o < OB; ++o) acc[o][p] = vfma<W>(wv[o], b, acc[o][p]);
      }
      xp += 1;
      wp += W;
    }
  }
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 16
    for (int p = 0; p < NP; ++p) __builtin_memcpy(a.out + o * a.out_ob + p * W, &acc[o][p], sizeof(V));
}

// The tables tile[s1][ob − 1][np − 1] of a kernel set with tiles up to OB × NP.
template <int W, int OB, int NP, int... P>
void fill_row(DirectKernels& k, std::integer_sequence<int, P...>) {
  ((k.tile[0][OB - 1][P] = &tile<W, OB, P + 1, false>), ...);
  ((k.tile[1][OB - 1][P] = &tile<W, OB, P + 1, true>), ...);
}
template <int W, int OB, int NC>
__attribute__((noinline)) void wgrad_tile(const DirectWgradArgs& a) {
  using V = Vec<W>;
  V acc[OB][NC];
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 16
    for (int c = 0; c < NC; ++c) acc[o][c] = vload<W>(a.acc + o * a.acc_ob + c * W);
  for (int64_t r = 0; r < a.rows; ++r) {
    const float* xp = a.x + r * a.x_row;
    const float* dp = a.dy + r * a.ow * W;
#pragma GCC unroll 2
    for (int64_t ox = 0; ox < a.ow; ++ox) {
      V d[OB];
#pragma GCC unroll 8
      for (int o = 0; o < OB; ++o) d[o] = vload<W>(dp + o * a.dy_ob);
#pragma GCC unroll 16
      for (int c = 0; c < NC; ++c) {
        const V b = vbroadcast<W>(xp + c);
#pragma GCC unroll 8
        for (int o = 0; o < OB; ++o) acc[o][c] = vfma<W>(d[o], b, acc[o][c]);
      }
      xp += W;
      dp += W;
    }
  }
#pragma GCC unroll 8
  for (int o = 0; o < OB; ++o)
#pragma GCC unroll 16
    for (int c = 0; c < NC; ++c) __builtin_memcpy(a.acc + o * a.acc_ob + c * W, &acc[o][c], sizeof(V));
}

template <int W, int OB, int... C>
void fill_wgrad_row(DirectKernels& k, std::integer_sequence<int, C...>) {
  ((k.wgrad[OB - 1][C] = &wgrad_tile<W, OB, C + 1>), ...);
}
template <int W, int NC, int... O>
void fill_wgrad(DirectKernels& k, std::integer_sequence<int, O...>) {
  (fill_wgrad_row<W, O + 1>(k, std::make_integer_sequence<int, NC>{}), ...);
}

template <int W, int NP, int... O>
void fill(DirectKernels& k, std::integer_sequence<int, O...>) {
  (fill_row<W, O + 1, NP>(k, std::make_integer_sequence<int, NP>{}), ...);
}
template <int W, int OB, int NP, int WOB, int WNC>
DirectKernels make(const char* name) {
  static_assert(OB <= kDirectMaxOB && NP <= kDirectMaxNP && WOB <= kDirectMaxOB && WNC <= kDirectMaxNC,
                "tile too large for the table");
  DirectKernels k{name, W, OB, NP, {}, WOB, WNC, {}};
  fill<W, NP>(k, std::make_integer_sequence<int, OB>{});
  fill_wgrad<W, WNC>(k, std::make_integer_sequence<int, WOB>{});
  return k;
}

}  // namespace CONVNET_DIRECT_NS
}  // namespace convnet
