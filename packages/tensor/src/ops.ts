/**
 * Ops: the public, validated entry points. Each checks its arguments (errors name the op, the argument,
 * what was expected and what came), computes the output geometry once, allocates the output (or checks
 * the caller's `out`, so layers can reuse buffers across steps) and calls the registered kernel of the
 * chosen backend.
 */
import { OpError, fmtShape } from './errors.js';
import { windowOutputSize, type Conv2dInfo, type Pool2dInfo, type SizeRule } from './geometry.js';
import type { ActivationFn, AnyOutputs, InputType, KernelInputs, KernelAttrs, KernelName, KernelOutputs, LrnAlphaMode, SgdRule } from './kernels.js';
import { getKernel, getKernelSpec } from './registry.js';
import { keepThreshold, type Rng } from './rng.js';
import { Tensor, describeValue, type Shape } from './tensor.js';
import { expectInt, expectNumber, expectOneOf, expectPair, expectShape, expectTensor, outTensor } from './validate.js';

/** Where to run an op and, optionally, the preallocated output to write. */
export interface Exec {
  backend?: string;
}

// ---------------------------------------------------------------------------------------------- GEMM

export interface GemmOptions extends Exec {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  /** With beta != 0, `out` must be given and is accumulated into. */
  beta?: number;
  out?: Tensor;
}

/** alpha · op(a) · op(b) + beta · out, for 2-D a and b. */
export function matmul(a: Tensor, b: Tensor, opts: GemmOptions = {}): Tensor {
  const op = 'matmul';
  expectTensor(op, 'a', a, 2);
  expectTensor(op, 'b', b, 2);
  const transA = !!opts.transA, transB = !!opts.transB;
  const alpha = expectNumber(op, 'alpha', opts.alpha ?? 1);
  const beta = expectNumber(op, 'beta', opts.beta ?? 0);
  const [M, K] = transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [K2, N] = transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (K !== K2)
    throw new OpError(op, 'b', `${transB ? 'columns' : 'rows'} = ${K} (inner dimension of a ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''})`, `${K2} (b ${fmtShape(b.shape)}${transB ? 'ᵀ' : ''})`);
  if (beta !== 0 && !opts.out) throw new OpError(op, 'out', 'an output tensor when beta != 0', 'none');
  const c = outTensor(op, 'out', opts.out, [M, N], opts.backend);
  getKernel('gemm', opts.backend)({ a, b }, { transA, transB, alpha, beta }, { c });
  return c;
}

// ---------------------------------------------------------------------------------------------- conv

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  groups?: number;
  /** 'floor' (PyTorch) or 'ceil' (cuda-convnet: 224 → 55 for conv1 11×11/4). */
  sizeRule?: SizeRule;
}

/** The checked geometry of a convolution of input shape x by weight shape w. */
export function conv2dInfo(op: string, xShape: Shape, wShape: Shape, opts: Conv2dOptions = {}): Conv2dInfo {
  const [sh, sw] = expectPair(op, 'stride', opts.stride ?? 1, 1);
  const [ph, pw] = expectPair(op, 'padding', opts.padding ?? 0, 0);
  const groups = expectInt(op, 'groups', opts.groups ?? 1, 1);
  const rule = expectOneOf(op, 'sizeRule', opts.sizeRule ?? 'floor', ['floor', 'ceil'] as const);
  const [n, c, h, w] = xShape;
  const [o, cg, kh, kw] = wShape;
  if (c % groups !== 0) throw new OpError(op, 'groups', `a divisor of the input channels (${c})`, String(groups));
  if (o % groups !== 0) throw new OpError(op, 'groups', `a divisor of the output channels (${o})`, String(groups));
  if (cg !== c / groups)
    throw new OpError(op, 'w', `shape [${o}, ${c / groups} (= ${c} input channels / ${groups} groups), kh, kw]`, fmtShape(wShape));
  if (kh < 1 || kw < 1) throw new OpError(op, 'w', 'a kernel of at least 1×1', fmtShape(wShape));
  if (h + 2 * ph < kh || w + 2 * pw < kw)
    throw new OpError(op, 'x', `a padded input of at least ${kh}×${kw} (the kernel)`, `${h}×${w} with padding ${ph}×${pw}`);
  const oh = windowOutputSize(h, kh, sh, ph, rule);
  const ow = windowOutputSize(w, kw, sw, pw, rule);
  return { n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow };
}

