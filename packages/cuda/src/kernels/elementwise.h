// One-thread-per-element bodies of the CUDA kernels that are not already shared per-element functions
// under native/include/convnet/kernels (those are called directly). Each takes the element index.
#pragma once
#include <cstdint>
#include "convnet/hd.h"
#include "convnet/kernels/conv.h"
#include "convnet/kernels/dropout.h"
#include "convnet/kernels/geometry.h"

namespace convnet::cuda {

enum class BinaryOp { Add = 0, Mul = 1 };

// im2col of `images` images at once: col [images, C·kh·kw, P] (every group's rows, in group order), so
// group g's column matrix of image i starts at row g·K_g of image i's block.
CONVNET_HD void im2col_at(const ConvGeom& g, const float* x, float* col, int64_t index) {
  const int64_t P = g.oh * g.ow, R = g.c * g.kh * g.kw;
  const int64_t p = index % P, r = (index / P) % R, i = index / (P * R);
  col[index] = im2col_element(g, x + i * g.c * g.h * g.w, 0, r, p);
}

// dx element `index` of [images, C, h, w] from dcol [images, C·kh·kw, P] (gather: one writer per pixel).
CONVNET_HD void col2im_at(const ConvGeom& g, const float* col, float* dx, int64_t index) {
  const int64_t ix = index % g.w, iy = (index / g.w) % g.h, ch = (index / (g.w * g.h)) % g.c;
  const int64_t i = index / (g.c * g.h * g.w);
  const int64_t P = g.oh * g.ow, R = g.c * g.kh * g.kw;
  dx[index] = col2im_element(g, col + i * R * P, ch, iy, ix);
}

// Dropout over words [offset, offset + len) of stream (seed, stream): thread t computes one Philox block
// (4 words) and writes the elements among them, so each 10-round Philox evaluation is used 4 times.
// Block b0 = offset / 4 is thread 0's; element i uses word offset + i, exactly as philox_word().
CONVNET_HD void dropout_block(int64_t len, uint64_t seed, uint32_t stream, uint64_t offset, uint32_t keep_threshold,
                              float scale, const float* x, float* y, float* mask, int64_t t) {
  const uint64_t block = (offset >> 2) + static_cast<uint64_t>(t);
  const Philox4 r = philox4x32(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream, 0,
                               static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  for (int lane = 0; lane < 4; ++lane) {
    const uint64_t word = block * 4 + lane;
    if (word < offset) continue;
    const uint64_t i = word - offset;
    if (i >= static_cast<uint64_t>(len)) break;
    const float m = dropout_mask_value(r.v[lane], keep_threshold, scale);
    mask[i] = m;
    y[i] = x[i] * m;
  }
}
// Threads a dropout call needs: the Philox blocks that words [offset, offset + len) touch.
CONVNET_HD int64_t dropout_threads(int64_t len, uint64_t offset) {
  if (len <= 0) return 0;
  return static_cast<int64_t>(((offset + len - 1) >> 2) - (offset >> 2) + 1);
}

}  // namespace convnet::cuda
