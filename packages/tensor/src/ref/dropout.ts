/** Reference dropout: mask_i = keep ? scale : 0 with keep iff (word_i >>> 8) < keepThreshold (Philox words). */
import type { KernelImpl } from '../kernels.js';
import { randomWords } from '../rng.js';

export const dropout: KernelImpl<'dropout'> = ({ x }, a, { y, mask }) => {
  const words = new Uint32Array(x.size);
  randomWords(a.seed, a.stream, a.offset, words);
  const X = x.data, Y = y.data, M = mask.data;
  for (let i = 0; i < words.length; i++) {
    const m = words[i] >>> 8 < a.keepThreshold ? a.scale : 0;
    M[i] = m;
    Y[i] = X[i] * m;
  }
};
