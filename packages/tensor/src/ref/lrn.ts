/** Reference local response normalisation across channels (see kernels.ts for the formula and window). */
import type { KernelImpl, LrnAttrs } from '../kernels.js';

type Arr = Float32Array | Float64Array;

export function lrnCore(x: Arr, y: Arr, scale: Arr, n: number, c: number, plane: number, a: LrnAttrs): void {
  const coef = a.alphaMode === 'paper' ? a.alpha : a.alpha / a.size;
  const before = Math.floor(a.size / 2), after = Math.floor((a.size - 1) / 2);
  for (let ni = 0; ni < n; ni++)
    for (let ci = 0; ci < c; ci++) {
      const lo = Math.max(0, ci - before), hi = Math.min(c - 1, ci + after);
      for (let p = 0; p < plane; p++) {
        let sum = 0;
        for (let j = lo; j <= hi; j++) {
          const v = x[(ni * c + j) * plane + p];
          sum += v * v;
        }
        const i = (ni * c + ci) * plane + p;
        const s = a.k + coef * sum;
        scale[i] = s;
        y[i] = x[i] * Math.pow(s, -a.beta);
      }
    }
}

export function lrnBackwardCore(x: Arr, y: Arr, scale: Arr, dy: Arr, dx: Arr, n: number, c: number, plane: number, a: LrnAttrs): void {
  const coef = a.alphaMode === 'paper' ? a.alpha : a.alpha / a.size;
  const before = Math.floor(a.size / 2), after = Math.floor((a.size - 1) / 2);
  for (let ni = 0; ni < n; ni++)
    for (let m = 0; m < c; m++) {
      // channels i whose window contains m: m − after ≤ i ≤ m + before
      const lo = Math.max(0, m - after), hi = Math.min(c - 1, m + before);
      for (let p = 0; p < plane; p++) {
        let sum = 0;
        for (let i = lo; i <= hi; i++) {
          const k = (ni * c + i) * plane + p;
          sum += (dy[k] * y[k]) / scale[k];
        }
        const k = (ni * c + m) * plane + p;
        dx[k] = dy[k] * Math.pow(scale[k], -a.beta) - 2 * coef * a.beta * x[k] * sum;
      }
    }
}

const dims = (shape: readonly number[]) => [shape[0], shape[1], shape[2] * shape[3]] as const;

export const lrn: KernelImpl<'lrn'> = ({ x }, a, { y, scale }) => lrnCore(x.data, y.data, scale.data, ...dims(x.shape), a);
export const lrnBackward: KernelImpl<'lrnBackward'> = ({ x, y, scale, dy }, a, { dx }) =>
  lrnBackwardCore(x.data, y.data, scale.data, dy.data, dx.data, ...dims(x.shape), a);
