// Register-only FMA loop for measuring the machine's floating-point peak (bench only, see peak.cpp).
// Included by peak_avx512.cpp / peak_avx2.cpp, each compiled with its own -m flags, with
// CONVNET_PEAK_NS naming a namespace unique to the translation unit (no shared inline code).
#pragma once
#include <immintrin.h>

#include <cstdint>

namespace convnet {
namespace CONVNET_PEAK_NS {

// 12 independent chains of vector FMAs (enough to cover 2 FMA pipes x 4-5 cycles latency), `iters`
// rounds; returns a value derived from every chain so the compiler keeps all of them. (No asm barriers
// on the chains: with them GCC stored every chain to the stack each round, halving the rate.)
template <class V, V (*FMA)(V, V, V), V (*SET1)(float), V (*ADD)(V, V)>
static inline __attribute__((always_inline)) V fma_chains(int64_t iters) {
  V a[12];
  const V b = SET1(0.99999994f), c = SET1(1e-8f);
#pragma GCC unroll 12
  for (int i = 0; i < 12; ++i) a[i] = SET1(float(i + 1));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = FMA(a[i], b, c);
  }
  V s = a[0];
  for (int i = 1; i < 12; ++i) s = ADD(s, a[i]);
  return s;
}

}  // namespace CONVNET_PEAK_NS
}  // namespace convnet
