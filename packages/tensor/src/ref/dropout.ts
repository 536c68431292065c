/**
 * Reference dropout. The mask comes from the Philox stream (seed, stream), words [offset, offset + size):
 * element i is kept iff (word_i >>> 8) < keepThreshold, an integer comparison, so every backend draws
 * bit-identical masks. mask_i = keep ? scale : 0 and y = x ⊙ mask; the backward pass is dy ⊙ mask (`mul`).
 */
import type { KernelAttrs, KernelImpl } from '../kernels.js';
import { randomWords } from '../rng.js';

type Arr = Float32Array | Float64Array;

/** Writes the mask (scale or 0) for words [offset, offset + mask.length) of the stream. */
export function dropoutMaskCore(mask: Arr, a: KernelAttrs<'dropout'>): void {
  const words = new Uint32Array(mask.length);
  randomWords(a.seed, a.stream, a.offset, words);
  for (let i = 0; i < words.length; i++) mask[i] = words[i] >>> 8 < a.keepThreshold ? a.scale : 0;
}

export function dropoutCore(x: Arr, y: Arr, mask: Arr, a: KernelAttrs<'dropout'>): void {
  dropoutMaskCore(mask, a);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * mask[i];
}

export const dropout: KernelImpl<'dropout'> = ({ x }, a, { y, mask }) => dropoutCore(x.data, y.data, mask.data, a);
