/** CPU features and threading of the loaded addon. */
export interface NativeInfo {
  isa: 'avx512' | 'avx2' | 'generic';
  threads: number;
  avx2: boolean;
  avx512: boolean;
  avx512bf16: boolean;
  amx: boolean;
}
export function info(): NativeInfo;
export function setNumThreads(n: number): void;

/** Row-major C = alpha * op(A) * op(B) + beta * C (see include/convnet/gemm.h). */
export function sgemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number,
  C: Float32Array, ldc: number,
): void;
