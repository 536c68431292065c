// SGEMM: 64×64 block tiles, 16-deep k tiles in shared memory, 4×4 register tiles per thread (256 threads).
// The phases live in kernels/sgemm.h (shared with the host emulator); lab/sgemm.cu has the earlier versions
// (naive, 32×32 shared tiles) and the benchmark.
#include "cuda_util.cuh"
#include "kernels/sgemm.h"

namespace convnet::cuda {
namespace {

__global__ void __launch_bounds__(kSgemmThreads) sgemm_kernel(SgemmArgs p) {
  __shared__ SgemmShared sh;
  const int tid = threadIdx.x;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kSgemmBM, n0 = static_cast<int64_t>(blockIdx.x) * kSgemmBN;
  const int64_t z = blockIdx.z;
  float acc[kSgemmTM][kSgemmTN];
  for (int i = 0; i < kSgemmTM; ++i)
    for (int j = 0; j < kSgemmTN; ++j) acc[i][j] = 0.f;
  const int64_t items = p.reduce ? p.batch : 1;
  for (int64_t b = 0; b < items; ++b) {
    const int64_t at = p.reduce ? b : z;
    const float* A = sgemm_a_at(p, at);
    const float* B = sgemm_b_at(p, at);
    for (int64_t k0 = 0; k0 < p.K; k0 += kSgemmBK) {
      sgemm_load(p, sh, tid, m0, n0, k0, A, B);
      __syncthreads();
      sgemm_compute(sh, tid, acc);
      __syncthreads();
    }
  }
  sgemm_store(p, tid, m0, n0, p.C + (p.reduce ? 0 : z * p.strideC), acc);
}

}  // namespace

void sgemm(Stream s, const SgemmArgs& a) {
  if (a.M <= 0 || a.N <= 0 || a.batch <= 0) return;
  const int64_t gy = (a.M + kSgemmBM - 1) / kSgemmBM, gx = (a.N + kSgemmBN - 1) / kSgemmBN;
  const int64_t gz = a.reduce ? 1 : a.batch;
  if (gy > 65535 || gz > 65535) throw std::runtime_error("cuda: sgemm: M or the batch is too large for one launch");
  sgemm_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz)), kSgemmThreads, 0,
                 stream_of(s)>>>(a);
  check_launch("sgemm");
}

}  // namespace convnet::cuda
