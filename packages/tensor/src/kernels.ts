/**
 * Kernel specs: every kernel's name with its typed inputs, attributes and (preallocated) outputs.
 * Ops (ops.ts) validate arguments, compute output shapes and allocate outputs; implementations
 * (ref/, cpu/, or a contributed backend) only compute. Layouts: activations NCHW, weights OIHW,
 * matrices row-major. Unless a kernel says "in place", outputs never alias inputs.
 */
import type { Conv2dInfo, Pool2dInfo } from './geometry.js';
import type { Tensor } from './tensor.js';

export type ActivationFn = 'relu' | 'logistic' | 'tanh' | 'abs' | 'softplus';

/**
 * LRN alpha convention. 'divide-by-size' (PyTorch, cuda-convnet): scale = k + α/n · Σ x².
 * 'paper' (the 2012 paper as printed): scale = k + α · Σ x².
 */
export type LrnAlphaMode = 'divide-by-size' | 'paper';

export type SgdRule = 'pytorch' | 'paper';

export interface LrnAttrs { size: number; alpha: number; beta: number; k: number; alphaMode: LrnAlphaMode }

export interface KernelTypes {
  /** c[M,N] = alpha · op(a) · op(b) + beta · c. a: [M,K] or [K,M] if transA; b: [K,N] or [N,K] if transB. */
  gemm: {
    inputs: { a: Tensor; b: Tensor };
    attrs: { transA: boolean; transB: boolean; alpha: number; beta: number };
    outputs: { c: Tensor };
  };
  /** y = conv(x, w) + b. x [n,c,h,w], w [o,c/g,kh,kw], b [o] optional; y [n,o,oh,ow]. */
  conv2d: {
    inputs: { x: Tensor; w: Tensor; b?: Tensor };
    attrs: Conv2dInfo;
    outputs: { y: Tensor };
  };
  /** dx [n,c,h,w] from dy [n,o,oh,ow] and w. */
  conv2dBackwardInput: {
    inputs: { dy: Tensor; w: Tensor };
    attrs: Conv2dInfo;
    outputs: { dx: Tensor };
  };
  /** dw [o,c/g,kh,kw] from x and dy (overwritten, not accumulated). */
  conv2dBackwardWeight: {
    inputs: { x: Tensor; dy: Tensor };
    attrs: Conv2dInfo;
    outputs: { dw: Tensor };
  };
  /** db [c] = Σ over every axis but 1 of dy [n,c,...] (bias gradient of conv2d and linear). */
  conv2dBackwardBias: {
    inputs: { dy: Tensor };
    attrs: Record<string, never>;
    outputs: { db: Tensor };
  };
  /** y = x + b broadcast along axis 1 of x [n,c,...]; in place allowed (y may be x). */
  biasAdd: {
    inputs: { x: Tensor; b: Tensor };
    attrs: Record<string, never>;
    outputs: { y: Tensor };
  };
  /** Max over each window (padding never wins). */
  maxPool2d: { inputs: { x: Tensor }; attrs: Pool2dInfo; outputs: { y: Tensor } };
  /** dx: each dy goes to the first maximum of its window in scan order (PyTorch's tie rule); windows overlap, so dx sums. */
  maxPool2dBackward: { inputs: { x: Tensor; dy: Tensor }; attrs: Pool2dInfo; outputs: { dx: Tensor } };
  /**
   * Mean over each window. countIncludePad: divide by the window clipped to the padded input (PyTorch's
   * default), else by the number of real input cells in the window.
   */
  avgPool2d: { inputs: { x: Tensor }; attrs: Pool2dInfo & { countIncludePad: boolean }; outputs: { y: Tensor } };
  avgPool2dBackward: { inputs: { dy: Tensor }; attrs: Pool2dInfo & { countIncludePad: boolean }; outputs: { dx: Tensor } };
  /** PyTorch's adaptive average pooling to [oh, ow] (attrs' kh..pw are unused and 0). */
  adaptiveAvgPool2d: { inputs: { x: Tensor }; attrs: Pool2dInfo; outputs: { y: Tensor } };
  adaptiveAvgPool2dBackward: { inputs: { dy: Tensor }; attrs: Pool2dInfo; outputs: { dx: Tensor } };
  /**
   * Local response normalisation across channels of x [n,c,h,w]:
   * scale_i = k + a · Σ_{j in window(i)} x_j²,  y_i = x_i · scale_i^(−β), window(i) = [i − ⌊size/2⌋, i + ⌊(size−1)/2⌋]
   * clipped to [0, c) (PyTorch's padding), a = α/size or α (alphaMode). scale is saved for backward.
   */
  lrn: { inputs: { x: Tensor }; attrs: LrnAttrs; outputs: { y: Tensor; scale: Tensor } };
  /** dx_i = dy_i·scale_i^(−β) − 2aβ·x_i·Σ_{j: i in window(j)} dy_j·y_j/scale_j. */
  lrnBackward: { inputs: { x: Tensor; y: Tensor; scale: Tensor; dy: Tensor }; attrs: LrnAttrs; outputs: { dx: Tensor } };
  /**
   * Element-wise neuron; in place allowed. Note: activationBackward needs the original x for abs and softplus,
   * so run those in place only when x is not needed afterwards (layers run only relu in place).
   */
  activation: { inputs: { x: Tensor }; attrs: { fn: ActivationFn }; outputs: { y: Tensor } };
  /** dx from x, y = f(x) and dy; in place allowed (dx may be dy). */
  activationBackward: { inputs: { x: Tensor; y: Tensor; dy: Tensor }; attrs: { fn: ActivationFn }; outputs: { dx: Tensor } };
  /**
   * Dropout with a mask drawn from the Philox stream (seed, stream), words [offset, offset + size):
   * keep element i iff (word_i >>> 8) < keepThreshold (= round((1−p)·2^24)). mask_i = keep ? scale : 0;
   * y = x · mask. scale is 1/(1−p) (inverted dropout) or 1 (the paper's: scale by 1−p at test time).
   */
  dropout: {
    inputs: { x: Tensor };
    attrs: { seed: number; stream: number; offset: number; keepThreshold: number; scale: number };
    outputs: { y: Tensor; mask: Tensor };
  };
  /** y = a ⊙ b (element-wise; dropout backward is dy ⊙ mask). In place allowed. */
  mul: { inputs: { a: Tensor; b: Tensor }; attrs: Record<string, never>; outputs: { y: Tensor } };
  /** Row-wise softmax of x [n, classes]. */
  softmax: { inputs: { x: Tensor }; attrs: Record<string, never>; outputs: { y: Tensor } };
  /**
   * Mean softmax cross-entropy of logits [n, classes] against integer labels; dlogits is the gradient of
   * that mean; hits = [top-1 hits, top-k hits] (a label counts as hit when fewer than k classes have a
   * strictly larger logit).
   */
  softmaxCrossEntropy: {
    inputs: { logits: Tensor; labels: Int32Array };
    attrs: { topk: number };
    outputs: { loss: Tensor; dlogits: Tensor; hits: Tensor };
  };
  /**
   * One SGD step in place on w and v (momentum buffer) given gradient g.
   * 'pytorch': d = g + wd·w; v = μ·v + (1 − dampening)·d (v = d on the first step); w −= lr·(nesterov ? d + μ·v : v).
   * 'paper':   v = μ·v − lr·wd·w − lr·g;  w += v.
   * firstStep: whether v holds no history yet (PyTorch initialises v = d). The 'paper' rule ignores it and
   * reads v as stored, so v must start at zero (optimisers allocate it zero-filled).
   */
  sgdUpdate: {
    inputs: { g: Tensor };
    attrs: { lr: number; momentum: number; weightDecay: number; dampening: number; nesterov: boolean; rule: SgdRule; firstStep: boolean };
    outputs: { w: Tensor; v: Tensor };
  };
  /** y = a + b (same shapes); in place allowed. */
  add: { inputs: { a: Tensor; b: Tensor }; attrs: Record<string, never>; outputs: { y: Tensor } };
  /** y = alpha · x; in place allowed. */
  scale: { inputs: { x: Tensor }; attrs: { alpha: number }; outputs: { y: Tensor } };
  /** y += alpha · x (in place on y). */
  axpy: { inputs: { x: Tensor }; attrs: { alpha: number }; outputs: { y: Tensor } };
  /** y[0] = Σ x, y[1] = Σ x² (accumulated in float64). */
  sumAndSquares: { inputs: { x: Tensor }; attrs: Record<string, never>; outputs: { y: Tensor } };
  /** Softmax backward from its output: dx = y ⊙ (dy − Σ_row dy ⊙ y), y and dy [n, classes] (row sums in float64). */
  softmaxBackward: { inputs: { y: Tensor; dy: Tensor }; attrs: Record<string, never>; outputs: { dx: Tensor } };
  /**
   * One Adam step (torch.optim.Adam; AdamW with `decoupled`) in place on w and the moments m, v, given g, at
   * step `step` (1-based, for the bias corrections), per element in float64, stored as float32 in this order:
   * AdamW: w = w·(1 − lr·wd); Adam: g' = g + wd·w; m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²;
   * w −= (lr / (1 − β1^t))·m / (√v / √(1 − β2^t) + eps).
   */
  adamUpdate: {
    inputs: { g: Tensor };
    attrs: { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; step: number };
    outputs: { w: Tensor; m: Tensor; v: Tensor };
  };
}

