// im2col / col2im index math of a (grouped) convolution, shared by CPU and CUDA.
//
// The column matrix of one image and one channel group [c0, c0 + cg) is col [K = cg·kh·kw, P = oh·ow],
// row-major: row r = (ic·kh + ky)·kw + kx, column p = oy·ow + ox. It holds x[c0 + ic, iy, ix] with
// iy = oy·sh − ph + ky and ix = ox·sw − pw + kx, or 0 where (iy, ix) lies outside the input (padding, and
// windows past the edge under the ceil rule). Then y_g [og, P] = w_g [og, K] · col, and
// dcol = w_gᵀ · dy_g is folded back into dx by col2im (the sum over every entry that came from one pixel).
#pragma once
#include <cstdint>
#include "convnet/hd.h"
#include "convnet/kernels/geometry.h"

namespace convnet {

CONVNET_HD int64_t conv_input_y(const ConvGeom& g, int64_t oy, int64_t ky) { return oy * g.sh - g.ph + ky; }
CONVNET_HD int64_t conv_input_x(const ConvGeom& g, int64_t ox, int64_t kx) { return ox * g.sw - g.pw + kx; }

// The outputs o in [lo, hi) whose tap k reads inside the input: 0 <= o·stride − pad + k < in, clipped to
// [0, out). lo == hi when there is none. (Hoists the bounds test out of the im2col / col2im rows.)
struct ValidRange {
  int64_t lo, hi;
};
CONVNET_HD ValidRange conv_valid_outputs(int64_t in, int64_t out, int64_t stride, int64_t pad, int64_t k) {
  // o·stride >= pad − k  and  o·stride < in + pad − k
  const int64_t a = pad - k, b = in + pad - k;
  int64_t lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  int64_t hi = b <= 0 ? 0 : (b + stride - 1) / stride;
  if (hi > out) hi = out;
  if (lo > hi) lo = hi;
  return ValidRange{lo, hi};
}

// col[r, p] of the group whose first channel is c0, for image x [c, h, w].
CONVNET_HD float im2col_element(const ConvGeom& g, const float* x, int64_t c0, int64_t r, int64_t p) {
  const int64_t kx = r % g.kw, ky = (r / g.kw) % g.kh, ic = r / (g.kw * g.kh);
  const int64_t iy = conv_input_y(g, p / g.ow, ky), ix = conv_input_x(g, p % g.ow, kx);
  if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) return 0.f;
  return x[((c0 + ic) * g.h + iy) * g.w + ix];
}

// dx[c0 + ic, iy, ix] from the group's dcol [K, P]: the sum, in increasing row order, of the entries that
// im2col copied from this pixel. One writer per pixel (the gather form: no atomics, deterministic), and
// the same additions in the same order as scattering the rows one after another into a zeroed dx.
CONVNET_HD float col2im_element(const ConvGeom& g, const float* col, int64_t ic, int64_t iy, int64_t ix) {
  const int64_t P = g.oh * g.ow;
  float sum = 0.f;
  for (int64_t ky = 0; ky < g.kh; ++ky) {
    const int64_t ty = iy + g.ph - ky;  // = oy·sh
    if (ty < 0) break;                  // decreasing in ky
    if (ty % g.sh) continue;
    const int64_t oy = ty / g.sh;
    if (oy >= g.oh) continue;
    for (int64_t kx = 0; kx < g.kw; ++kx) {
      const int64_t tx = ix + g.pw - kx;
      if (tx < 0) break;
      if (tx % g.sw) continue;
      const int64_t ox = tx / g.sw;
      if (ox >= g.ow) continue;
      sum += col[((ic * g.kh + ky) * g.kw + kx) * P + oy * g.ow + ox];
    }
  }
  return sum;
}

}  // namespace convnet
