// CONVNET_HD marks per-element kernel bodies shared by the CPU (.cpp) and CUDA (.cu) builds.
#pragma once
#if defined(__CUDACC__)
#define CONVNET_HD __host__ __device__ inline
#else
#define CONVNET_HD inline
#endif
