// Max / average / adaptive-average pooling; parallel over (image, channel) planes.
#include <cstring>
#include <vector>

#include "convnet/kernels.h"
#include "convnet/threadpool.h"

namespace convnet {

void max_pool_forward(const PoolGeom& g, const float* x, float* y) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      float* out = y + p * g.oh * g.ow;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) out[oy * g.ow + ox] = plane[max_window_argmax(plane, g, oy, ox)];
    }
  });
}

void max_pool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  parallel_for(g.n * g.c, [&](int64_t b, int64_t e, int) {
    for (int64_t p = b; p < e; ++p) {
      const float* plane = x + p * g.h * g.w;
      const float* d = dy + p * g.oh * g.ow;
      float* out = dx + p * g.h * g.w;
      std::memset(out, 0, sizeof(float) * g.h * g.w);
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) out[max_window_argmax(plane, g, oy, ox)] += d[oy * g.ow + ox];
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
