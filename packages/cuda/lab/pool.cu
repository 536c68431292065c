// Max pooling lab (AlexNet's overlapping 3/2 pooling on [32, 96, 55, 55]). Versions of the backward:
//   1 production (src/pool.cu): gather, one thread per input pixel, sums the windows whose argmax it is
//     (deterministic, no atomics; shared body native/include/convnet/kernels/pool.h)
//   2 scatter: one thread per output adds dy into dx[argmax] with atomicAdd (order-dependent sums)
// Build: nvcc -O3 -std=c++17 -arch=sm_80 -I../../../native/include -I../src pool.cu -o pool
#include "common.h"
#include "convnet/kernels/pool.h"

using namespace convnet;

__global__ void pool_fwd(PoolGeom g, int64_t count, const float* x, float* y) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, p = i / (g.ow * g.oh);
  y[i] = max_pool_output(g, x + p * g.h * g.w, oy, ox);
}

__global__ void pool_bwd_v1(PoolGeom g, int64_t count, const float* x, const float* dy, float* dx) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int64_t ix = i % g.w, iy = (i / g.w) % g.h, p = i / (g.w * g.h);
  dx[i] = max_pool_input_grad(g, x + p * g.h * g.w, dy + p * g.oh * g.ow, iy, ix);
}

__global__ void pool_bwd_v2(PoolGeom g, int64_t count, const float* x, const float* dy, float* dx) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, p = i / (g.ow * g.oh);
  atomicAdd(&dx[p * g.h * g.w + max_window_argmax(x + p * g.h * g.w, g, oy, ox)], dy[i]);
}

int main(int argc, char** argv) {
  require_device();
  const int version = arg_version(argc, argv, 1);
  PoolGeom g{32, 96, 55, 55, 3, 3, 2, 2, 0, 0, 27, 27};
  const int64_t in = g.n * g.c * g.h * g.w, out = g.n * g.c * g.oh * g.ow;
  auto x = make_random(in), dy = make_random(out, 7);
  for (size_t i = 0; i < x.size(); i += 5) x[i] = x[i + 1 < x.size() ? i + 1 : i];  // ties
  std::vector<float> y(out), dx(in, 0.f);
  for (int64_t i = 0; i < out; ++i) {
    const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, p = i / (g.ow * g.oh);
    const int64_t a = max_window_argmax(x.data() + p * g.h * g.w, g, oy, ox);
    y[i] = x[p * g.h * g.w + a];
    dx[p * g.h * g.w + a] += dy[i];
  }
  float *dX = to_device(x), *dDY = to_device(dy), *dY = device_alloc<float>(out), *dDX = device_alloc<float>(in);
  pool_fwd<<<(out + 255) / 256, 256>>>(g, out, dX, dY);
  bool ok = validate("forward", dY, y, 0, 0);
  auto bwd = [&](int v) {
    if (v == 1) pool_bwd_v1<<<(in + 255) / 256, 256>>>(g, in, dX, dDY, dDX);
    else {
      cudaMemsetAsync(dDX, 0, in * sizeof(float));
      pool_bwd_v2<<<(out + 255) / 256, 256>>>(g, out, dX, dDY, dDX);
    }
  };
  for (int v = 1; v <= 2; ++v) {
    bwd(v);
    ok &= validate(v == 1 ? "backward v1 (gather)" : "backward v2 (atomics)", dDX, dx, 1e-5f, 1e-6f);
  }
  const float f = time_ms([&] { pool_fwd<<<(out + 255) / 256, 256>>>(g, out, dX, dY); });
  const float b = time_ms([&] { bwd(version); });
  std::printf("\nforward %.3f ms, backward v%d %.3f ms\n", f, version, b);
  return ok ? 0 : 1;
}
