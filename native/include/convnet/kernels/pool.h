// Pooling: per-output (forward) and per-input (backward, gather form) bodies shared by CPU and CUDA.
// One call computes one element, so a CUDA kernel runs one thread per element and a CPU test loops over
// the same calls. Backward is a gather (each input pixel sums the outputs whose windows hold it, in
// increasing (oy, ox) order): one writer per element, no atomics, the same additions in the same order
// as scattering the outputs in scan order into a zeroed dx (what `ref` does).
//   x, dx: one [h, w] plane;  y, dy: one [oh, ow] plane.
#pragma once
#include <cstdint>
#include "convnet/hd.h"
#include "convnet/kernels/geometry.h"

namespace convnet {

// Outputs [lo, hi) along one axis whose window [o·stride − pad, o·stride − pad + k) holds input i.
CONVNET_HD void pool_covering_outputs(int64_t i, int64_t k, int64_t stride, int64_t pad, int64_t out, int64_t* lo,
                                      int64_t* hi) {
  const int64_t a = i + pad - k + 1;  // o·stride >= a
  int64_t l = a <= 0 ? 0 : (a + stride - 1) / stride;
  int64_t h = (i + pad) / stride + 1;  // o·stride <= i + pad
  if (h > out) h = out;
  if (l > h) l = h;
  *lo = l;
  *hi = h;
}

CONVNET_HD float max_pool_output(const PoolGeom& g, const float* plane, int64_t oy, int64_t ox) {
  return plane[max_window_argmax(plane, g, oy, ox)];
}

// dx at (iy, ix): Σ dy over the windows whose first maximum is this pixel.
CONVNET_HD float max_pool_input_grad(const PoolGeom& g, const float* plane, const float* dy, int64_t iy, int64_t ix) {
  int64_t oy0, oy1, ox0, ox1;
  pool_covering_outputs(iy, g.kh, g.sh, g.ph, g.oh, &oy0, &oy1);
  pool_covering_outputs(ix, g.kw, g.sw, g.pw, g.ow, &ox0, &ox1);
  const int64_t self = iy * g.w + ix;
  float sum = 0.f;
  for (int64_t oy = oy0; oy < oy1; ++oy)
    for (int64_t ox = ox0; ox < ox1; ++ox)
      if (max_window_argmax(plane, g, oy, ox) == self) sum += dy[oy * g.ow + ox];
  return sum;
}

CONVNET_HD float avg_pool_output(const PoolGeom& g, bool count_include_pad, const float* plane, int64_t oy, int64_t ox) {
  const AvgWindow win = avg_window(g, count_include_pad, oy, ox);
  float sum = 0.f;
  for (int64_t iy = win.y0; iy < win.y1; ++iy)
    for (int64_t ix = win.x0; ix < win.x1; ++ix) sum += plane[iy * g.w + ix];
  return sum / win.divisor;
}

CONVNET_HD float avg_pool_input_grad(const PoolGeom& g, bool count_include_pad, const float* dy, int64_t iy, int64_t ix) {
  int64_t oy0, oy1, ox0, ox1;
  pool_covering_outputs(iy, g.kh, g.sh, g.ph, g.oh, &oy0, &oy1);
  pool_covering_outputs(ix, g.kw, g.sw, g.pw, g.ow, &ox0, &ox1);
  float sum = 0.f;
  for (int64_t oy = oy0; oy < oy1; ++oy)
    for (int64_t ox = ox0; ox < ox1; ++ox) sum += dy[oy * g.ow + ox] / avg_window(g, count_include_pad, oy, ox).divisor;
  return sum;
}

// PyTorch's adaptive average pooling: output (oy, ox) averages rows [start, end) × cols [start, end).
CONVNET_HD float adaptive_avg_pool_output(const PoolGeom& g, const float* plane, int64_t oy, int64_t ox) {
  const int64_t y0 = adaptive_start(oy, g.oh, g.h), y1 = adaptive_end(oy, g.oh, g.h);
  const int64_t x0 = adaptive_start(ox, g.ow, g.w), x1 = adaptive_end(ox, g.ow, g.w);
  float sum = 0.f;
  for (int64_t iy = y0; iy < y1; ++iy)
    for (int64_t ix = x0; ix < x1; ++ix) sum += plane[iy * g.w + ix];
  return sum / static_cast<float>((y1 - y0) * (x1 - x0));
}

CONVNET_HD float adaptive_avg_pool_input_grad(const PoolGeom& g, const float* dy, int64_t iy, int64_t ix) {
  float sum = 0.f;
  for (int64_t oy = 0; oy < g.oh; ++oy) {
    const int64_t y0 = adaptive_start(oy, g.oh, g.h), y1 = adaptive_end(oy, g.oh, g.h);
    if (iy < y0 || iy >= y1) continue;
    for (int64_t ox = 0; ox < g.ow; ++ox) {
      const int64_t x0 = adaptive_start(ox, g.ow, g.w), x1 = adaptive_end(ox, g.ow, g.w);
      if (ix < x0 || ix >= x1) continue;
      sum += dy[oy * g.ow + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
    }
  }
  return sum;
}

}  // namespace convnet
