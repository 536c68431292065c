// SGEMM lab: C[M,N] = A[M,K] · B[K,N] (row-major), the AlexNet shapes, three versions:
//   1 naive: one thread per output, operands straight from global memory
//   2 32×32 shared-memory tiles, one output per thread
//   3 production (src/sgemm.cu): 128×128 tiles, 8-deep double-buffered k tiles, 8×8 register tiles, float4
//     loads, any transpose
// Build: nvcc -O3 -std=c++17 -arch=sm_80 -I../../../native/include -I../src sgemm.cu -o sgemm
// Run:   ./sgemm [version]   (checks every version against the CPU, then times the one asked for, default 3)
#include "common.h"
#include "kernels/sgemm.h"

using namespace convnet::cuda;

__global__ void sgemm_v1(int M, int N, int K, const float* A, const float* B, float* C) {
  const int m = blockIdx.y * blockDim.y + threadIdx.y, n = blockIdx.x * blockDim.x + threadIdx.x;
  if (m >= M || n >= N) return;
  float acc = 0.f;
  for (int k = 0; k < K; ++k) acc += A[m * K + k] * B[k * N + n];
  C[m * N + n] = acc;
}

__global__ void sgemm_v2(int M, int N, int K, const float* A, const float* B, float* C) {
  __shared__ float As[32][33], Bs[32][33];
  const int ty = threadIdx.y, tx = threadIdx.x;
  const int m = blockIdx.y * 32 + ty, n = blockIdx.x * 32 + tx;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += 32) {
    As[ty][tx] = m < M && k0 + tx < K ? A[m * K + k0 + tx] : 0.f;
    Bs[ty][tx] = k0 + ty < K && n < N ? B[(k0 + ty) * N + n] : 0.f;
    __syncthreads();
    for (int k = 0; k < 32; ++k) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (m < M && n < N) C[m * N + n] = acc;
}

__global__ void __launch_bounds__(kSgemmThreads, 2) sgemm_v3(SgemmArgs p) {
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

void run(int version, int M, int N, int K, bool tA, bool tB, const float* A, const float* B, float* C) {
  if (version == 1) sgemm_v1<<<dim3((N + 15) / 16, (M + 15) / 16), dim3(16, 16)>>>(M, N, K, A, B, C);
  else if (version == 2) sgemm_v2<<<dim3((N + 31) / 32, (M + 31) / 32), dim3(32, 32)>>>(M, N, K, A, B, C);
  else {
    SgemmArgs p{};
    p.M = M; p.N = N; p.K = K; p.A = A; p.lda = tA ? M : K; p.B = B; p.ldb = tB ? K : N; p.C = C; p.ldc = N;
    p.alpha = 1.f; p.beta = 0.f; p.transA = tA; p.transB = tB; p.batch = 1;
    sgemm_prepare(p);
    sgemm_v3<<<dim3((N + kSgemmBN - 1) / kSgemmBN, (M + kSgemmBM - 1) / kSgemmBM), kSgemmThreads>>>(p);
  }
}

std::vector<float> cpu_sgemm(int M, int N, int K, bool tA, bool tB, const std::vector<float>& A, const std::vector<float>& B) {
  std::vector<float> C(static_cast<size_t>(M) * N);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double acc = 0;
      for (int k = 0; k < K; ++k) acc += static_cast<double>(tA ? A[k * M + m] : A[m * K + k]) * (tB ? B[n * K + k] : B[k * N + n]);
      C[static_cast<size_t>(m) * N + n] = static_cast<float>(acc);
    }
  return C;
}

int main(int argc, char** argv) {
  require_device();
  const int version = arg_version(argc, argv, 3);
  struct Shape { const char* name; int M, N, K; };
  const Shape shapes[] = {{"conv1 fwd 96x3025x363", 96, 3025, 363}, {"conv2 fwd 128x729x1200", 128, 729, 1200},
                          {"conv3 fwd 384x169x2304", 384, 169, 2304}, {"fc6 fwd 128x4096x9216", 128, 4096, 9216},
                          {"square 2048", 2048, 2048, 2048}};
  bool ok = true;
  // correctness: every version on an odd shape; v3 with every transpose
  {
    const int M = 67, N = 131, K = 75;
    auto A = make_random(M * K, 1), B = make_random(K * N, 2);
    float *dA = to_device(A), *dB = to_device(B), *dC = device_alloc<float>(M * N);
    for (int v = 1; v <= 3; ++v)
      for (int t = 0; t < (v == 3 ? 4 : 1); ++t) {
        const bool tA = t & 1, tB = t & 2;
        run(v, M, N, K, tA, tB, dA, dB, dC);
        char name[64];
        std::snprintf(name, sizeof name, "v%d 67x131x75 tA=%d tB=%d", v, tA, tB);
        ok &= validate(name, dC, cpu_sgemm(M, N, K, tA, tB, A, B), 1e-4f, 1e-4f);
      }
    cudaFree(dA); cudaFree(dB); cudaFree(dC);
  }
  std::printf("\nversion %d, GFLOP/s:\n", version);
  for (const Shape& s : shapes) {
    auto A = make_random(static_cast<size_t>(s.M) * s.K, 3), B = make_random(static_cast<size_t>(s.K) * s.N, 4);
    float *dA = to_device(A), *dB = to_device(B), *dC = device_alloc<float>(static_cast<size_t>(s.M) * s.N);
    const float ms = time_ms([&] { run(version, s.M, s.N, s.K, false, false, dA, dB, dC); });
    std::printf("  %-26s %8.3f ms %8.1f GFLOP/s\n", s.name, ms, 2.0 * s.M * s.N * s.K / (ms * 1e6));
    cudaFree(dA); cudaFree(dB); cudaFree(dC);
  }
  return ok ? 0 : 1;
}