export interface Conv2dExec extends Conv2dOptions, Exec {
  out?: Tensor;
}

/** 2-D convolution (cross-correlation, as PyTorch). x [n,c,h,w], w [o,c/groups,kh,kw], b [o] or null. */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null | undefined, opts: Conv2dExec = {}): Tensor {
  const op = 'conv2d';
  expectTensor(op, 'x', x, 4);
  expectTensor(op, 'w', w, 4);
  const info = conv2dInfo(op, x.shape, w.shape, opts);
  if (b != null) {
    expectTensor(op, 'b', b, 1);
    expectShape(op, 'b', b, [info.o]);
  }
  const y = outTensor(op, 'out', opts.out, [info.n, info.o, info.oh, info.ow], opts.backend);
  getKernel('conv2d', opts.backend)(b != null ? { x, w, b } : { x, w }, info, { y });
  return y;
}

/** Gradient of conv2d with respect to its input, whose shape is xShape. */
export function conv2dBackwardInput(dy: Tensor, w: Tensor, xShape: Shape, opts: Conv2dExec = {}): Tensor {
  const op = 'conv2dBackwardInput';
  expectTensor(op, 'dy', dy, 4);
  expectTensor(op, 'w', w, 4);
  if (xShape.length !== 4) throw new OpError(op, 'xShape', 'a rank-4 shape', fmtShape(xShape));
  const info = conv2dInfo(op, xShape, w.shape, opts);
  expectShape(op, 'dy', dy, [info.n, info.o, info.oh, info.ow]);
  const dx = outTensor(op, 'out', opts.out, xShape, opts.backend);
  getKernel('conv2dBackwardInput', opts.backend)({ dy, w }, info, { dx });
  return dx;
}

/** Gradient of conv2d with respect to its weight, whose shape is wShape. */
export function conv2dBackwardWeight(x: Tensor, dy: Tensor, wShape: Shape, opts: Conv2dExec = {}): Tensor {
  const op = 'conv2dBackwardWeight';
  expectTensor(op, 'x', x, 4);
  expectTensor(op, 'dy', dy, 4);
  if (wShape.length !== 4) throw new OpError(op, 'wShape', 'a rank-4 shape', fmtShape(wShape));
  const info = conv2dInfo(op, x.shape, wShape, opts);
  expectShape(op, 'dy', dy, [info.n, info.o, info.oh, info.ow]);
  const dw = outTensor(op, 'out', opts.out, wShape, opts.backend);
  getKernel('conv2dBackwardWeight', opts.backend)({ x, dy }, info, { dw });
  return dw;
}

/** Sum of dy [n, c, ...] over every axis but 1: the bias gradient of conv2d and linear layers. */
export function conv2dBackwardBias(dy: Tensor, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'conv2dBackwardBias';
  expectTensor(op, 'dy', dy);
  if (dy.rank < 2) throw new OpError(op, 'dy', 'rank >= 2 [n, c, ...]', fmtShape(dy.shape));
  const db = outTensor(op, 'out', opts.out, [dy.shape[1]], opts.backend);
  getKernel('conv2dBackwardBias', opts.backend)({ dy }, {}, { db });
  return db;
}

