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

// Weight-gradient register tile (stride 1), for one input channel block cb and one tap (ky, kx): acc[ob][c] +=
// Σ over a band of output pixels of dy[ob] (W output channels) · x[c] (input channel ci0 + c, broadcast), for
// ob < OB blocks and c < NC channels, pixels in row-major order. Layouts:
//   x: [rows][cols][W] of the block, at the band's first row + (ky, kx) and lane ci0 (x_row floats between rows)
//   dy: [ob][pixels][W] at the band's first pixel (dy_ob floats between output blocks; rows of ow pixels)
//   acc: dw blocks [ob][cb][ky][kx][ci][oi] at (cb, ky, kx, ci0) (acc_ob floats between output blocks)
struct DirectWgradArgs {
  const float* x;
  int64_t x_row;
  const float* dy;
  int64_t dy_ob, ow, rows;
  float* acc;
  int64_t acc_ob;
};
using DirectWgradFn = void (*)(const DirectWgradArgs&);
constexpr int kDirectMaxNC = 8;
constexpr int kDirectMaxOB = 4, kDirectMaxNP = 8;

struct DirectKernels {
  const char* name;
  int W, OB, NP;                                         // channel block, register tile (OB ≤ 4, NP ≤ 8)
  DirectTileFn tile[2][kDirectMaxOB][kDirectMaxNP];  // tile[sw == 1][ob − 1][np − 1]: ob ≤ OB blocks, np ≤ NP pixels
  int WOB, WNC;                                      // weight-gradient tile: WOB output blocks × WNC input channels
  DirectWgradFn wgrad[kDirectMaxOB][kDirectMaxNC];  // wgrad[ob − 1][nc − 1]
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
// Forward 3×3 convolutions of fewer images than this go direct rather than Winograd (one thread, AVX-512, AlexNet's
// conv3-5: direct 1.6 ms vs Winograd 3.1 ms at batch 1, 2.7 vs 3.6 at batch 2, equal at 4).
constexpr int64_t kDirectSmallBatch = 4;
const char* direct_name();
void direct_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y);
void direct_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx);
// Weight gradient (stride 1): the rule, and the kernel.
bool use_direct_weight(const ConvGeom& g);
void direct_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw);

// CONVNET_CONV_ALGO: "gemm", "winograd", "direct" (forces that algorithm where it applies) or unset / other (the
// rules). Read on every call.
enum class ConvAlgo { Rule, Gemm, Winograd, Direct };
ConvAlgo conv_algo_forced();

}  // namespace convnet
