// Philox4x32-10, bit-identical to packages/tensor/src/rng.ts: word j of stream (seed, stream) is lane j%4
// of the block at counter (j/4 low 32 bits, j/4 high 32 bits, stream, 0) under key (seed low, seed high).
#pragma once
#include <cstdint>
#include "convnet/hd.h"

namespace convnet {

struct Philox4 {
  uint32_t v[4];
};

CONVNET_HD Philox4 philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox4{{c0, c1, c2, c3}};
}

// Word `index` of the stream.
CONVNET_HD uint32_t philox_word(uint64_t seed, uint32_t stream, uint64_t index) {
  uint64_t block = index >> 2;
  Philox4 r = philox4x32(static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32), stream, 0,
                         static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[index & 3];
}

}  // namespace convnet