/** x + b along axis 1 of x [n, c, ...]. `out` may be x (in place). */
export function biasAdd(x: Tensor, b: Tensor, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'biasAdd';
  expectTensor(op, 'x', x);
  expectTensor(op, 'b', b, 1);
  if (x.rank < 2) throw new OpError(op, 'x', 'rank >= 2 [n, c, ...]', fmtShape(x.shape));
  expectShape(op, 'b', b, [x.shape[1]]);
  const y = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  getKernel('biasAdd', opts.backend)({ x, b }, {}, { y });
  return y;
}

// ---------------------------------------------------------------------------------------------- pooling

export interface Pool2dOptions {
  kernel: number | [number, number];
  stride?: number | [number, number];
  padding?: number | [number, number];
  sizeRule?: SizeRule;
}

export function pool2dInfo(op: string, xShape: Shape, opts: Pool2dOptions): Pool2dInfo {
  if (!opts || opts.kernel === undefined) throw new OpError(op, 'kernel', 'a window size', 'none');
  const [kh, kw] = expectPair(op, 'kernel', opts.kernel, 1);
  const [sh, sw] = expectPair(op, 'stride', opts.stride ?? opts.kernel, 1);
  const [ph, pw] = expectPair(op, 'padding', opts.padding ?? 0, 0);
  const rule = expectOneOf(op, 'sizeRule', opts.sizeRule ?? 'floor', ['floor', 'ceil'] as const);
  if (ph > kh / 2 || pw > kw / 2) throw new OpError(op, 'padding', `at most half the window (${kh}×${kw})`, `${ph}×${pw}`);
  const [n, c, h, w] = xShape;
  if (h + 2 * ph < kh || w + 2 * pw < kw)
    throw new OpError(op, 'x', `a padded input of at least ${kh}×${kw} (the window)`, `${h}×${w} with padding ${ph}×${pw}`);
  return {
    n, c, h, w, kh, kw, sh, sw, ph, pw,
    oh: windowOutputSize(h, kh, sh, ph, rule),
    ow: windowOutputSize(w, kw, sw, pw, rule),
  };
}

export function maxPool2d(x: Tensor, opts: Pool2dOptions & Exec & { out?: Tensor }): Tensor {
  const op = 'maxPool2d';
  expectTensor(op, 'x', x, 4);
  const info = pool2dInfo(op, x.shape, opts);
  const y = outTensor(op, 'out', opts.out, [info.n, info.c, info.oh, info.ow], opts.backend);
  getKernel('maxPool2d', opts.backend)({ x }, info, { y });
  return y;
}

export function maxPool2dBackward(x: Tensor, dy: Tensor, opts: Pool2dOptions & Exec & { out?: Tensor }): Tensor {
  const op = 'maxPool2dBackward';
  expectTensor(op, 'x', x, 4);
  expectTensor(op, 'dy', dy, 4);
  const info = pool2dInfo(op, x.shape, opts);
  expectShape(op, 'dy', dy, [info.n, info.c, info.oh, info.ow]);
  const dx = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  getKernel('maxPool2dBackward', opts.backend)({ x, dy }, info, { dx });
  return dx;
}

export interface AvgPool2dOptions extends Pool2dOptions {
  countIncludePad?: boolean;
}

export function avgPool2d(x: Tensor, opts: AvgPool2dOptions & Exec & { out?: Tensor }): Tensor {
  const op = 'avgPool2d';
  expectTensor(op, 'x', x, 4);
  const info = { ...pool2dInfo(op, x.shape, opts), countIncludePad: opts.countIncludePad ?? true };
  const y = outTensor(op, 'out', opts.out, [info.n, info.c, info.oh, info.ow], opts.backend);
  getKernel('avgPool2d', opts.backend)({ x }, info, { y });
  return y;
}

