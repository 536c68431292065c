// Convolution and pooling geometry, as computed by packages/tensor/src/ops.ts (kernels never decide it).
#pragma once
#include <cmath>
#include <cstdint>
#include "convnet/hd.h"

namespace convnet {

struct ConvGeom {
  int64_t n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow;
};

struct PoolGeom {
  int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow;
};

// Output length of a sliding window (packages/tensor/src/geometry.ts windowOutputSize): floor((in + 2·pad −
// k) / stride) + 1, or with ceil (cuda-convnet's rule), dropping a last window that would start in the
// padding. The bindings check that the sizes they are given are one of the two.
CONVNET_HD int64_t window_output_size(int64_t in, int64_t k, int64_t stride, int64_t pad, bool ceil_rule) {
  const int64_t span = in + 2 * pad - k;
  if (span < 0) return 0;
  int64_t out = (ceil_rule ? (span + stride - 1) / stride : span / stride) + 1;
  if (ceil_rule && (out - 1) * stride >= in + pad) --out;
  return out;
}

// First maximum (scan order) of output (oy, ox)'s window in one [h, w] plane; NaN wins, as in PyTorch.
CONVNET_HD int64_t max_window_argmax(const float* plane, const PoolGeom& g, int64_t oy, int64_t ox) {
  int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  int64_t y1 = y0 + g.kh < g.h ? y0 + g.kh : g.h, x1 = x0 + g.kw < g.w ? x0 + g.kw : g.w;
  if (y0 < 0) y0 = 0;
  if (x0 < 0) x0 = 0;
  int64_t arg = y0 * g.w + x0;
  float best = -INFINITY;
  for (int64_t iy = y0; iy < y1; ++iy)
    for (int64_t ix = x0; ix < x1; ++ix) {
      float v = plane[iy * g.w + ix];
      if (v > best || v != v) {
        best = v;
        arg = iy * g.w + ix;
        if (v != v) return arg;
      }
    }
  return arg;
}

struct AvgWindow {
  int64_t y0, y1, x0, x1;
  float divisor;
};

CONVNET_HD AvgWindow avg_window(const PoolGeom& g, bool count_include_pad, int64_t oy, int64_t ox) {
  int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  int64_t y1 = y0 + g.kh < g.h + g.ph ? y0 + g.kh : g.h + g.ph;
  int64_t x1 = x0 + g.kw < g.w + g.pw ? x0 + g.kw : g.w + g.pw;
  int64_t padded = (y1 - y0) * (x1 - x0);
  if (y0 < 0) y0 = 0;
  if (x0 < 0) x0 = 0;
  if (y1 > g.h) y1 = g.h;
  if (x1 > g.w) x1 = g.w;
  float div = static_cast<float>(count_include_pad ? padded : (y1 - y0) * (x1 - x0));
  return AvgWindow{y0, y1, x0, x1, div};
}

CONVNET_HD int64_t adaptive_start(int64_t i, int64_t out, int64_t in) { return (i * in) / out; }
CONVNET_HD int64_t adaptive_end(int64_t i, int64_t out, int64_t in) { return ((i + 1) * in + out - 1) / out; }

}  // namespace convnet
