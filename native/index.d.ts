/** CPU features and threading of the loaded addon. */
export interface NativeInfo {
  isa: 'avx512' | 'avx2' | 'generic';
  threads: number;
  avx2: boolean;
  avx512: boolean;
  avx512bf16: boolean;
  amx: boolean;
  /** scratch buffers are exact-size with checked guards (CONVNET_EXACT_ALLOC=1, or a sanitizer build) */
  exactAlloc: boolean;
  /** built with CONVNET_SANITIZE (native/scripts/sanitize.mjs) */
  sanitized: boolean;
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

// ---- Kernels: the native ABI (include/convnet/abi.h). One function per kernel, named as the kernel in
// @convnet/tensor's specs, called as kernel(attrs, ...inputs, ...outputs): the spec's attributes and the sizes
// the kernel needs by name, buffers (each tensor's own Float32Array) in the spec's order. Layouts: NCHW, OIHW.

/** Conv2dInfo of @convnet/tensor (x [n,c,h,w], w [o,c/groups,kh,kw], y [n,o,oh,ow]). */
export interface ConvAttrs {
  n: number; c: number; h: number; w: number; o: number; kh: number; kw: number;
  sh: number; sw: number; ph: number; pw: number; groups: number; oh: number; ow: number;
}
/** Pool2dInfo of @convnet/tensor (x [n,c,h,w], y [n,c,oh,ow]; adaptive pooling: kh..pw are 0). */
export interface PoolAttrs {
  n: number; c: number; h: number; w: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number;
  oh: number; ow: number;
}
/** x [n, c, plane]: the LRN window runs over c. */
export interface LrnAttrs {
  n: number; c: number; plane: number; size: number; alpha: number; beta: number; k: number;
  alphaMode: 'divide-by-size' | 'paper';
}
export type ActivationName = 'relu' | 'logistic' | 'tanh' | 'abs' | 'softplus';
/** [n, c, inner]: axis 1 of an [n, c, ...] tensor */
export interface ChannelAttrs { n: number; c: number; inner: number }
type F = Float32Array;

/** c [M,N] = alpha · op(a) · op(b) + beta · c, contiguous rows. */
export function gemm(attrs: { transA: boolean; transB: boolean; alpha: number; beta: number; M: number; N: number; K: number }, a: F, b: F, c: F): void;
export function conv2d(attrs: ConvAttrs, x: F, w: F, b: F | null, y: F): void;
export function conv2dBackwardInput(attrs: ConvAttrs, dy: F, w: F, dx: F): void;
export function conv2dBackwardWeight(attrs: ConvAttrs, x: F, dy: F, dw: F): void;
export function conv2dBackwardBias(attrs: ChannelAttrs, dy: F, db: F): void;
export function biasAdd(attrs: ChannelAttrs, x: F, b: F, y: F): void;
export function maxPool2d(attrs: PoolAttrs, x: F, y: F): void;
export function maxPool2dBackward(attrs: PoolAttrs, x: F, dy: F, dx: F): void;
export function avgPool2d(attrs: PoolAttrs & { countIncludePad: boolean }, x: F, y: F): void;
export function avgPool2dBackward(attrs: PoolAttrs & { countIncludePad: boolean }, dy: F, dx: F): void;
export function adaptiveAvgPool2d(attrs: PoolAttrs, x: F, y: F): void;
export function adaptiveAvgPool2dBackward(attrs: PoolAttrs, dy: F, dx: F): void;
export function lrn(attrs: LrnAttrs, x: F, y: F, scale: F): void;
export function lrnBackward(attrs: LrnAttrs, x: F, y: F, scale: F, dy: F, dx: F): void;
export function activation(attrs: { fn: ActivationName; len: number }, x: F, y: F): void;
export function activationBackward(attrs: { fn: ActivationName; len: number }, x: F, y: F, dy: F, dx: F): void;
export function dropout(attrs: { len: number; seed: number; stream: number; offset: number; keepThreshold: number; scale: number },
  x: F, y: F, mask: F): void;
export function mul(attrs: { len: number }, a: F, b: F, y: F): void;
export function add(attrs: { len: number }, a: F, b: F, y: F): void;
export function softmax(attrs: { n: number; classes: number }, x: F, y: F): void;
/** loss [1] = mean loss; hits [2] = [top-1 hits, top-k hits] */
export function softmaxCrossEntropy(attrs: { n: number; classes: number; topk: number }, logits: F, labels: Int32Array,
  loss: F, dlogits: F, hits: F): void;
/** In place on w and v. */
export function sgdUpdate(attrs: { len: number; lr: number; momentum: number; weightDecay: number; dampening: number;
  nesterov: boolean; rule: 'pytorch' | 'paper'; firstStep: boolean }, g: F, w: F, v: F): void;
/** One Adam/AdamW step in place on w, m, v; stepSize = lr / (1 − β1^step), sqrtBc2 = √(1 − β2^step). */
export function adamUpdate(attrs: { len: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  decoupled: boolean; step: number; stepSize: number; sqrtBc2: number }, g: F, w: F, m: F, v: F): void;
/** dx = y ⊙ (dy − Σ_row dy ⊙ y) for y, dy [n, classes]. */
export function softmaxBackward(attrs: { n: number; classes: number }, y: F, dy: F, dx: F): void;
export function scale(attrs: { len: number; alpha: number }, x: F, y: F): void;
export function axpy(attrs: { len: number; alpha: number }, x: F, y: F): void;
/** y [2] = [Σ x, Σ x²] (accumulated in float64) */
export function sumAndSquares(attrs: { len: number }, x: F, y: F): void;

/** Opaque handle to convnet's CPU runtime for other addons (include/convnet/runtime.h). */
export interface NativeRuntime {
  readonly __convnetRuntime: unique symbol;
}
/**
 * The runtime table (one thread pool for the process, the ISA chosen at run time, the scratch workspace) as a
 * type-tagged Node-API external, for a kernel package's addon: `addon.useRuntime(runtime())`, then
 * `convnet::kit::from_external` in C++ (include/convnet/runtime.h).
 */
export function runtime(): NativeRuntime;