export function avgPool2dBackward(dy: Tensor, xShape: Shape, opts: AvgPool2dOptions & Exec & { out?: Tensor }): Tensor {
  const op = 'avgPool2dBackward';
  expectTensor(op, 'dy', dy, 4);
  if (xShape.length !== 4) throw new OpError(op, 'xShape', 'a rank-4 shape', fmtShape(xShape));
  const info = { ...pool2dInfo(op, xShape, opts), countIncludePad: opts.countIncludePad ?? true };
  expectShape(op, 'dy', dy, [info.n, info.c, info.oh, info.ow]);
  const dx = outTensor(op, 'out', opts.out, xShape, opts.backend);
  getKernel('avgPool2dBackward', opts.backend)({ dy }, info, { dx });
  return dx;
}

function adaptiveInfo(op: string, xShape: Shape, outputSize: number | [number, number]): Pool2dInfo {
  const [oh, ow] = expectPair(op, 'outputSize', outputSize, 1);
  const [n, c, h, w] = xShape;
  if (h < 1 || w < 1) throw new OpError(op, 'x', 'a non-empty spatial size', `${h}×${w}`);
  return { n, c, h, w, kh: 0, kw: 0, sh: 0, sw: 0, ph: 0, pw: 0, oh, ow };
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: number | [number, number], opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'adaptiveAvgPool2d';
  expectTensor(op, 'x', x, 4);
  const info = adaptiveInfo(op, x.shape, outputSize);
  const y = outTensor(op, 'out', opts.out, [info.n, info.c, info.oh, info.ow], opts.backend);
  getKernel('adaptiveAvgPool2d', opts.backend)({ x }, info, { y });
  return y;
}

export function adaptiveAvgPool2dBackward(dy: Tensor, xShape: Shape, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'adaptiveAvgPool2dBackward';
  expectTensor(op, 'dy', dy, 4);
  if (xShape.length !== 4) throw new OpError(op, 'xShape', 'a rank-4 shape', fmtShape(xShape));
  const info = adaptiveInfo(op, xShape, [dy.shape[2], dy.shape[3]]);
  expectShape(op, 'dy', dy, [xShape[0], xShape[1], dy.shape[2], dy.shape[3]]);
  const dx = outTensor(op, 'out', opts.out, xShape, opts.backend);
  getKernel('adaptiveAvgPool2dBackward', opts.backend)({ dy }, info, { dx });
  return dx;
}

// ---------------------------------------------------------------------------------------------- LRN

export interface LrnOptions {
  size?: number;
  alpha?: number;
  beta?: number;
  k?: number;
  /** 'divide-by-size' (PyTorch/cuda-convnet: α/n) or 'paper' (α as printed). Default 'divide-by-size'. */
  alphaMode?: LrnAlphaMode;
}

function lrnAttrs(op: string, o: LrnOptions) {
  return {
    size: expectInt(op, 'size', o.size ?? 5, 1),
    alpha: expectNumber(op, 'alpha', o.alpha ?? 1e-4, (v) => v >= 0, 'a non-negative number'),
    beta: expectNumber(op, 'beta', o.beta ?? 0.75, (v) => v >= 0, 'a non-negative number'),
    k: expectNumber(op, 'k', o.k ?? 2, (v) => v > 0, 'a positive number'),
    alphaMode: expectOneOf(op, 'alphaMode', o.alphaMode ?? 'divide-by-size', ['divide-by-size', 'paper'] as const),
  };
}

/** Local response normalisation across channels; returns y and the scale (needed by lrnBackward). */
export function lrn(x: Tensor, opts: LrnOptions & Exec & { out?: Tensor; outScale?: Tensor } = {}): { y: Tensor; scale: Tensor } {
  const op = 'lrn';
  expectTensor(op, 'x', x, 4);
  const attrs = lrnAttrs(op, opts);
  const y = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  const scale = outTensor(op, 'outScale', opts.outScale, x.shape, opts.backend);
  getKernel('lrn', opts.backend)({ x }, attrs, { y, scale });
  return { y, scale };
}

