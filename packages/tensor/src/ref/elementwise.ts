/** Reference element-wise kernels and reductions. In-place use (output = an input) is safe in all of them. */
import type { KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

export function addCore(a: Arr, b: Arr, y: Arr): void {
  for (let i = 0; i < y.length; i++) y[i] = a[i] + b[i];
}

export function mulCore(a: Arr, b: Arr, y: Arr): void {
  for (let i = 0; i < y.length; i++) y[i] = a[i] * b[i];
}

export function scaleCore(x: Arr, alpha: number, y: Arr): void {
  for (let i = 0; i < y.length; i++) y[i] = alpha * x[i];
}

/** y += alpha · x. */
export function axpyCore(alpha: number, x: Arr, y: Arr): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

/** [Σ x, Σ x²], accumulated in float64. */
export function sumAndSquaresCore(x: Arr): [number, number] {
  let s = 0, s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    s += v;
    s2 += v * v;
  }
  return [s, s2];
}

export const add: KernelImpl<'add'> = ({ a, b }, _attrs, { y }) => addCore(a.data, b.data, y.data);
export const mul: KernelImpl<'mul'> = ({ a, b }, _attrs, { y }) => mulCore(a.data, b.data, y.data);
export const scale: KernelImpl<'scale'> = ({ x }, { alpha }, { y }) => scaleCore(x.data, alpha, y.data);
export const axpy: KernelImpl<'axpy'> = ({ x }, { alpha }, { y }) => axpyCore(alpha, x.data, y.data);
export const sumAndSquares: KernelImpl<'sumAndSquares'> = ({ x }, _attrs, { y }) => {
  const [s, s2] = sumAndSquaresCore(x.data);
  y.data[0] = s;
  y.data[1] = s2;
};
