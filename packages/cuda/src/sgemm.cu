// SGEMM: 128×128 block tiles, k tiles of 8 double-buffered in shared memory, 8×8 register tiles per thread (256
// threads), float4 global loads where aligned. The phases and the expected speed are in kernels/sgemm.h (shared
// with the host emulator); lab/sgemm.cu has the earlier versions (naive, 32×32 and 64×64 tiles) and a benchmark.
#include "cuda_util.cuh"
#include "kernels/sgemm.h"

namespace convnet::cuda {
namespace {

// ptxas -v (build log): registers, 16 KiB of shared memory per block; at most 128 registers (2 blocks per SM).
__global__ void __launch_bounds__(kSgemmThreads, 2) sgemm_kernel(SgemmArgs p) {
  __shared__ __align__(16) SgemmShared sh;
  const int tid = threadIdx.x;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kSgemmBM, n0 = static_cast<int64_t>(blockIdx.x) * kSgemmBN;
  const int64_t z = blockIdx.z;
  float acc[kSgemmTM][kSgemmTN];
#pragma unroll
  for (int i = 0; i < kSgemmTM; ++i)
#pragma unroll
    for (int j = 0; j < kSgemmTN; ++j) acc[i][j] = 0.f;
  const SgemmWalk w = sgemm_walk(p, z);
  if (w.tiles > 0) {
    const float *A, *B;
    int64_t k0;
    SgemmRegs r;
    sgemm_tile(p, w, 0, A, B, k0);
    sgemm_fetch(p, tid, m0, n0, k0, A, B, r);
    sgemm_stash(p, sh, 0, tid, r);
    __syncthreads();
    for (int64_t t = 0; t < w.tiles; ++t) {
      const int buf = static_cast<int>(t & 1);
      const bool next = t + 1 < w.tiles;
      if (next) {  // the next tile's loads are in flight while this one is multiplied
        sgemm_tile(p, w, t + 1, A, B, k0);
        sgemm_fetch(p, tid, m0, n0, k0, A, B, r);
      }
      sgemm_compute(sh, buf, tid, acc);
      if (next) sgemm_stash(p, sh, buf ^ 1, tid, r);  // the other buffer was last read before the previous barrier
      __syncthreads();
    }
  }
  sgemm_store(p, sgemm_beta(p), tid, m0, n0, sgemm_c_at(p, z), acc);
}

}  // namespace

void sgemm(Stream s, const SgemmArgs& args) {
  SgemmArgs a = args;
  if (a.M <= 0 || a.N <= 0 || a.batch <= 0) return;
  sgemm_prepare(a);
  const int64_t gy = (a.M + kSgemmBM - 1) / kSgemmBM, gx = (a.N + kSgemmBN - 1) / kSgemmBN;
  const int64_t gz = a.reduce ? (a.splits > 1 ? a.splits : 1) : a.batch;
  if (gy > 65535 || gz > 65535) throw std::runtime_error("cuda: sgemm: M or the batch is too large for one launch");
  sgemm_kernel<<<dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz)), kSgemmThreads, 0,
                 stream_of(s)>>>(a);
  check_launch("sgemm");
}

}  // namespace convnet::cuda
