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

/** The measured FMA peak (register-only loop on the widest vectors) of `threads` pool threads at once. */
export interface FmaPeak {
  /** best round, GFLOP/s: what the cores can do */
  bestGflops: number;
  /** median round, GFLOP/s: what they did meanwhile (other processes share the cores) */
  medianGflops: number;
  threads: number;
  /** 16 (AVX-512), 8 (AVX2 + FMA), 4 (SSE2) */
  vectorFloats: number;
  rounds: number;
}
export function fmaPeak(seconds: number, threads: number): FmaPeak;

/**
 * Precision of every matrix product (convolutions, linear layers), process-wide. 'bf16' rounds both inputs
 * to bfloat16 and sums in float32 (weights, activations, gradients stay float32): AVX512-BF16 where the CPU
 * has it, else the same numbers emulated. Initial value: CONVNET_MATMUL_PRECISION (default 'fp32').
 */
export function setMatmulPrecision(p: 'fp32' | 'bf16'): void;
export function matmulPrecision(): {
  precision: 'fp32' | 'bf16';
  /** 'avx512bf16-12x32', 'avx2-bf16-emulated-4x16' or 'generic-bf16-emulated' */
  bf16Engine: string;
};

/** Row-major C = alpha * op(A) * op(B) + beta * C (see include/convnet/gemm.h). */
export function sgemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number,
  C: Float32Array, ldc: number,
): void;

/** [n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow] */
export type ConvGeometry = number[];
/** [n, c, h, w, kh, kw, sh, sw, ph, pw, oh, ow] */
export type PoolGeometry = number[];

export function conv2dForward(g: ConvGeometry, x: Float32Array, w: Float32Array, b: Float32Array | null, y: Float32Array): void;
export function conv2dBackwardInput(g: ConvGeometry, dy: Float32Array, w: Float32Array, dx: Float32Array): void;
export function conv2dBackwardWeight(g: ConvGeometry, x: Float32Array, dy: Float32Array, dw: Float32Array): void;
export function biasGrad(n: number, c: number, inner: number, dy: Float32Array, db: Float32Array): void;
export function biasAdd(n: number, c: number, inner: number, x: Float32Array, b: Float32Array, y: Float32Array): void;
/** kind: 0 max fwd (x, y), 1 max bwd (x, dy, dx), 2 avg fwd (x, y), 3 avg bwd (dy, dx), 4 adaptive fwd, 5 adaptive bwd */
export function pool(kind: number, g: PoolGeometry, countIncludePad: boolean, a: Float32Array, b: Float32Array, c?: Float32Array): void;
export function lrnForward(n: number, c: number, plane: number, size: number, coef: number, beta: number, k: number,
  x: Float32Array, y: Float32Array, scale: Float32Array): void;
export function lrnBackward(n: number, c: number, plane: number, size: number, coef: number, beta: number, k: number,
  x: Float32Array, y: Float32Array, scale: Float32Array, dy: Float32Array, dx: Float32Array): void;
/** fn: 0 relu, 1 logistic, 2 tanh, 3 abs, 4 softplus */
export function activation(fn: number, len: number, x: Float32Array, y: Float32Array): void;
export function activationBackward(fn: number, len: number, x: Float32Array, y: Float32Array, dy: Float32Array, dx: Float32Array): void;
export function dropout(len: number, seed: number, stream: number, offset: number, keepThreshold: number, scale: number,
  x: Float32Array, y: Float32Array, mask: Float32Array): void;
export function softmax(n: number, classes: number, x: Float32Array, y: Float32Array): void;
/** out = [mean loss, top-1 hits, top-k hits] */
export function softmaxCrossEntropy(n: number, classes: number, topk: number, logits: Float32Array, labels: Int32Array,
  dlogits: Float32Array, out: Float32Array): void;
export function sgdUpdate(len: number, lr: number, momentum: number, weightDecay: number, dampening: number,
  nesterov: boolean, paperRule: boolean, firstStep: boolean, w: Float32Array, v: Float32Array, g: Float32Array): void;
/** op: 0 add, 1 mul */
export function binary(op: number, len: number, a: Float32Array, b: Float32Array, y: Float32Array): void;
export function scale(len: number, alpha: number, x: Float32Array, y: Float32Array): void;
export function axpy(len: number, alpha: number, x: Float32Array, y: Float32Array): void;
export function sumAndSquares(len: number, x: Float32Array, out: Float32Array): void;
