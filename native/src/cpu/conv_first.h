// Direct convolution for first layers (few input channels, large kernel, any stride: AlexNet's conv1, 11×11 stride 4
// over 3 channels), forward and weight gradient, reading the NCHW input as it is (conv_first.cpp,
// conv_first_kernel.h); internal to native/src/cpu.
#pragma once
#include <cstdint>

#include "convnet/kernels.h"

namespace convnet {

// Forward register tile: acc[ob][p] (W output channels of block ob, output pixel p of one row) = Σ over input
// channels c < nc, taps ky < kh, kx < kw of w[ob][c][ky][kx][·] · x[c][ky][p·sw + kx] (broadcast), for ob < OB and
// p < NP, summed in that (c, ky, kx) order, starting from zero or from out (accumulate). Layouts:
//   x: the tile's first window, x_ch floats between channels, x_row between rows (a padded copy or the input itself)
//   w: [ob][c][ky][kx][W] (w_ob floats between output blocks), at the tile's first channel
//   out: [OB][NP][W] (out_ob floats between output blocks)
struct FirstFwdArgs {
  const float* x;
  int64_t x_ch, x_row, sw, nc, kh, kw;
  const float* w;
  int64_t w_ob;
  float* out;
  int64_t out_ob;
  bool accumulate;
};
using FirstFwdFn = void (*)(const FirstFwdArgs&);

// Weight-gradient register tile, one input channel c and filter row ky, taps kx0 .. kx0 + NT − 1: acc[ob][t] +=
// (the band's own float32 sum of) Σ over a band of output pixels (rows r < rows, columns ox < ow, row-major) of dy[ob][pixel] · x[r][ox·sw + t]
// (broadcast). Layouts:
//   x: at the band's first output row's input row for ky, column kx0 (x_row floats between output rows, i.e. sh
//      input rows); dy: [ob][pixels][W] at the band's first pixel (dy_ob floats between output blocks);
//   acc: dw blocks [ob][c][ky][kx][W] at (c, ky, kx0) (acc_ob floats between output blocks).
struct FirstWgradArgs {
  const float* x;
  int64_t x_row, sw;
  const float* dy;
  int64_t dy_ob, ow, rows;
  float* acc;
  int64_t acc_ob;
};
using FirstWgradFn = void (*)(const FirstWgradArgs&);

// One output row of a forward tile, res [blocks][ow][W] (row_floats between blocks), to out[o][ow] (out_ch floats
// between channels) for channels o < channels, plus bias[o] where bias is not null.
struct FirstStoreArgs {
  const float* res;
  int64_t row_floats, ow, channels;
  const float* bias;
  float* out;
  int64_t out_ch;
};
using FirstStoreFn = void (*)(const FirstStoreArgs&);

// dy of one image, src [channels][pixels], to dst [blocks][pixels][W] (dst_ob floats between blocks).
struct FirstBlockArgs {
  const float* src;
  int64_t channels, pixels;
  float* dst;
  int64_t dst_ob;
};
using FirstBlockFn = void (*)(const FirstBlockArgs&);

constexpr int kFirstMaxOB = 4, kFirstMaxNP = 12;
struct FirstKernels {
  const char* name;
  int W;                // channel block (vector width)
  int OB;               // output blocks per tile (≤ 4)
  int np_max[kFirstMaxOB];  // pixels (forward) or taps (weight gradient) per tile for ob output blocks, ≤ 12
  FirstFwdFn fwd[2][kFirstMaxOB][kFirstMaxNP];  // fwd[sw == 4][ob − 1][np − 1]
  FirstWgradFn wgrad[2][kFirstMaxOB][kFirstMaxNP];  // wgrad[sw == 4][ob − 1][nt − 1]
  FirstStoreFn store;                               // W×W transposes
  FirstBlockFn block;
};
// Call only when the CPU has the ISA.
const FirstKernels& first_kernels_avx2();
const FirstKernels& first_kernels_avx2_emulating_avx512();  // the AVX-512 blocking on AVX2 (tests)
const FirstKernels& first_kernels_avx512();

// The rule (CONVNET_CONV_ALGO=first forces it where it applies; gemm / direct / winograd rule it out).
bool use_first(const ConvGeom& g);
const char* first_name();
void first_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y);
void first_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw);

}  // namespace convnet
