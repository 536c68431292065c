// Cross-channel LRN lab (AlexNet conv1: [128, 96, 55, 55], size 5, paper α). Versions:
//   1 production (src/lrn.cu): one thread per element, the window sum recomputed (lrn_forward_element)
//   2 one thread per pixel column: slides the window sum along the channels (what the CPU kernel does)
// Build: nvcc -O3 -std=c++17 -arch=sm_80 -I../../../native/include -I../src lrn.cu -o lrn
#include "common.h"
#include "convnet/kernels/lrn.h"

using namespace convnet;

__global__ void lrn_v1(int64_t count, int64_t c, int64_t plane, LrnParams p, const float* x, float* y, float* scale) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int64_t q = i % plane, ci = (i / plane) % c, base = (i / (plane * c)) * c * plane;
  y[i] = lrn_forward_element(p, x + base, c, plane, ci, q, &scale[i]);
}

__global__ void lrn_v2(int64_t n, int64_t c, int64_t plane, LrnParams p, const float* x, float* y, float* scale) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= n * plane) return;
  const int64_t q = t % plane, base = (t / plane) * c * plane + q;
  float sum = 0.f;
  for (int64_t j = 0; j <= lrn_last(p, c, 0); ++j) sum += x[base + j * plane] * x[base + j * plane];
  for (int64_t ci = 0; ci < c; ++ci) {
    if (ci > 0) {
      const int64_t add = ci + (p.size - 1) / 2, drop = ci - p.size / 2 - 1;
      if (add < c) sum += x[base + add * plane] * x[base + add * plane];
      if (drop >= 0) sum -= x[base + drop * plane] * x[base + drop * plane];
    }
    const float s = lrn_scale(p, sum);
    scale[base + ci * plane] = s;
    y[base + ci * plane] = x[base + ci * plane] * lrn_pow_neg_beta(s, p.beta);
  }
}

int main(int argc, char** argv) {
  require_device();
  const int version = arg_version(argc, argv, 1);
  const int64_t n = 32, c = 96, plane = 55 * 55, count = n * c * plane;
  const LrnParams p{5, 1e-4f, 0.75f, 2.f};
  auto x = make_random(count);
  for (auto& v : x) v *= 30.f;
  std::vector<float> y(count), scale(count);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t q = i % plane, ci = (i / plane) % c, base = (i / (plane * c)) * c * plane;
    y[i] = lrn_forward_element(p, x.data() + base, c, plane, ci, q, &scale[i]);
  }
  float *dx = to_device(x), *dy = device_alloc<float>(count), *ds = device_alloc<float>(count);
  auto run = [&](int v) {
    if (v == 1) lrn_v1<<<(count + 255) / 256, 256>>>(count, c, plane, p, dx, dy, ds);
    else lrn_v2<<<(n * plane + 255) / 256, 256>>>(n, c, plane, p, dx, dy, ds);
  };
  bool ok = true;
  for (int v = 1; v <= 2; ++v) {
    run(v);
    ok &= validate(v == 1 ? "v1 y" : "v2 y", dy, y, 1e-4f, 1e-5f);
    ok &= validate(v == 1 ? "v1 scale" : "v2 scale", ds, scale, 1e-4f, 1e-5f);
  }
  const float ms = time_ms([&] { run(version); });
  std::printf("\nversion %d: %.3f ms on [%lld, %lld, 55, 55]\n", version, ms, static_cast<long long>(n), static_cast<long long>(c));
  return ok ? 0 : 1;
}
