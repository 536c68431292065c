// Softmax cross-entropy lab (logits [128, 1000], top-1/top-5). Versions:
//   1 production (src/loss.cu): one thread per row (native/include/convnet/kernels/loss.h)
//   2 one block of 256 threads per row: max, Σexp and the rank by shared-memory tree reductions
// Build: nvcc -O3 -std=c++17 -arch=sm_80 -I../../../native/include -I../src softmax_xent.cu -o softmax_xent
#include "common.h"
#include "convnet/kernels/loss.h"

using namespace convnet;

__global__ void xent_v1(int n, int classes, const float* x, const int* labels, float* d, float* loss, int* larger) {
  const int r = blockIdx.x * blockDim.x + threadIdx.x;
  if (r >= n) return;
  const XentRow o = softmax_xent_row(x + static_cast<int64_t>(r) * classes, classes, labels[r], 1.f / n, d + static_cast<int64_t>(r) * classes);
  loss[r] = o.loss;
  larger[r] = o.larger;
}

__global__ void __launch_bounds__(256) xent_v2(int n, int classes, const float* x, const int* labels, float* d, float* loss, int* larger) {
  __shared__ float sf[256];
  __shared__ int si[256];
  const int r = blockIdx.x, t = threadIdx.x;
  const float* row = x + static_cast<int64_t>(r) * classes;
  float m = -INFINITY;
  for (int j = t; j < classes; j += 256) m = fmaxf(m, row[j]);
  sf[t] = m;
  __syncthreads();
  for (int s = 128; s > 0; s >>= 1) { if (t < s) sf[t] = fmaxf(sf[t], sf[t + s]); __syncthreads(); }
  m = sf[0];
  __syncthreads();
  const float target = row[labels[r]];
  float sum = 0.f;
  int cnt = 0;
  for (int j = t; j < classes; j += 256) { sum += expf(row[j] - m); cnt += row[j] > target; }
  sf[t] = sum;
  si[t] = cnt;
  __syncthreads();
  for (int s = 128; s > 0; s >>= 1) { if (t < s) { sf[t] += sf[t + s]; si[t] += si[t + s]; } __syncthreads(); }
  const float log_sum = logf(sf[0]);
  for (int j = t; j < classes; j += 256)
    d[static_cast<int64_t>(r) * classes + j] = (expf(row[j] - m - log_sum) - (j == labels[r] ? 1.f : 0.f)) / n;
  if (t == 0) { loss[r] = log_sum + m - target; larger[r] = si[0]; }
}

int main(int argc, char** argv) {
  require_device();
  const int version = arg_version(argc, argv, 1);
  const int n = 128, classes = 1000;
  auto x = make_random(static_cast<size_t>(n) * classes);
  for (auto& v : x) v *= 5.f;
  std::vector<int> labels(n);
  for (int r = 0; r < n; ++r) labels[r] = (r * 37) % classes;
  std::vector<float> d(x.size()), loss(n), larger(n);
  for (int r = 0; r < n; ++r) {
    const XentRow o = softmax_xent_row(x.data() + static_cast<size_t>(r) * classes, classes, labels[r], 1.f / n, d.data() + static_cast<size_t>(r) * classes);
    loss[r] = o.loss;
    larger[r] = static_cast<float>(o.larger);
  }
  float *dx = to_device(x), *dd = device_alloc<float>(x.size()), *dl = device_alloc<float>(n);
  int *dlab = to_device(labels), *dlarger = device_alloc<int>(n);
  auto run = [&](int v) {
    if (v == 1) xent_v1<<<(n + 127) / 128, 128>>>(n, classes, dx, dlab, dd, dl, dlarger);
    else xent_v2<<<n, 256>>>(n, classes, dx, dlab, dd, dl, dlarger);
  };
  bool ok = true;
  for (int v = 1; v <= 2; ++v) {
    run(v);
    ok &= validate(v == 1 ? "v1 dlogits" : "v2 dlogits", dd, d, 1e-4f, 1e-7f);
    ok &= validate(v == 1 ? "v1 row loss" : "v2 row loss", dl, loss, 1e-5f, 1e-5f);
    std::vector<int> got(n);
    CUDA_CHECK(cudaMemcpy(got.data(), dlarger, n * sizeof(int), cudaMemcpyDeviceToHost));
    int bad = 0;
    for (int r = 0; r < n; ++r) bad += got[r] != static_cast<int>(larger[r]);
    std::printf("v%d ranks: %s\n", v, bad ? "FAIL" : "ok");
    ok &= bad == 0;
  }
  const float ms = time_ms([&] { run(version); });
  std::printf("\nversion %d: %.4f ms for [%d, %d]\n", version, ms, n, classes);
  return ok ? 0 : 1;
}