export type KernelName = keyof KernelTypes;
export type KernelInputs<K extends KernelName> = KernelTypes[K]['inputs'];
export type KernelAttrs<K extends KernelName> = KernelTypes[K]['attrs'];
export type KernelOutputs<K extends KernelName> = KernelTypes[K]['outputs'];
export type KernelImpl<K extends KernelName> = (
  inputs: KernelInputs<K>,
  attrs: KernelAttrs<K>,
  outputs: KernelOutputs<K>,
) => void;

// ---------------------------------------------------------------------------------------------- specs

/** An input's type: a float32 Tensor, an optional one (may be absent or null), or an Int32Array (labels). */
export type InputType = 'tensor' | 'tensor?' | 'int32';
/**
 * An attribute's type: a finite number, an integer, a boolean, or one of a list of strings. Kernels get
 * attributes by name (never by position), down to the native binding.
 */
export type AttrType = 'number' | 'int' | 'boolean' | readonly string[];

/** The inputs, attributes and outputs of any kernel, typed loosely (contributed kernels without typings). */
export type AnyInputs = Record<string, Tensor | Int32Array | undefined>;
export type AnyAttrs = Record<string, number | boolean | string>;
export type AnyOutputs = Record<string, Tensor>;
export type AnyKernelImpl = (inputs: any, attrs: any, outputs: any) => void;  // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A kernel's declaration: its name, typed inputs, named attributes and outputs, and a validator. Built-in
 * and contributed kernels alike are registered with `registerKernelSpec`; backends implement kernels by
 * these names. A contributed package can add its kernel's types to `KernelTypes` by declaration merging
 * (`declare module '@convnet/tensor' { interface KernelTypes { myKernel: {...} } }`).
 */
