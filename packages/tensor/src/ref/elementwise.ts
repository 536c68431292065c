/** Reference element-wise kernels and reductions. */
import type { KernelImpl } from '../kernels.js';

export const add: KernelImpl<'add'> = ({ a, b }, _x, { y }) => {
  const A = a.data, B = b.data, Y = y.data;
  for (let i = 0; i < Y.length; i++) Y[i] = A[i] + B[i];
};

export const mul: KernelImpl<'mul'> = ({ a, b }, _x, { y }) => {
  const A = a.data, B = b.data, Y = y.data;
  for (let i = 0; i < Y.length; i++) Y[i] = A[i] * B[i];
};

export const scale: KernelImpl<'scale'> = ({ x }, { alpha }, { y }) => {
  const X = x.data, Y = y.data;
  for (let i = 0; i < Y.length; i++) Y[i] = alpha * X[i];
};

export const axpy: KernelImpl<'axpy'> = ({ x }, { alpha }, { y }) => {
  const X = x.data, Y = y.data;
  for (let i = 0; i < Y.length; i++) Y[i] += alpha * X[i];
};

export const sumAndSquares: KernelImpl<'sumAndSquares'> = ({ x }, _a, { y }) => {
  let s = 0, s2 = 0;
  for (const v of x.data) { s += v; s2 += v * v; }
  y.data[0] = s;
  y.data[1] = s2;
};
