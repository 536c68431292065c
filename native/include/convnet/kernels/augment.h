// Crop + flip + lighting + mean subtraction + normalisation of uint8 HWC images into a float32 NCHW
// batch: the per-output-element body shared by CPU and CUDA (one thread per output element). The same
// formula as packages/augment/src/augmenter.ts (which computes in float64; this is float32):
//   sy = top + y − pad,  sx = left + (flip ? ow − 1 − x : x) − pad
//   inside:  out = (image[sy, sx, c] + light[c] − (mean_image ? mean_image[sy, sx, c] : mean[c])) · mul[c]
//   outside: out = (fill + light[c] − pad_mean[c]) · mul[c]
// mul[c] = scale / std[c]; pad_mean = the mean image's channel means (or mean[c]).
#pragma once
#include <cstdint>
#include "convnet/hd.h"

namespace convnet {

struct AugmentGeom {
  int64_t n, h, w, c;  // input images [n, h, w, c] uint8
  int64_t oh, ow;      // output [n, c, oh, ow] float32
  int64_t pad;
  float fill;
};

struct AugmentSample {
  const int32_t* top;   // [n] crop offsets in the padded image
  const int32_t* left;  // [n]
  const uint8_t* flip;  // [n] 1 = mirror
  const float* light;   // [n, c] lighting shift (byte units)
};

struct AugmentNorm {
  const float* mean;        // [c]
  const float* mul;         // [c] = scale / std[c]
  const float* pad_mean;    // [c]
  const float* mean_image;  // [h, w, c] or null
};

// Output element `index` of the [n, c, oh, ow] batch.
CONVNET_HD float augment_output_element(const AugmentGeom& g, const AugmentSample& s, const AugmentNorm& nm,
                                        const uint8_t* images, int64_t index) {
  const int64_t x = index % g.ow, y = (index / g.ow) % g.oh, c = (index / (g.ow * g.oh)) % g.c;
  const int64_t i = index / (g.ow * g.oh * g.c);
  const int64_t sy = s.top[i] + y - g.pad;
  const int64_t sx = s.left[i] + (s.flip[i] ? g.ow - 1 - x : x) - g.pad;
  const float light = s.light[i * g.c + c];
  if (sy < 0 || sy >= g.h || sx < 0 || sx >= g.w) return (g.fill + light - nm.pad_mean[c]) * nm.mul[c];
  const int64_t src = (sy * g.w + sx) * g.c + c;
  const float v = static_cast<float>(images[i * g.h * g.w * g.c + src]);
  const float m = nm.mean_image ? nm.mean_image[src] : nm.mean[c];
  return (v + light - m) * nm.mul[c];
}

}  // namespace convnet