export interface KernelSpec<I = AnyInputs, A = AnyAttrs> {
  name: string;
  /** One line of what it computes (with layouts); shown in errors and listings. */
  description?: string;
  inputs: Readonly<Record<string, InputType>>;
  attrs: Readonly<Record<string, AttrType>>;
  /** Output names, in the order the kernel documents them. Outputs are preallocated by the caller. */
  outputs: readonly string[];
  /**
   * Checks what the types above cannot (ranks, shapes that must agree, ranges) by throwing an OpError, and
   * returns every output's shape; `runKernel` calls it and allocates the outputs. Built-in kernels are run
   * by their own ops (ops.ts), which validate the same way, so theirs may be absent.
   */
  validate?: (inputs: I, attrs: A) => Record<string, readonly number[]>;
}

const INT = 'int' as const;
const CONV: Record<keyof Conv2dInfo, AttrType> = {
  n: INT, c: INT, h: INT, w: INT, o: INT, kh: INT, kw: INT, sh: INT, sw: INT, ph: INT, pw: INT, groups: INT, oh: INT, ow: INT,
};
const POOL: Record<keyof Pool2dInfo, AttrType> = {
  n: INT, c: INT, h: INT, w: INT, kh: INT, kw: INT, sh: INT, sw: INT, ph: INT, pw: INT, oh: INT, ow: INT,
};
const LRN: Record<keyof LrnAttrs, AttrType> = {
  size: INT, alpha: 'number', beta: 'number', k: 'number', alphaMode: ['divide-by-size', 'paper'],
};
const ACTIVATION_FNS: readonly ActivationFn[] = ['relu', 'logistic', 'tanh', 'abs', 'softplus'];