export function lrnBackward(x: Tensor, y: Tensor, scale: Tensor, dy: Tensor, opts: LrnOptions & Exec & { out?: Tensor } = {}): Tensor {
  const op = 'lrnBackward';
  expectTensor(op, 'x', x, 4);
  for (const [name, t] of [['y', y], ['scale', scale], ['dy', dy]] as const) {
    expectTensor(op, name, t, 4);
    expectShape(op, name, t, x.shape);
  }
  const attrs = lrnAttrs(op, opts);
  const dx = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  getKernel('lrnBackward', opts.backend)({ x, y, scale, dy }, attrs, { dx });
  return dx;
}

// ---------------------------------------------------------------------------------------------- neurons

const ACTIVATIONS = ['relu', 'logistic', 'tanh', 'abs', 'softplus'] as const;

/** y = f(x) element-wise; `out` may be x. */
export function activation(x: Tensor, fn: ActivationFn, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'activation';
  expectTensor(op, 'x', x);
  expectOneOf(op, 'fn', fn, ACTIVATIONS);
  const y = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  getKernel('activation', opts.backend)({ x }, { fn }, { y });
  return y;
}

export function activationBackward(x: Tensor, y: Tensor, dy: Tensor, fn: ActivationFn, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'activationBackward';
  expectTensor(op, 'x', x);
  expectTensor(op, 'y', y);
  expectTensor(op, 'dy', dy);
  expectShape(op, 'y', y, x.shape);
  expectShape(op, 'dy', dy, x.shape);
  expectOneOf(op, 'fn', fn, ACTIVATIONS);
  const dx = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  getKernel('activationBackward', opts.backend)({ x, y, dy }, { fn }, { dx });
  return dx;
}

export const relu = (x: Tensor, opts: Exec & { out?: Tensor } = {}) => activation(x, 'relu', opts);

// ---------------------------------------------------------------------------------------------- dropout

export interface DropoutOptions extends Exec {
  /** Probability of dropping an element. */
  p: number;
  /** 'inverted' scales kept units by 1/(1−p) in training; 'classic' (the paper) scales by (1−p) at test. */
  mode?: 'inverted' | 'classic';
  /** Random stream; advanced by x.size words. */
  rng: Rng;
  out?: Tensor;
  outMask?: Tensor;
}

/** Training-mode dropout: returns y and the mask (0 or the keep scale) for the backward pass. */
export function dropout(x: Tensor, opts: DropoutOptions): { y: Tensor; mask: Tensor } {
  const op = 'dropout';
  expectTensor(op, 'x', x);
  const p = expectNumber(op, 'p', opts.p, (v) => v >= 0 && v < 1, 'a probability in [0, 1)');
  const mode = expectOneOf(op, 'mode', opts.mode ?? 'inverted', ['inverted', 'classic'] as const);
  if (!opts.rng || typeof opts.rng.take !== 'function') throw new OpError(op, 'rng', 'an Rng', String(opts.rng));
  const y = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  const mask = outTensor(op, 'outMask', opts.outMask, x.shape, opts.backend);
  const offset = opts.rng.take(x.size);
  getKernel('dropout', opts.backend)(
    { x },
    { seed: opts.rng.seed, stream: opts.rng.stream, offset, keepThreshold: keepThreshold(1 - p), scale: mode === 'inverted' ? 1 / (1 - p) : 1 },
    { y, mask },
  );
  return { y, mask };
}

/** a ⊙ b element-wise (dropout's backward is mul(dy, mask)). */
export function mul(a: Tensor, b: Tensor, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'mul';
  expectTensor(op, 'a', a);
  expectTensor(op, 'b', b);
  expectShape(op, 'b', b, a.shape);
  const y = outTensor(op, 'out', opts.out, a.shape, opts.backend);
  getKernel('mul', opts.backend)({ a, b }, {}, { y });
  return y;
}

// ---------------------------------------------------------------------------------------------- loss

export function softmax(x: Tensor, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'softmax';
  expectTensor(op, 'x', x, 2);
  const y = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  getKernel('softmax', opts.backend)({ x }, {}, { y });
  return y;
}

