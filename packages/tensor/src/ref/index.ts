/**
 * The `ref` backend: plain TypeScript loops with float64 accumulation, one file per kernel family.
 * It is the oracle every other backend is tested against; clarity beats speed here.
 */
import type { Backend } from '../registry.js';
import { gemm } from './gemm.js';

export const refBackend: Backend = {
  name: 'ref',
  description: 'reference kernels in plain TypeScript (float64 accumulation)',
  kernels: { gemm },
};
