// Shared helpers of the lab (in the spirit of llm.c's dev/cuda/common.h): error checks, seeded inputs,
// a correctness check against the CPU that prints the first mismatches, and a timer over repeats.
#pragma once
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CUDA_CHECK(call)                                                                            \
  do {                                                                                              \
    cudaError_t e_ = (call);                                                                        \
    if (e_ != cudaSuccess) {                                                                        \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, cudaGetErrorName(e_), cudaGetErrorString(e_)); \
      std::exit(1);                                                                                 \
    }                                                                                               \
  } while (0)

// Deterministic uniform [-1, 1) values (xorshift), the same on every run.
inline std::vector<float> make_random(size_t n, uint32_t seed = 42) {
  std::vector<float> v(n);
  uint32_t s = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    s ^= s << 13; s ^= s >> 17; s ^= s << 5;
    v[i] = static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
  }
  return v;
}

template <class T>
T* to_device(const std::vector<T>& h) {
  T* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, h.size() * sizeof(T) + 16));
  CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

template <class T>
T* device_alloc(size_t n) {
  T* d = nullptr;
  CUDA_CHECK(cudaMalloc(&d, n * sizeof(T) + 16));
  CUDA_CHECK(cudaMemset(d, 0, n * sizeof(T) + 16));
  return d;
}

// Compares a device result with the CPU reference: |got − want| <= atol + rtol·|want|. Returns true if all pass.
inline bool validate(const char* name, const float* d_got, const std::vector<float>& want, float rtol = 1e-4f,
                     float atol = 1e-5f) {
  std::vector<float> got(want.size());
  CUDA_CHECK(cudaMemcpy(got.data(), d_got, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    worst = err > worst ? err : worst;
    const bool ok = err <= atol + rtol * std::fabs(want[i]) || (std::isnan(want[i]) && std::isnan(got[i]));
    if (!ok && bad++ < 5) std::printf("  %s: [%zu] want %.7g got %.7g\n", name, i, want[i], got[i]);
  }
  std::printf("%-28s %s (largest error %.3g, %d mismatches)\n", name, bad ? "FAIL" : "ok", worst, bad);
  return bad == 0;
}

// Mean milliseconds of `repeats` runs of f() after one warm-up.
template <class F>
float time_ms(F f, int repeats = 20) {
  f();
  CUDA_CHECK(cudaDeviceSynchronize());
  cudaEvent_t a, b;
  CUDA_CHECK(cudaEventCreate(&a));
  CUDA_CHECK(cudaEventCreate(&b));
  CUDA_CHECK(cudaEventRecord(a));
  for (int i = 0; i < repeats; ++i) f();
  CUDA_CHECK(cudaEventRecord(b));
  CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  CUDA_CHECK(cudaGetLastError());
  return ms / repeats;
}

inline int arg_version(int argc, char** argv, int dflt) { return argc > 1 ? std::atoi(argv[1]) : dflt; }

// Exits with a message (not a crash) where no device can run the lab.
inline void require_device() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    std::printf("no CUDA device: %s\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    std::exit(2);
  }
}
