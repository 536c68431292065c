// Convolution lab (AlexNet conv2: [32, 96, 27, 27] → 256 filters 5×5 pad 2, groups 2). Versions:
//   1 direct: one thread per output, loops over the group's input channels and the 5×5 window
//   2 production (src/conv.cpp): im2col of a chunk of images, then one batched tiled SGEMM per group
// Build: nvcc -O3 -std=c++17 -arch=sm_80 -I../../../native/include -I../src conv.cu -o conv
#include "common.h"
#include "kernels/elementwise.h"
#include "kernels/sgemm.h"

using namespace convnet;
using namespace convnet::cuda;

__global__ void conv_v1(ConvGeom g, int64_t count, const float* x, const float* w, float* y) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, o = (i / (g.ow * g.oh)) % g.o, img = i / (g.ow * g.oh * g.o);
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, c0 = (o / og) * cg;
  float acc = 0.f;
  for (int64_t ic = 0; ic < cg; ++ic)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) {
        const int64_t iy = conv_input_y(g, oy, ky), ix = conv_input_x(g, ox, kx);
        if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
        acc += x[((img * g.c + c0 + ic) * g.h + iy) * g.w + ix] * w[((o * cg + ic) * g.kh + ky) * g.kw + kx];
      }
  y[i] = acc;
}

__global__ void im2col_kernel(ConvGeom g, int64_t count, const float* x, float* col) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) im2col_at(g, x, col, i);
}

__global__ void __launch_bounds__(kSgemmThreads, 2) sgemm_batched(SgemmArgs p) {
  __shared__ __align__(16) SgemmShared sh;
  float acc[kSgemmTM][kSgemmTN] = {};
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kSgemmBM, n0 = static_cast<int64_t>(blockIdx.x) * kSgemmBN;
  const SgemmWalk w = sgemm_walk(p, blockIdx.z);  // the production schedule (src/sgemm.cu)
  const float *A, *B;
  int64_t k0;
  SgemmRegs r;
  if (w.tiles > 0) {
    sgemm_tile(p, w, 0, A, B, k0);
    sgemm_fetch(p, threadIdx.x, m0, n0, k0, A, B, r);
    sgemm_stash(p, sh, 0, threadIdx.x, r);
    __syncthreads();
  }
  for (int64_t t = 0; t < w.tiles; ++t) {
    const bool next = t + 1 < w.tiles;
    if (next) {
      sgemm_tile(p, w, t + 1, A, B, k0);
      sgemm_fetch(p, threadIdx.x, m0, n0, k0, A, B, r);
    }
    sgemm_compute(sh, t & 1, threadIdx.x, acc);
    if (next) sgemm_stash(p, sh, (t + 1) & 1, threadIdx.x, r);
    __syncthreads();
  }
  sgemm_store(p, p.beta, threadIdx.x, m0, n0, sgemm_c_at(p, blockIdx.z), acc);
}

void conv_v2(const ConvGeom& g, const float* x, const float* w, float* y, float* col) {
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, Kg = cg * g.kh * g.kw, R = g.c * g.kh * g.kw, P = g.oh * g.ow;
  const int64_t count = g.n * R * P;
  im2col_kernel<<<(count + 255) / 256, 256>>>(g, count, x, col);
  for (int64_t gr = 0; gr < g.groups; ++gr) {
    SgemmArgs a{};
    a.M = og; a.N = P; a.K = Kg; a.A = w + gr * og * Kg; a.lda = Kg; a.B = col + gr * Kg * P; a.ldb = P;
    a.C = y + gr * og * P; a.ldc = P; a.alpha = 1.f; a.batch = g.n; a.strideB = R * P; a.strideC = g.o * P;
    sgemm_prepare(a);
    sgemm_batched<<<dim3((P + kSgemmBN - 1) / kSgemmBN, (og + kSgemmBM - 1) / kSgemmBM, g.n), kSgemmThreads>>>(a);
  }
}

int main(int argc, char** argv) {
  require_device();
  const int version = arg_version(argc, argv, 2);
  const ConvGeom g{32, 96, 27, 27, 256, 5, 5, 1, 1, 2, 2, 2, 27, 27};
  const int64_t xs = g.n * g.c * g.h * g.w, ws = g.o * (g.c / g.groups) * g.kh * g.kw, ys = g.n * g.o * g.oh * g.ow;
  auto x = make_random(xs), w = make_random(ws, 9);
  float *dx = to_device(x), *dw = to_device(w), *dy = device_alloc<float>(ys);
  float* col = device_alloc<float>(static_cast<size_t>(g.n) * g.c * g.kh * g.kw * g.oh * g.ow);
  // CPU reference (direct, float64) on the first 2 images only, to keep it quick
  const int64_t check = 2 * g.o * g.oh * g.ow;
  std::vector<float> want(check);
  for (int64_t i = 0; i < check; ++i) {
    const int64_t ox = i % g.ow, oy = (i / g.ow) % g.oh, o = (i / (g.ow * g.oh)) % g.o, img = i / (g.ow * g.oh * g.o);
    const int64_t cg = g.c / g.groups, c0 = (o / (g.o / g.groups)) * cg;
    double acc = 0;
    for (int64_t ic = 0; ic < cg; ++ic)
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t iy = oy - g.ph + ky, ix = ox - g.pw + kx;
          if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
          acc += static_cast<double>(x[((img * g.c + c0 + ic) * g.h + iy) * g.w + ix]) * w[((o * cg + ic) * g.kh + ky) * g.kw + kx];
        }
    want[i] = static_cast<float>(acc);
  }
  auto run = [&](int v) {
    if (v == 1) conv_v1<<<(ys + 255) / 256, 256>>>(g, ys, dx, dw, dy);
    else conv_v2(g, dx, dw, dy, col);
  };
  bool ok = true;
  for (int v = 1; v <= 2; ++v) {
    run(v);
    ok &= validate(v == 1 ? "v1 direct" : "v2 im2col + sgemm", dy, want, 1e-4f, 1e-4f);
  }
  const float ms = time_ms([&] { run(version); });
  const double flops = 2.0 * ys * (g.c / g.groups) * g.kh * g.kw;
  std::printf("\nversion %d: %.3f ms, %.1f GFLOP/s\n", version, ms, flops / (ms * 1e6));
  return ok ? 0 : 1;
}
