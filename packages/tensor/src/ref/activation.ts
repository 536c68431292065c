/** Reference neurons: relu, logistic, tanh, abs, softplus (PyTorch's softplus with beta 1, threshold 20). */
import type { ActivationFn, KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

export function activationValue(fn: ActivationFn, v: number): number {
  switch (fn) {
    case 'relu': return v < 0 ? 0 : v; // NaN stays NaN, as PyTorch
    case 'logistic': return 1 / (1 + Math.exp(-v));
    case 'tanh': return Math.tanh(v);
    case 'abs': return Math.abs(v);
    case 'softplus': return v > 20 ? v : Math.log1p(Math.exp(v));
  }
}

/** d f(x) / dx given x and y = f(x). relu'(0) = 0 and abs'(0) = 0, as PyTorch. */
export function activationDerivative(fn: ActivationFn, x: number, y: number): number {
  switch (fn) {
    case 'relu': return x <= 0 ? 0 : 1; // passes the gradient at NaN, as PyTorch's threshold_backward
    case 'logistic': return y * (1 - y);
    case 'tanh': return 1 - y * y;
    case 'abs': return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'softplus': return x > 20 ? 1 : 1 / (1 + Math.exp(-x));
  }
}

export function activationCore(fn: ActivationFn, x: Arr, y: Arr): void {
  for (let i = 0; i < x.length; i++) y[i] = activationValue(fn, x[i]);
}

export function activationBackwardCore(fn: ActivationFn, x: Arr, y: Arr, dy: Arr, dx: Arr): void {
  for (let i = 0; i < x.length; i++) dx[i] = dy[i] * activationDerivative(fn, x[i], y[i]);
}

export const activation: KernelImpl<'activation'> = ({ x }, { fn }, { y }) => activationCore(fn, x.data, y.data);
export const activationBackward: KernelImpl<'activationBackward'> = ({ x, y, dy }, { fn }, { dx }) =>
  activationBackwardCore(fn, x.data, y.data, dy.data, dx.data);
