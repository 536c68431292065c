// Measured FMA peak (convnet/peak.h): picks the loop for the CPU (peak_avx512.cpp, peak_avx2.cpp, or the
// SSE2 one here), runs it on `threads` pool threads at once, round after round, and times each round.
#include "convnet/peak.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "convnet/cpu_features.h"
#include "convnet/threadpool.h"

namespace convnet {

float fma_loop_avx512(int64_t iters);  // peak_avx512.cpp
float fma_loop_avx2(int64_t iters);    // peak_avx2.cpp

namespace {

typedef float V4 __attribute__((vector_size(16)));

// Baseline x86-64 (SSE2): 12 chains of multiply + add, 4 floats wide.
float loop_sse2(int64_t iters) {
  V4 a[12];
  const V4 b = 0.99999994f - V4{}, c = 1e-8f - V4{};
  for (int i = 0; i < 12; ++i) a[i] = float(i + 1) - V4{};
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = a[i] * b + c;
  }
  V4 s = a[0];
  for (int i = 1; i < 12; ++i) s += a[i];
  return s[0] + s[3];
}

}  // namespace

FmaPeak fma_peak(double seconds, int threads) {
  const CpuFeatures& f = cpu_features();
  const int width = f.avx512 ? 16 : f.avx2 ? 8 : 4;
  float (*loop)(int64_t) = f.avx512 ? fma_loop_avx512 : f.avx2 ? fma_loop_avx2 : loop_sse2;
  threads = std::max(1, std::min(threads, num_threads()));
  using clock = std::chrono::steady_clock;
  const double flops_per_iter = 2.0 * 12 * width;  // an FMA (or multiply + add) is 2 flops per lane
  // Calibrate one thread's iterations to about 2 ms per round: short enough that some rounds fall in a
  // window where other processes leave the cores alone (a scheduler slice is a few ms when they do not).
  int64_t iters = 1 << 16;
  for (;;) {
    const auto t0 = clock::now();
    volatile float sink = loop(iters);
    (void)sink;
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    if (s > 2e-3 || iters > (int64_t(1) << 34)) {
      iters = std::max<int64_t>(1, static_cast<int64_t>(double(iters) * 2e-3 / std::max(s, 1e-9)));
      break;
    }
    iters *= 4;
  }
  std::vector<double> rates;
  const auto start = clock::now();
  do {
    const auto t0 = clock::now();
    parallel_for(threads, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        volatile float sink = loop(iters);
        (void)sink;
      }
    });
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    rates.push_back(flops_per_iter * double(iters) * threads / s / 1e9);
  } while (std::chrono::duration<double>(clock::now() - start).count() < seconds || rates.size() < 3);
  std::vector<double> sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  return FmaPeak{sorted.back(), sorted[sorted.size() / 2], threads, width, static_cast<int>(rates.size())};
}

}  // namespace convnet
