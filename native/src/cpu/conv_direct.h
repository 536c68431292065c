// Direct convolution on channel-blocked layouts (conv_direct.cpp, conv_direct_kernel.h); internal to native/src/cpu.
#pragma once
#include <cstdint>

#include "convnet/kernels.h"

namespace convnet {

// Register tile of one ISA, for one block of W input channels: acc[ob][p] (+)= w[ob] (W output channels) · x[p]
// (one input channel, broadcast), for ob < OB blocks of W output channels and p < NP output pixels of one row,
// summed over the taps ky, kx and the W channels of the block in that order, starting from zero or from out
// (accumulate). Layouts:
//   x: [rows][cols][W] of one channel block (x_row floats between rows; the tile's first pixel's window at x)
//   w: [ob][ky][kx][W ci][W oi] of that channel block (w_ob floats between output blocks)
//   out: [OB][pixels][W] (out_ob floats between output blocks)
struct DirectTileArgs {
  const float* x;
  int64_t x_row, sw;  // sw: input columns between neighbouring output pixels
  int64_t kh, kw;
  const float* w;
  int64_t w_ob;
  float* out;
  int64_t out_ob;
  bool accumulate;
};
using DirectTileFn = void (*)(const DirectTileArgs&);
constexpr int kDirectMaxOB = 4, kDirectMaxNP = 8;

struct DirectKernels {
  const char* name;
  int W, OB, NP;                                         // channel block, register tile (OB ≤ 4, NP ≤ 8)
  DirectTileFn tile[2][kDirectMaxOB][kDirectMaxNP];  // tile[sw == 1][ob − 1][np − 1]: ob ≤ OB blocks, np ≤ NP pixels
};
// Call only when the CPU has the ISA.
const DirectKernels& direct_kernels_avx2();
const DirectKernels& direct_kernels_avx2_emulating_avx512();  // the AVX-512 blocking on AVX2 (tests)
const DirectKernels& direct_kernels_avx512();

// Whether the direct kernels handle g for this direction at all (an ISA with a kernel; backward-data: stride 1 and
// padding < kernel size).
bool direct_applies(const ConvGeom& g, bool backward_input);
// The measured rule (CONVNET_CONV_ALGO=direct forces it where it applies).
bool use_direct(const ConvGeom& g, bool backward_input);
const char* direct_name();
void direct_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y);
void direct_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx);

// CONVNET_CONV_ALGO: "gemm", "winograd", "direct" (forces that algorithm where it applies) or unset / other (the
// rules). Read on every call.
enum class ConvAlgo { Rule, Gemm, Winograd, Direct };
ConvAlgo conv_algo_forced();

}  // namespace convnet