/** Softmax backward from its output y: dx = y ⊙ (dy − Σ_row dy ⊙ y); y, dy [n, classes]. */
export function softmaxBackward(y: Tensor, dy: Tensor, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'softmaxBackward';
  expectTensor(op, 'y', y, 2);
  expectTensor(op, 'dy', dy, 2);
  expectShape(op, 'dy', dy, y.shape);
  const dx = outTensor(op, 'out', opts.out, y.shape, opts.backend);
  getKernel('softmaxBackward', opts.backend)({ y, dy }, {}, { dx });
  return dx;
}

export interface SoftmaxCrossEntropyResult {
  /** Mean loss over the batch. */
  loss: number;
  /** Gradient of the mean loss with respect to the logits. */
  dlogits: Tensor;
  top1Hits: number;
  topkHits: number;
}

/** Mean softmax cross-entropy of logits [n, classes] against integer labels, its gradient and top-1/top-k hits. */
export function softmaxCrossEntropy(
  logits: Tensor,
  labels: Int32Array | readonly number[],
  opts: Exec & { topk?: number; outGrad?: Tensor } = {},
): SoftmaxCrossEntropyResult {
  const op = 'softmaxCrossEntropy';
  expectTensor(op, 'logits', logits, 2);
  const [n, classes] = logits.shape;
  const lab = labels instanceof Int32Array ? labels : Int32Array.from(labels as number[]);
  if (lab.length !== n) throw new OpError(op, 'labels', `${n} labels (one per row of logits)`, `${lab.length}`);
  for (let i = 0; i < n; i++) {
    // Check the caller's value, not its Int32 conversion (which wraps 2^32 + 3 to 3).
    const v = (labels as ArrayLike<number>)[i];
    if (!(Number.isInteger(v) && v >= 0 && v < classes))
      throw new OpError(op, `labels[${i}]`, `an integer class in [0, ${classes})`, String(v));
  }
  const topk = expectInt(op, 'topk', opts.topk ?? 5, 1);
  const loss = Tensor.zeros([1]);
  const hits = Tensor.zeros([2]);
  const dlogits = outTensor(op, 'outGrad', opts.outGrad, logits.shape, opts.backend);
  getKernel('softmaxCrossEntropy', opts.backend)({ logits, labels: lab }, { topk }, { loss, dlogits, hits });
  return { loss: loss.data[0], dlogits, top1Hits: hits.data[0], topkHits: hits.data[1] };
}

// ---------------------------------------------------------------------------------------------- SGD

export interface SgdStepOptions extends Exec {
  lr: number;
  momentum?: number;
  weightDecay?: number;
  dampening?: number;
  nesterov?: boolean;
  rule?: SgdRule;
  firstStep?: boolean;
}

/** One SGD step in place on w and its momentum buffer v (see the `sgdUpdate` kernel for both rules). */
export function sgdUpdate(w: Tensor, g: Tensor, v: Tensor, opts: SgdStepOptions): void {
  const op = 'sgdUpdate';
  expectTensor(op, 'w', w);
  expectTensor(op, 'g', g);
  expectTensor(op, 'v', v);
  expectShape(op, 'g', g, w.shape);
  expectShape(op, 'v', v, w.shape);
  const attrs = {
    lr: expectNumber(op, 'lr', opts.lr, (x) => x >= 0, 'a non-negative number'),
    momentum: expectNumber(op, 'momentum', opts.momentum ?? 0, (x) => x >= 0, 'a non-negative number'),
    weightDecay: expectNumber(op, 'weightDecay', opts.weightDecay ?? 0, (x) => x >= 0, 'a non-negative number'),
    dampening: expectNumber(op, 'dampening', opts.dampening ?? 0),
    nesterov: !!opts.nesterov,
    rule: expectOneOf(op, 'rule', opts.rule ?? 'pytorch', ['pytorch', 'paper'] as const),
    firstStep: !!opts.firstStep,
  };
  if (attrs.nesterov && (attrs.momentum <= 0 || attrs.dampening !== 0))
    throw new OpError(op, 'nesterov', 'momentum > 0 and dampening = 0', `momentum ${attrs.momentum}, dampening ${attrs.dampening}`);
  if (attrs.nesterov && attrs.rule === 'paper') throw new OpError(op, 'nesterov', "rule 'pytorch'", "rule 'paper'");
  getKernel('sgdUpdate', opts.backend)({ g }, attrs, { w, v });
}

