/**
 * The `cpu` backend (the default): thin wrappers that hand checked shapes and preallocated outputs to
 * the @convnet/native addon. Kernels it lacks fall back to `ref`.
 */
import type { KernelImpl } from '../kernels.js';
import type { Backend } from '../registry.js';
import { native } from './native.js';

const gemm: KernelImpl<'gemm'> = ({ a, b }, { transA, transB, alpha, beta }, { c }) => {
  const [M, N] = c.shape;
  const K = transA ? a.shape[0] : a.shape[1];
  native().sgemm(transA, transB, M, N, K, alpha, a.data, a.shape[1], b.data, b.shape[1], beta, c.data, N);
};

export const cpuBackend: Backend = {
  name: 'cpu',
  description: 'native C++ kernels (@convnet/native)',
  fallback: 'ref',
  kernels: { gemm },
};
