// Winograd F(4×4, 3×3) convolution (conv_winograd.cpp) and the rule that picks it; internal to native/src/cpu.
#pragma once
#include "convnet/kernels.h"

namespace convnet {

// Whether the geometry is one Winograd handles at all (3×3, stride 1, padding ≤ 2, the floor size rule).
bool winograd_applies(const ConvGeom& g);
// The rule: whether conv2d_forward / conv2d_backward_input run Winograd for g (CONVNET_CONV_ALGO=gemm|winograd forces).
bool use_winograd(const ConvGeom& g, bool backward_input);
void winograd_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y);
void winograd_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx);
// The weight gradient rule (CONVNET_CONV_ALGO=winograd forces it where Winograd applies) and kernel.
bool use_winograd_weight(const ConvGeom& g);
void winograd_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw);
// With CONVNET_CONV_TRACE set: one stderr line per distinct (direction, geometry, algorithm), naming the choice.
// One plane's tiling: input H×W read with padding (ph, pw), output OH×OW in th×tw tiles of 4×4.
struct WinoPlane {
  int64_t H, W, OH, OW, ph, pw, th, tw;
};
// The transforms, per ISA (conv_winograd_kernel.h): input plane → V[ξ·xi_stride + t]; M[ξ·xi_stride + t] (+ bias) →
// output plane (tiles as lanes), or one image's tiles of Mᵀ[ξ·xi_stride + t·ld + o] (+ bias[o]) → its nch output
// planes out + o·plane_stride (channels as lanes); a filter's taps g[9][cg] → U[ξ·xi_stride + c].
struct WinoTransforms {
  const char* name;
  void (*input_plane)(const WinoPlane& p, const float* plane, float* V, int64_t xi_stride);
  void (*output_plane)(const WinoPlane& p, const float* M, int64_t xi_stride, float bias, float* plane);
  void (*output_tiles)(const WinoPlane& p, const float* Mt, int64_t xi_stride, int64_t ld, int64_t nch, const float* bias,
                       float* out, int64_t plane_stride);
  void (*filter_row)(const float* g, int64_t cg, float* U, int64_t xi_stride);
  // weight gradient: dy plane → E[ξ·xi_stride + t] (A e Aᵀ per tile); M[ξ·xi_stride + c] → g[k·cg + c] += Gᵀ M G
  void (*dy_plane)(const WinoPlane& p, const float* plane, float* E, int64_t xi_stride);
  void (*filter_grad_row)(const float* M, int64_t xi_stride, int64_t cg, float* g);
};
const WinoTransforms& wino_transforms_avx2();  // call only when the CPU has AVX2 + FMA

void conv_trace(const char* direction, const ConvGeom& g, const char* algorithm);

}  // namespace convnet
