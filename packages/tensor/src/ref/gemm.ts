import type { KernelImpl } from '../kernels.js';

/** c = alpha·op(a)·op(b) + beta·c with float64 accumulation. */
export const gemm: KernelImpl<'gemm'> = ({ a, b }, { transA, transB, alpha, beta }, { c }) => {
  const [M, N] = c.shape;
  const K = transA ? a.shape[0] : a.shape[1];
  const A = a.data, B = b.data, C = c.data;
  const lda = a.shape[1], ldb = b.shape[1];
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const av = transA ? A[k * lda + i] : A[i * lda + k];
        const bv = transB ? B[j * ldb + k] : B[k * ldb + j];
        acc += av * bv;
      }
      C[i * N + j] = beta === 0 ? alpha * acc : alpha * acc + beta * C[i * N + j];
    }
  }
};
