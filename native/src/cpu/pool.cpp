// Max / average / adaptive-average pooling; parallel over (image, channel) planes.
#include <cmath>
#include <cstring>
#include <vector>

#include "convnet/kernels.h"
#include "convnet/threadpool.h"

namespace convnet {

namespace {

// Window bounds per output row/column, clipped to the input, computed once per call.
struct Ranges {
  std::vector<int32_t> y0, y1, x0, x1;
  explicit Ranges(const PoolGeom& g) : y0(g.oh), y1(g.oh), x0(g.ow), x1(g.ow) {
    for (int64_t o = 0; o < g.oh; ++o) {
      int64_t a = o * g.sh - g.ph;
      y0[o] = static_cast<int32_t>(a < 0 ? 0 : a);
      y1[o] = static_cast<int32_t>(a + g.kh < g.h ? a + g.kh : g.h);
    }
    for (int64_t o = 0; o < g.ow; ++o) {
      int64_t a = o * g.sw - g.pw;
      x0[o] = static_cast<int32_t>(a < 0 ? 0 : a);
      x1[o] = static_cast<int32_t>(a + g.kw < g.w ? a + g.kw : g.w);
    }
  }
};

// Index of the first maximum of a window in scan order, the first NaN winning (max_window_argmax's rule).
// Branch-free on the common path: with data-dependent branches, random inputs mispredict about a third
// of the comparisons, which made this loop several times slower.
inline int64_t window_argmax(const float* plane, int64_t w, int32_t y0, int32_t y1, int32_t x0, int32_t x1) {
  float best = -INFINITY;
  int64_t arg = y0 * w + x0;
  bool nan = false;
  for (int32_t iy = y0; iy < y1; ++iy) {
    const float* row = plane + iy * w;
    for (int32_t ix = x0; ix < x1; ++ix) {
      const float v = row[ix];
      const bool better = v > best;
      best = better ? v : best;
      arg = better ? iy * w + ix : arg;
      nan |= v != v;
    }
  }
  if (nan) {
    for (int32_t iy = y0; iy < y1; ++iy)
      for (int32_t ix = x0; ix < x1; ++ix)
        if (plane[iy * w + ix] != plane[iy * w + ix]) return iy * w + ix;
  }
  return arg;
}

}  // namespace

// (The per-output bodies in kernels/geometry.h define the semantics; these loops hoist the window bounds.)
void max_pool_forward(const PoolGeom& g, const float* x, float* y) {
  const Ranges r(g);
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      float* out = y + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox)
          out[oy * g.ow + ox] = plane[window_argmax(plane, g.w, r.y0[oy], r.y1[oy], r.x0[ox], r.x1[ox])];
    }
  });
}

void max_pool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  const Ranges r(g);
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      const float* d = dy + p * g.oh * g.ow;
      float* out = dx + p * g.h * g.w;
      std::memset(out, 0, sizeof(float) * g.h * g.w);
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox)
          out[window_argmax(plane, g.w, r.y0[oy], r.y1[oy], r.x0[ox], r.x1[ox])] += d[oy * g.ow + ox];
    }
  });
}

void avg_pool_forward(const PoolGeom& g, bool cip, const float* x, float* y) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      float* out = y + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          AvgWindow w = avg_window(g, cip, oy, ox);
          float acc = 0.f;
          for (int64_t iy = w.y0; iy < w.y1; ++iy)
            for (int64_t ix = w.x0; ix < w.x1; ++ix) acc += plane[iy * g.w + ix];
          out[oy * g.ow + ox] = acc / w.divisor;
        }
    }
  });
}

void avg_pool_backward(const PoolGeom& g, bool cip, const float* dy, float* dx) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* d = dy + p * g.oh * g.ow;
      float* out = dx + p * g.h * g.w;
      std::memset(out, 0, sizeof(float) * g.h * g.w);
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          AvgWindow w = avg_window(g, cip, oy, ox);
          const float v = d[oy * g.ow + ox] / w.divisor;
          for (int64_t iy = w.y0; iy < w.y1; ++iy)
            for (int64_t ix = w.x0; ix < w.x1; ++ix) out[iy * g.w + ix] += v;
        }
    }
  });
}

void adaptive_avg_pool_forward(const PoolGeom& g, const float* x, float* y) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      float* out = y + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = adaptive_start(oy, g.oh, g.h), y1 = adaptive_end(oy, g.oh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = adaptive_start(ox, g.ow, g.w), x1 = adaptive_end(ox, g.ow, g.w);
          float acc = 0.f;
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) acc += plane[iy * g.w + ix];
          out[oy * g.ow + ox] = acc / static_cast<float>((y1 - y0) * (x1 - x0));
        }
      }
    }
  });
}

void adaptive_avg_pool_backward(const PoolGeom& g, const float* dy, float* dx) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* d = dy + p * g.oh * g.ow;
      float* out = dx + p * g.h * g.w;
      std::memset(out, 0, sizeof(float) * g.h * g.w);
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t y0 = adaptive_start(oy, g.oh, g.h), y1 = adaptive_end(oy, g.oh, g.h);
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          const int64_t x0 = adaptive_start(ox, g.ow, g.w), x1 = adaptive_end(ox, g.ow, g.w);
          const float v = d[oy * g.ow + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) out[iy * g.w + ix] += v;
        }
      }
    }
  });
}

}  // namespace convnet
