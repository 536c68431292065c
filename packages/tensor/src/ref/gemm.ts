/** Reference GEMM: c = alpha·op(a)·op(b) + beta·c, float64 accumulation. Matrices are row-major. */
import type { KernelImpl } from '../kernels.js';

type Arr = Float32Array | Float64Array;

/**
 * a: [M, K] (or [K, M] when transA), b: [K, N] (or [N, K] when transB), c: [M, N].
 * With beta = 0, c is only written, never read (BLAS convention: NaN in c does not leak through).
 */
export function gemmCore(
  a: Arr, b: Arr, c: Arr, M: number, N: number, K: number,
  transA: boolean, transB: boolean, alpha: number, beta: number,
): void {
  const lda = transA ? M : K, ldb = transB ? K : N;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? a[k * lda + i] : a[i * lda + k];
        const bv = transB ? b[j * ldb + k] : b[k * ldb + j];
        acc += av * bv;
      }
      c[i * N + j] = beta === 0 ? alpha * acc : alpha * acc + beta * c[i * N + j];
    }
  }
}

export const gemm: KernelImpl<'gemm'> = ({ a, b }, { transA, transB, alpha, beta }, { c }) => {
  const [M, N] = c.shape;
  const K = transA ? a.shape[0] : a.shape[1];
  gemmCore(a.data, b.data, c.data, M, N, K, transA, transB, alpha, beta);
};
