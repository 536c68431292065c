// Convolution as im2col + GEMM per group, on top of the launches in launch.h (the same code drives the
// CUDA kernels and the host emulator). Images go through the column buffer in chunks as large as the
// workspace allows; within a chunk one batched GEMM per group covers every image (gridDim.z = images).
//   forward:         col = im2col(x);  y_g[i] = w_g · col_g[i]            (+ bias)
//   backward input:  dcol_g[i] = w_gᵀ · dy_g[i];  dx = col2im(dcol)
//   backward weight: dw_g = Σ_i dy_g[i] · col_g[i]ᵀ, summed over all images in order (beta = 1 after the
//                    first chunk), so the result does not depend on the chunk size's scheduling.
#include <algorithm>

#include "device.h"
#include "launch.h"

namespace convnet::cuda {
namespace {

struct Dims {
  int64_t cg, og, Kg, R, P;  // channels and outputs per group, K of a group, rows of col (all groups), oh·ow
};
Dims dims(const ConvGeom& g) {
  const int64_t cg = g.c / g.groups, og = g.o / g.groups, Kg = cg * g.kh * g.kw;
  return Dims{cg, og, Kg, g.c * g.kh * g.kw, g.oh * g.ow};
}

}  // namespace

size_t conv_workspace_bytes(const ConvGeom& g, int64_t images) {
  const Dims d = dims(g);
  return static_cast<size_t>(images) * static_cast<size_t>(d.R) * static_cast<size_t>(d.P) * sizeof(float);
}

int64_t conv_workspace_images(const ConvGeom& g, size_t ws_bytes) {
  const size_t one = conv_workspace_bytes(g, 1);
  if (one == 0) return g.n;
  const int64_t k = static_cast<int64_t>(ws_bytes / one);
  return std::min<int64_t>(std::max<int64_t>(k, 1), std::min<int64_t>(g.n, 65535));
}

void conv2d_forward(Stream s, const ConvGeom& g, const float* x, const float* w, const float* b, float* y, void* ws,
                    size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.n == 0 || g.o == 0 || d.P == 0) return;
  float* col = static_cast<float*>(ws);
  const int64_t chunk = conv_workspace_images(g, ws_bytes);
  for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
    const int64_t m = std::min(chunk, g.n - i0);
    const float* xi = x + i0 * g.c * g.h * g.w;
    float* yi = y + i0 * g.o * d.P;
    im2col(s, g, m, xi, col);
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      SgemmArgs a{};
      a.M = d.og; a.N = d.P; a.K = d.Kg;
      a.A = w + gr * d.og * d.Kg; a.lda = d.Kg;
      a.B = col + gr * d.Kg * d.P; a.ldb = d.P;
      a.C = yi + gr * d.og * d.P; a.ldc = d.P;
      a.alpha = 1.f; a.beta = 0.f;
      a.batch = m; a.strideA = 0; a.strideB = d.R * d.P; a.strideC = g.o * d.P;
      sgemm(s, a);
    }
  }
  if (b) bias_add(s, g.n, g.o, d.P, y, b, y);
}

void conv2d_backward_input(Stream s, const ConvGeom& g, const float* dy, const float* w, float* dx, void* ws,
                           size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.n == 0 || g.c == 0 || g.h == 0 || g.w == 0) return;
  if (d.P == 0 || g.o == 0) {
    // no output positions or no output channels: nothing reaches dx. (col2im would read columns no GEMM wrote:
    // with padding, P > 0 while o = 0.)
    dev::memset_zero(dx, static_cast<size_t>(g.n * g.c * g.h * g.w) * sizeof(float), s);
    return;
  }
  float* col = static_cast<float*>(ws);
  const int64_t chunk = conv_workspace_images(g, ws_bytes);
  for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
    const int64_t m = std::min(chunk, g.n - i0);
    {
      for (int64_t gr = 0; gr < g.groups; ++gr) {
        SgemmArgs a{};
        a.M = d.Kg; a.N = d.P; a.K = d.og;
        a.A = w + gr * d.og * d.Kg; a.lda = d.Kg; a.transA = true;  // w_g [og, Kg] read as w_gᵀ
        a.B = dy + i0 * g.o * d.P + gr * d.og * d.P; a.ldb = d.P;
        a.C = col + gr * d.Kg * d.P; a.ldc = d.P;
        a.alpha = 1.f; a.beta = 0.f;
        a.batch = m; a.strideA = 0; a.strideB = g.o * d.P; a.strideC = d.R * d.P;
        sgemm(s, a);
      }
    }
    col2im(s, g, m, col, dx + i0 * g.c * g.h * g.w);
  }
}

void conv2d_backward_weight(Stream s, const ConvGeom& g, const float* x, const float* dy, float* dw, void* ws,
                            size_t ws_bytes) {
  const Dims d = dims(g);
  if (g.o == 0 || d.Kg == 0) return;
  float* col = static_cast<float*>(ws);
  if (g.n == 0 || d.P == 0) {  // no terms: dw = 0, written by a GEMM with K = 0
    SgemmArgs a{};
    a.M = g.o; a.N = d.Kg; a.K = 0; a.A = dw; a.lda = 1; a.B = dw; a.ldb = d.Kg; a.C = dw; a.ldc = d.Kg;
    a.alpha = 1.f; a.beta = 0.f; a.batch = 1;
    sgemm(s, a);
    return;
  }
  const int64_t chunk = conv_workspace_images(g, ws_bytes);
  for (int64_t i0 = 0; i0 < g.n; i0 += chunk) {
    const int64_t m = std::min(chunk, g.n - i0);
    im2col(s, g, m, x + i0 * g.c * g.h * g.w, col);
    for (int64_t gr = 0; gr < g.groups; ++gr) {
      SgemmArgs a{};
      a.M = d.og; a.N = d.Kg; a.K = d.P;
      a.A = dy + i0 * g.o * d.P + gr * d.og * d.P; a.lda = d.P;
      a.B = col + gr * d.Kg * d.P; a.ldb = d.P; a.transB = true;  // col_g [Kg, P] read as col_gᵀ
      a.C = dw + gr * d.og * d.Kg; a.ldc = d.Kg;
      a.alpha = 1.f; a.beta = i0 == 0 ? 0.f : 1.f;
      a.batch = m; a.strideA = g.o * d.P; a.strideB = d.R * d.P; a.strideC = 0; a.reduce = true;
      sgemm(s, a);
    }
  }
}

}  // namespace convnet::cuda