export interface AdamStepOptions extends Exec {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** AdamW: w ← w·(1 − lr·wd) instead of adding wd·w to the gradient. */
  decoupled?: boolean;
  /** 1-based step number (bias corrections). */
  step: number;
}

/** One Adam / AdamW step in place on w and its moment buffers m, v (see the `adamUpdate` kernel). */
export function adamUpdate(w: Tensor, g: Tensor, m: Tensor, v: Tensor, opts: AdamStepOptions): void {
  const op = 'adamUpdate';
  expectTensor(op, 'w', w);
  expectTensor(op, 'g', g);
  expectTensor(op, 'm', m);
  expectTensor(op, 'v', v);
  for (const [n, t] of [['g', g], ['m', m], ['v', v]] as const) expectShape(op, n, t, w.shape);
  const nonNeg = (x: number) => x >= 0;
  const beta = (x: number) => x >= 0 && x < 1;
  const attrs = {
    lr: expectNumber(op, 'lr', opts.lr, nonNeg, 'a non-negative number'),
    beta1: expectNumber(op, 'beta1', opts.beta1 ?? 0.9, beta, 'a number in [0, 1)'),
    beta2: expectNumber(op, 'beta2', opts.beta2 ?? 0.999, beta, 'a number in [0, 1)'),
    eps: expectNumber(op, 'eps', opts.eps ?? 1e-8, nonNeg, 'a non-negative number'),
    weightDecay: expectNumber(op, 'weightDecay', opts.weightDecay ?? 0, nonNeg, 'a non-negative number'),
    decoupled: !!opts.decoupled,
    step: expectInt(op, 'step', opts.step, 1),
  };
  getKernel('adamUpdate', opts.backend)({ g }, attrs, { w, m, v });
}

// ---------------------------------------------------------------------------------------------- element-wise

export function add(a: Tensor, b: Tensor, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'add';
  expectTensor(op, 'a', a);
  expectTensor(op, 'b', b);
  expectShape(op, 'b', b, a.shape);
  const y = outTensor(op, 'out', opts.out, a.shape, opts.backend);
  getKernel('add', opts.backend)({ a, b }, {}, { y });
  return y;
}

export function scale(x: Tensor, alpha: number, opts: Exec & { out?: Tensor } = {}): Tensor {
  const op = 'scale';
  expectTensor(op, 'x', x);
  expectNumber(op, 'alpha', alpha);
  const y = outTensor(op, 'out', opts.out, x.shape, opts.backend);
  getKernel('scale', opts.backend)({ x }, { alpha }, { y });
  return y;
}

/** y += alpha · x, in place on y. */
export function axpy(alpha: number, x: Tensor, y: Tensor, opts: Exec = {}): Tensor {
  const op = 'axpy';
  expectNumber(op, 'alpha', alpha);
  expectTensor(op, 'x', x);
  expectTensor(op, 'y', y);
  expectShape(op, 'y', y, x.shape);
  getKernel('axpy', opts.backend)({ x }, { alpha }, { y });
  return y;
}

/** Σx and Σx² (float64 accumulation). */
export function sumAndSquares(x: Tensor, opts: Exec = {}): { sum: number; sumSquares: number } {
  expectTensor('sumAndSquares', 'x', x);
  const y = Tensor.zeros([2]);
  getKernel('sumAndSquares', opts.backend)({ x }, {}, { y });
  return { sum: y.data[0], sumSquares: y.data[1] };
}