const spec = (name: KernelName, inputs: KernelSpec['inputs'], attrs: KernelSpec['attrs'], outputs: string[]): KernelSpec =>
  ({ name, inputs, attrs, outputs });

/** The built-in kernels' specs (registered through `registerKernelSpec` on first registry use). */
export const BUILTIN_KERNEL_SPECS: readonly KernelSpec[] = [
  spec('gemm', { a: 'tensor', b: 'tensor' }, { transA: 'boolean', transB: 'boolean', alpha: 'number', beta: 'number' }, ['c']),
  spec('conv2d', { x: 'tensor', w: 'tensor', b: 'tensor?' }, CONV, ['y']),
  spec('conv2dBackwardInput', { dy: 'tensor', w: 'tensor' }, CONV, ['dx']),
  spec('conv2dBackwardWeight', { x: 'tensor', dy: 'tensor' }, CONV, ['dw']),
  spec('conv2dBackwardBias', { dy: 'tensor' }, {}, ['db']),
  spec('biasAdd', { x: 'tensor', b: 'tensor' }, {}, ['y']),
  spec('maxPool2d', { x: 'tensor' }, POOL, ['y']),
  spec('maxPool2dBackward', { x: 'tensor', dy: 'tensor' }, POOL, ['dx']),
  spec('avgPool2d', { x: 'tensor' }, { ...POOL, countIncludePad: 'boolean' }, ['y']),
  spec('avgPool2dBackward', { dy: 'tensor' }, { ...POOL, countIncludePad: 'boolean' }, ['dx']),
  spec('adaptiveAvgPool2d', { x: 'tensor' }, POOL, ['y']),
  spec('adaptiveAvgPool2dBackward', { dy: 'tensor' }, POOL, ['dx']),
  spec('lrn', { x: 'tensor' }, LRN, ['y', 'scale']),
  spec('lrnBackward', { x: 'tensor', y: 'tensor', scale: 'tensor', dy: 'tensor' }, LRN, ['dx']),
  spec('activation', { x: 'tensor' }, { fn: ACTIVATION_FNS }, ['y']),
  spec('activationBackward', { x: 'tensor', y: 'tensor', dy: 'tensor' }, { fn: ACTIVATION_FNS }, ['dx']),
  spec('dropout', { x: 'tensor' }, { seed: INT, stream: INT, offset: INT, keepThreshold: INT, scale: 'number' }, ['y', 'mask']),
  spec('mul', { a: 'tensor', b: 'tensor' }, {}, ['y']),
  spec('softmax', { x: 'tensor' }, {}, ['y']),
  spec('softmaxCrossEntropy', { logits: 'tensor', labels: 'int32' }, { topk: INT }, ['loss', 'dlogits', 'hits']),
  spec('sgdUpdate', { g: 'tensor' }, {
    lr: 'number', momentum: 'number', weightDecay: 'number', dampening: 'number', nesterov: 'boolean',
    rule: ['pytorch', 'paper'], firstStep: 'boolean',
  }, ['w', 'v']),
  spec('add', { a: 'tensor', b: 'tensor' }, {}, ['y']),
  spec('scale', { x: 'tensor' }, { alpha: 'number' }, ['y']),
  spec('axpy', { x: 'tensor' }, { alpha: 'number' }, ['y']),
  spec('sumAndSquares', { x: 'tensor' }, {}, ['y']),
  spec('softmaxBackward', { y: 'tensor', dy: 'tensor' }, {}, ['dx']),
  spec('adamUpdate', { g: 'tensor' }, {
    lr: 'number', beta1: 'number', beta2: 'number', eps: 'number', weightDecay: 'number', decoupled: 'boolean', step: INT,
  }, ['w', 'm', 'v']),
];

/** The built-in kernels' names (contributed kernels are listed by `kernelNames()`). */
export const KERNEL_NAMES: readonly KernelName[] = BUILTIN_KERNEL_SPECS.map((s) => s.name as KernelName);
