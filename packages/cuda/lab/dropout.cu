// Dropout lab: the mask must be bit-identical to the CPU's (philox.h: word i of stream (seed, stream) is
// lane i%4 of the Philox4x32-10 block at counter i/4). Versions:
//   1 one thread per element, one Philox evaluation per element (4× the work)
//   2 production (src/elementwise.cu): one thread per Philox block, 4 elements each, any word offset
// Build: nvcc -O3 -std=c++17 -arch=sm_80 -I../../../native/include -I../src dropout.cu -o dropout
#include "common.h"
#include "kernels/elementwise.h"

using namespace convnet;

__global__ void dropout_v1(int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t thr, float scale,
                           const float* x, float* y, float* mask) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= len) return;
  const float m = dropout_mask_at(seed, stream, offset + i, thr, scale);
  mask[i] = m;
  y[i] = x[i] * m;
}

__global__ void dropout_v2(int64_t threads, int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t thr,
                           float scale, const float* x, float* y, float* mask) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t < threads) cuda::dropout_block(len, seed, stream, offset, thr, scale, x, y, mask, t);
}

void run(int v, int64_t len, uint64_t offset, const float* x, float* y, float* mask) {
  const uint64_t seed = 1234567;
  const uint32_t thr = 8388608;  // p = 0.5
  if (v == 1) dropout_v1<<<(len + 255) / 256, 256>>>(len, seed, 7, offset, thr, 2.f, x, y, mask);
  else {
    const int64_t threads = cuda::dropout_threads(len, offset);
    dropout_v2<<<(threads + 255) / 256, 256>>>(threads, len, seed, 7, offset, thr, 2.f, x, y, mask);
  }
}

int main(int argc, char** argv) {
  require_device();
  const int version = arg_version(argc, argv, 2);
  const int64_t len = 128 * 4096;  // fc6's activations at batch 128
  auto x = make_random(len);
  float *dx = to_device(x), *dy = device_alloc<float>(len), *dm = device_alloc<float>(len);
  bool ok = true;
  for (uint64_t offset : {0ull, 1ull, 3ull, 4097ull}) {
    std::vector<float> mask(len), y(len);
    for (int64_t i = 0; i < len; ++i) {
      mask[i] = dropout_mask_at(1234567, 7, offset + i, 8388608, 2.f);
      y[i] = x[i] * mask[i];
    }
    for (int v = 1; v <= 2; ++v) {
      run(v, len, offset, dx, dy, dm);
      char name[64];
      std::snprintf(name, sizeof name, "v%d mask offset %llu", v, static_cast<unsigned long long>(offset));
      ok &= validate(name, dm, mask, 0, 0);  // bit-identical
      ok &= validate(name, dy, y, 0, 0);
    }
  }
  const float ms = time_ms([&] { run(version, len, 5, dx, dy, dm); });
  std::printf("\nversion %d: %.4f ms for %lld elements (%.1f GB/s of x, y, mask)\n", version, ms, static_cast<long long>(len),
              3.0 * 4 * len / (ms * 1e6));
  return ok ? 0 : 1;
}