export function sum(x: Tensor, opts: Exec = {}): number {
  return sumAndSquares(x, opts).sum;
}

// ---------------------------------------------------------------------------------------------- any kernel

export interface RunKernelOptions extends Exec {
  /** Preallocated outputs by name (required for outputs the spec's validator does not size). */
  out?: Record<string, Tensor | undefined>;
}

function checkInput(op: string, name: string, type: InputType, v: unknown): void {
  if (type === 'int32') {
    if (!(v instanceof Int32Array)) throw new OpError(op, name, 'an Int32Array', describeValue(v));
  } else if (type === 'tensor' || v != null) expectTensor(op, name, v);
}

/**
 * Runs any registered kernel, built-in or contributed, by name: checks the inputs and attributes against
 * its spec (types, no missing or unknown names), runs the spec's validator (which returns the output
 * shapes), allocates the outputs not given in `opts.out`, and calls the backend's implementation (or its
 * fallback). Returns the outputs by name. The built-in ops above are the friendlier entry points to the
 * built-in kernels; this is the one op a contributed kernel needs.
 */
export function runKernel<K extends KernelName>(kernel: K, inputs: KernelInputs<K>, attrs: KernelAttrs<K>, opts?: RunKernelOptions): KernelOutputs<K>;
export function runKernel(kernel: string, inputs: Record<string, unknown>, attrs: Record<string, unknown>, opts?: RunKernelOptions): AnyOutputs;
export function runKernel(kernel: string, inputs: Record<string, unknown>, attrs: Record<string, unknown>, opts: RunKernelOptions = {}): AnyOutputs {
  const spec = getKernelSpec(kernel);
  const op = kernel;
  if (!inputs || typeof inputs !== 'object') throw new OpError(op, 'inputs', 'an object of named inputs', describeValue(inputs));
  if (!attrs || typeof attrs !== 'object') throw new OpError(op, 'attrs', 'an object of named attributes', describeValue(attrs));
  for (const name of Object.keys(inputs))
    if (!(name in spec.inputs)) throw new OpError(op, name, `one of the inputs ${Object.keys(spec.inputs).join(', ')}`, `an unknown input '${name}'`);
  for (const [name, type] of Object.entries(spec.inputs)) checkInput(op, name, type, inputs[name]);
  for (const name of Object.keys(attrs))
    if (!(name in spec.attrs)) throw new OpError(op, name, `one of the attributes ${Object.keys(spec.attrs).join(', ') || '(none)'}`, `an unknown attribute '${name}'`);
  for (const [name, type] of Object.entries(spec.attrs)) {
    const v = attrs[name];
    if (type === 'number') expectNumber(op, name, v);
    else if (type === 'int') expectInt(op, name, v, Number.MIN_SAFE_INTEGER);
    else if (type === 'boolean') { if (typeof v !== 'boolean') throw new OpError(op, name, 'a boolean', String(v)); }
    else expectOneOf(op, name, v, type);
  }
  const shapes = spec.validate ? spec.validate(inputs as never, attrs as never) : {};
  const given = opts.out ?? {};
  for (const name of Object.keys(given))
    if (!spec.outputs.includes(name)) throw new OpError(op, `out.${name}`, `one of the outputs ${spec.outputs.join(', ')}`, `an unknown output '${name}'`);
  const outputs: AnyOutputs = {};
  for (const name of spec.outputs) {
    const shape = shapes[name];
    if (shape === undefined) {
      if (given[name] === undefined) throw new OpError(op, `out.${name}`, 'a preallocated output (the spec does not size it)', 'none');
      outputs[name] = expectTensor(op, `out.${name}`, given[name]);
    } else outputs[name] = outTensor(op, `out.${name}`, given[name], shape, opts.backend);
  }
  getKernel(kernel, opts.backend)(inputs, attrs, outputs);
  return outputs;
}
