// The machine's measured floating-point peak: a register-only FMA loop on the widest vectors the CPU
// has (AVX-512, AVX2 + FMA, or SSE2 multiply + add), for the "% of peak" column of the benchmarks.
#pragma once
#include <cstdint>

namespace convnet {

struct FmaPeak {
  double best_gflops;    // best round: what the cores can do
  double median_gflops;  // median round: what they did while other processes shared them
  int threads;           // threads that ran the loop at once
  int vector_floats;     // 16 (AVX-512), 8 (AVX2), 4 (SSE2, no FMA)
  int rounds;
};

// Runs the loop on `threads` pool threads at once (1 ..  num_threads()) in rounds of about 2 ms
// for about `seconds` in all.
FmaPeak fma_peak(double seconds, int threads);

}  // namespace convnet
