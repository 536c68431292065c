/**
 * Splitting a global batch over ranks so that N ranks compute what one process computes on the whole batch.
 *
 * - Samples: every rank draws the same seeded permutation; rank r of N takes the r-th contiguous slice of
 *   each global batch of B (B divisible by N).
 * - Random draws made per sample (augmentation, dropout masks) come from counter-based Philox streams in
 *   sample order. `shardRng` makes a rank's draws the ones the single process would have made for that
 *   rank's slice: a request for n words (the rank's share) reserves n·N words of the stream and returns the
 *   rank's r-th part of them. So dropout masks and crops are identical to the 1-process run, and the stream
 *   advances by the same amount per step.
 */
import type { Rng } from '@convnet/tensor';

/** The samples rank `rank` of `size` uses in global batch `step` of batch size B (a view of `order`). */
export function rankSlice(order: Int32Array, step: number, batchSize: number, rank: number, size: number): Int32Array {
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize % size)
    throw new RangeError(`rankSlice: the global batch size ${batchSize} must be a positive multiple of the number of ranks (${size})`);
  const local = batchSize / size;
  const start = step * batchSize + rank * local;
  if (start + local > order.length)
    throw new RangeError(`rankSlice: step ${step} of batch ${batchSize} runs past the ${order.length} samples`);
  return order.subarray(start, start + local);
}

/**
 * Makes `rng` (in place) draw rank `rank`'s part of what one process would draw for a whole batch whose
 * per-sample draws are laid out rank slice after rank slice. Returns the same Rng.
 */
export function shardRng<R extends Rng>(rng: R, rank: number, size: number): R {
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank) || rank < 0 || rank >= size)
    throw new RangeError(`shardRng: expected 0 <= rank < size, got rank ${rank} of ${size}`);
  if (size === 1) return rng;
  Object.defineProperty(rng, 'take', {
    configurable: true,
    value(n: number): number {
      const o = rng.counter;
      rng.counter += n * size;
      return o + rank * n;
    },
  });
  return rng;
}
