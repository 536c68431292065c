// Dropout mask: per-element body shared by CPU and CUDA. Element i of a dropout call with Philox stream
// (seed, stream) and word offset `offset` uses word offset + i (philox.h, = randomWords() in rng.ts):
// kept iff (word >> 8) < keep_threshold (= round((1 − p)·2^24)), an integer test, so every backend draws
// bit-identical masks. mask_i = kept ? scale : 0; y_i = x_i · mask_i.
#pragma once
#include <cstdint>
#include "convnet/hd.h"
#include "convnet/philox.h"

namespace convnet {

CONVNET_HD float dropout_mask_value(uint32_t word, uint32_t keep_threshold, float scale) {
  return (word >> 8) < keep_threshold ? scale : 0.f;
}

CONVNET_HD float dropout_mask_at(uint64_t seed, uint32_t stream, uint64_t word_index, uint32_t keep_threshold,
                                 float scale) {
  return dropout_mask_value(philox_word(seed, stream, word_index), keep_threshold, scale);
}

}  // namespace convnet
