/** The layers. Each documents the layouts it takes and what its forward caches for backward. */
import {
  OpError, Rng, Tensor, activation, activationBackward, adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d,
  avgPool2dBackward, biasAdd, conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dInfo,
  dropout, fmtShape, lrn, lrnBackward, matmul, maxPool2d, maxPool2dBackward, mul, pool2dInfo, scale, softmax,
  softmaxBackward, softmaxCrossEntropy, type ActivationFn, type LrnAlphaMode, type Shape, type SizeRule,
} from '@convnet/tensor';
import { pytorchDefault } from './init.js';
import { Module, NO_GRAD, expectRank, reuse, type Parameter } from './module.js';

const defaultRng = () => new Rng(0);

export interface Conv2dOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  groups?: number;
  bias?: boolean;
  sizeRule?: SizeRule;
  /** Initialises with PyTorch's defaults from this stream (default: seed 0). */
  rng?: Rng;
}

/** 2-D convolution. x [n, inC, h, w] → y [n, outC, oh, ow]; weight [outC, inC/groups, k, k] (OIHW). */
export class Conv2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly opts: { stride: number | [number, number]; padding: number | [number, number]; groups: number; sizeRule: SizeRule };
  #x: Tensor | null = null;
  #y: Tensor | null = null;
  #dx: Tensor | null = null;

  constructor(readonly inChannels: number, readonly outChannels: number, kernel: number | [number, number], o: Conv2dOptions = {}) {
    super();
    const [kh, kw] = typeof kernel === 'number' ? [kernel, kernel] : kernel;
    const groups = o.groups ?? 1;
    for (const [name, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['kernel', kh], ['kernel', kw], ['groups', groups]] as const)
      if (!Number.isInteger(v) || v < 1) throw new OpError('Conv2d', name, 'a positive integer', String(v));
    if (inChannels % groups || outChannels % groups)
      throw new OpError('Conv2d', 'groups', `a divisor of inChannels (${inChannels}) and outChannels (${outChannels})`, String(groups));
    this.opts = { stride: o.stride ?? 1, padding: o.padding ?? 0, groups, sizeRule: o.sizeRule ?? 'floor' };
    this.weight = this.registerParameter('weight', Tensor.zeros([outChannels, inChannels / groups, kh, kw]));
    this.bias = o.bias === false ? null : this.registerParameter('bias', Tensor.zeros([outChannels]));
    pytorchDefault(this.weight.value, this.bias?.value ?? null, o.rng ?? defaultRng());
  }

  outputShape(s: Shape): number[] {
    const g = conv2dInfo('Conv2d', s, this.weight.value.shape, this.opts);
    return [g.n, g.o, g.oh, g.ow];
  }

  forward(x: Tensor): Tensor {
    expectRank('Conv2d', x, 4, '[n, c, h, w]');
    if (x.shape[1] !== this.inChannels) throw new OpError('Conv2d', 'input', `${this.inChannels} channels`, `shape ${fmtShape(x.shape)}`);
    this.#x = x;
    this.#y = reuse(this.#y, this.outputShape(x.shape), this.backend);
    return conv2d(x, this.weight.value, this.bias?.value ?? null, { ...this.opts, out: this.#y, backend: this.backend });
  }

  backward(dy: Tensor): Tensor {
    const x = this.#x;
    if (!x) throw new Error('Conv2d.backward called before forward');
    const o = { ...this.opts, backend: this.backend };
    conv2dBackwardWeight(x, dy, this.weight.value.shape, { ...o, out: this.weight.grad });
    if (this.bias) conv2dBackwardBias(dy, { backend: this.backend, out: this.bias.grad });
    if (!this.needsInputGrad) return NO_GRAD;
    this.#dx = reuse(this.#dx, x.shape, this.backend);
    return conv2dBackwardInput(dy, this.weight.value, x.shape, { ...o, out: this.#dx });
  }
}

/** Fully connected: x [n, in] → y [n, out]; weight [out, in] as PyTorch. */
export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  #x: Tensor | null = null;
  #y: Tensor | null = null;
  #dx: Tensor | null = null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, o: { bias?: boolean; rng?: Rng } = {}) {
    super();
    for (const [name, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const)
      if (!Number.isInteger(v) || v < 1) throw new OpError('Linear', name, 'a positive integer', String(v));
    this.weight = this.registerParameter('weight', Tensor.zeros([outFeatures, inFeatures]));
    this.bias = o.bias === false ? null : this.registerParameter('bias', Tensor.zeros([outFeatures]));
    pytorchDefault(this.weight.value, this.bias?.value ?? null, o.rng ?? defaultRng());
  }

  outputShape(s: Shape): number[] {
    if (s.length !== 2 || s[1] !== this.inFeatures) throw new OpError('Linear', 'input', `shape [n, ${this.inFeatures}]`, fmtShape(s));
    return [s[0], this.outFeatures];
  }

  forward(x: Tensor): Tensor {
    this.outputShape(x.shape);
    this.#x = x;
    this.#y = reuse(this.#y, [x.shape[0], this.outFeatures], this.backend);
    matmul(x, this.weight.value, { transB: true, out: this.#y, backend: this.backend });
    if (this.bias) biasAdd(this.#y, this.bias.value, { out: this.#y, backend: this.backend });
    return this.#y;
  }

  backward(dy: Tensor): Tensor {
    const x = this.#x;
    if (!x) throw new Error('Linear.backward called before forward');
    matmul(dy, x, { transA: true, out: this.weight.grad, backend: this.backend });
    if (this.bias) conv2dBackwardBias(dy, { out: this.bias.grad, backend: this.backend });
    if (!this.needsInputGrad) return NO_GRAD;
    this.#dx = reuse(this.#dx, x.shape, this.backend);
    return matmul(dy, this.weight.value, { out: this.#dx, backend: this.backend });
  }
}

/**
 * An element-wise neuron. With `inplace` (ReLU only, like PyTorch's inplace=True) it overwrites its input and
 * its backward overwrites dy: use it only after a layer whose backward does not need its own output
 * (Conv2d, Linear), never after LRN or pooling.
 */
export class Activation extends Module {
  #x: Tensor | null = null;
  #y: Tensor | null = null;
  #dx: Tensor | null = null;

  constructor(readonly fn: ActivationFn, readonly inplace = false) {
    super();
    if (inplace && fn !== 'relu') throw new OpError('Activation', 'inplace', "fn 'relu'", `'${fn}'`);
  }

  outputShape(s: Shape): number[] {
    return [...s];
  }

  forward(x: Tensor): Tensor {
    this.#x = x;
    this.#y = this.inplace ? x : reuse(this.#y, x.shape, this.backend);
    return activation(x, this.fn, { out: this.#y, backend: this.backend });
  }

  backward(dy: Tensor): Tensor {
    if (!this.#y || !this.#x) throw new Error(`${this.fn}.backward called before forward`);
    if (this.inplace) return activationBackward(this.#y, this.#y, dy, this.fn, { out: dy, backend: this.backend });
    this.#dx = reuse(this.#dx, dy.shape, this.backend);
    return activationBackward(this.#x, this.#y, dy, this.fn, { out: this.#dx, backend: this.backend });
  }
}

export class ReLU extends Activation {
  constructor(opts: { inplace?: boolean } = {}) {
    super('relu', opts.inplace ?? false);
  }
}
export class Sigmoid extends Activation { constructor() { super('logistic'); } }
/** cuda-convnet's name for the sigmoid neuron. */
export { Sigmoid as Logistic };
export class Tanh extends Activation { constructor() { super('tanh'); } }
export class Abs extends Activation { constructor() { super('abs'); } }
export class Softplus extends Activation { constructor() { super('softplus'); } }

export interface PoolOptions {
  stride?: number | [number, number];
  padding?: number | [number, number];
  sizeRule?: SizeRule;
}

/** Max pooling (overlapping when stride < kernel, as AlexNet's 3/2). x [n, c, h, w]. */
export class MaxPool2d extends Module {
  readonly opts: { kernel: number | [number, number]; stride: number | [number, number]; padding: number | [number, number]; sizeRule: SizeRule };
  #x: Tensor | null = null;
  #y: Tensor | null = null;
  #dx: Tensor | null = null;

  constructor(kernel: number | [number, number], o: PoolOptions = {}) {
    super();
    this.opts = { kernel, stride: o.stride ?? kernel, padding: o.padding ?? 0, sizeRule: o.sizeRule ?? 'floor' };
  }

  outputShape(s: Shape): number[] {
    const g = pool2dInfo('MaxPool2d', s, this.opts);
    return [g.n, g.c, g.oh, g.ow];
  }

  forward(x: Tensor): Tensor {
    expectRank('MaxPool2d', x, 4, '[n, c, h, w]');
    this.#x = x;
    this.#y = reuse(this.#y, this.outputShape(x.shape), this.backend);
    return maxPool2d(x, { ...this.opts, out: this.#y, backend: this.backend });
  }

  backward(dy: Tensor): Tensor {
    if (!this.#x) throw new Error('MaxPool2d.backward called before forward');
    this.#dx = reuse(this.#dx, this.#x.shape, this.backend);
    return maxPool2dBackward(this.#x, dy, { ...this.opts, out: this.#dx, backend: this.backend });
  }
}

/** Average pooling; countIncludePad as PyTorch (default true). */
export class AvgPool2d extends Module {
  readonly opts: { kernel: number | [number, number]; stride: number | [number, number]; padding: number | [number, number]; sizeRule: SizeRule; countIncludePad: boolean };
  #shape: Shape | null = null;
  #y: Tensor | null = null;
  #dx: Tensor | null = null;

  constructor(kernel: number | [number, number], o: PoolOptions & { countIncludePad?: boolean } = {}) {
    super();
    this.opts = { kernel, stride: o.stride ?? kernel, padding: o.padding ?? 0, sizeRule: o.sizeRule ?? 'floor', countIncludePad: o.countIncludePad ?? true };
  }

  outputShape(s: Shape): number[] {
    const g = pool2dInfo('AvgPool2d', s, this.opts);
    return [g.n, g.c, g.oh, g.ow];
  }

  forward(x: Tensor): Tensor {
    expectRank('AvgPool2d', x, 4, '[n, c, h, w]');
    this.#shape = x.shape;
    this.#y = reuse(this.#y, this.outputShape(x.shape), this.backend);
    return avgPool2d(x, { ...this.opts, out: this.#y, backend: this.backend });
  }

  backward(dy: Tensor): Tensor {
    if (!this.#shape) throw new Error('AvgPool2d.backward called before forward');
    this.#dx = reuse(this.#dx, this.#shape, this.backend);
    return avgPool2dBackward(dy, this.#shape, { ...this.opts, out: this.#dx, backend: this.backend });
  }
}

/** PyTorch's AdaptiveAvgPool2d (torchvision's AlexNet pools to 6×6 with it). */
export class AdaptiveAvgPool2d extends Module {
  #shape: Shape | null = null;
  #y: Tensor | null = null;
  #dx: Tensor | null = null;

  constructor(readonly outputSize: number | [number, number]) {
    super();
  }

  outputShape(s: Shape): number[] {
    const [oh, ow] = typeof this.outputSize === 'number' ? [this.outputSize, this.outputSize] : this.outputSize;
    return [s[0], s[1], oh, ow];
  }

  forward(x: Tensor): Tensor {
    expectRank('AdaptiveAvgPool2d', x, 4, '[n, c, h, w]');
    this.#shape = x.shape;
    const s = this.outputShape(x.shape);
    // same size: identity (no copy), as for torchvision AlexNet at 224
    if (s[2] === x.shape[2] && s[3] === x.shape[3]) return x;
    this.#y = reuse(this.#y, s, this.backend);
    return adaptiveAvgPool2d(x, this.outputSize, { out: this.#y, backend: this.backend });
  }

  backward(dy: Tensor): Tensor {
    if (!this.#shape) throw new Error('AdaptiveAvgPool2d.backward called before forward');
    if (dy.shape[2] === this.#shape[2] && dy.shape[3] === this.#shape[3]) return dy;
    this.#dx = reuse(this.#dx, this.#shape, this.backend);
    return adaptiveAvgPool2dBackward(dy, this.#shape, { out: this.#dx, backend: this.backend });
  }
}

export interface LrnOptions {
  alpha?: number;
  beta?: number;
  k?: number;
  /** 'divide-by-size' (PyTorch, default) or 'paper'. */
  alphaMode?: LrnAlphaMode;
}

/** Local response normalisation across channels (AlexNet section 3.3). */
export class LocalResponseNorm extends Module {
  readonly opts: Required<LrnOptions> & { size: number };
  #x: Tensor | null = null;
  #y: Tensor | null = null;
  #scale: Tensor | null = null;
  #dx: Tensor | null = null;

  constructor(size: number, o: LrnOptions = {}) {
    super();
    this.opts = { size, alpha: o.alpha ?? 1e-4, beta: o.beta ?? 0.75, k: o.k ?? 1, alphaMode: o.alphaMode ?? 'divide-by-size' };
  }

  outputShape(s: Shape): number[] {
    return [...s];
  }

  forward(x: Tensor): Tensor {
    expectRank('LocalResponseNorm', x, 4, '[n, c, h, w]');
    this.#x = x;
    this.#y = reuse(this.#y, x.shape, this.backend);
    this.#scale = reuse(this.#scale, x.shape, this.backend);
    return lrn(x, { ...this.opts, out: this.#y, outScale: this.#scale, backend: this.backend }).y;
  }

  backward(dy: Tensor): Tensor {
    if (!this.#x || !this.#y || !this.#scale) throw new Error('LocalResponseNorm.backward called before forward');
    this.#dx = reuse(this.#dx, this.#x.shape, this.backend);
    return lrnBackward(this.#x, this.#y, this.#scale, dy, { ...this.opts, out: this.#dx, backend: this.backend });
  }
}

/**
 * Dropout. 'inverted' (PyTorch): kept units ×1/(1−p) in training, identity in eval. 'classic' (the paper):
 * kept units unscaled in training, outputs ×(1−p) in eval. Masks come from `rng` (Philox), so a run can
 * set `rng.counter` to replay or resume exactly.
 */
export class Dropout extends Module {
  readonly mode: 'inverted' | 'classic';
  rng: Rng;
  #y: Tensor | null = null;
  #mask: Tensor | null = null;
  #dx: Tensor | null = null;
  #active = false;

  constructor(readonly p = 0.5, o: { mode?: 'inverted' | 'classic'; rng?: Rng } = {}) {
    super();
    if (!(p >= 0 && p < 1)) throw new OpError('Dropout', 'p', 'a probability in [0, 1)', String(p));
    this.mode = o.mode ?? 'inverted';
    this.rng = o.rng ?? defaultRng();
  }

  outputShape(s: Shape): number[] {
    return [...s];
  }

  forward(x: Tensor): Tensor {
    this.#active = this.training && this.p > 0;
    if (!this.#active) {
      if (this.mode === 'classic' && this.p > 0) {
        this.#y = reuse(this.#y, x.shape, this.backend);
        return scale(x, 1 - this.p, { out: this.#y, backend: this.backend });
      }
      return x;
    }
    this.#y = reuse(this.#y, x.shape, this.backend);
    this.#mask = reuse(this.#mask, x.shape, this.backend);
    return dropout(x, { p: this.p, mode: this.mode, rng: this.rng, out: this.#y, outMask: this.#mask, backend: this.backend }).y;
  }

  backward(dy: Tensor): Tensor {
    if (!this.#active) {
      if (this.mode === 'classic' && this.p > 0) {
        this.#dx = reuse(this.#dx, dy.shape, this.backend);
        return scale(dy, 1 - this.p, { out: this.#dx, backend: this.backend });
      }
      return dy;
    }
    this.#dx = reuse(this.#dx, dy.shape, this.backend);
    return mul(dy, this.#mask!, { out: this.#dx, backend: this.backend });
  }
}

/** [n, ...] → [n, product of the rest] (a view, no copy). */
export class Flatten extends Module {
  #shape: Shape | null = null;

  outputShape(s: Shape): number[] {
    return [s[0], s.slice(1).reduce((a, d) => a * d, 1)];
  }

  forward(x: Tensor): Tensor {
    this.#shape = x.shape;
    return x.reshape(this.outputShape(x.shape));
  }

  backward(dy: Tensor): Tensor {
    if (!this.#shape) throw new Error('Flatten.backward called before forward');
    return dy.reshape(this.#shape);
  }
}

/** Row-wise softmax of [n, classes] (for inference; train with CrossEntropyLoss on logits). */
export class Softmax extends Module {
  #y: Tensor | null = null;
  #dx: Tensor | null = null;

  outputShape(s: Shape): number[] {
    return [...s];
  }

  forward(x: Tensor): Tensor {
    expectRank('Softmax', x, 2, '[n, classes]');
    this.#y = reuse(this.#y, x.shape, this.backend);
    return softmax(x, { out: this.#y, backend: this.backend });
  }

  /** dx = y ⊙ (dy − Σ dy ⊙ y) per row. */
  backward(dy: Tensor): Tensor {
    const y = this.#y;
    if (!y) throw new Error('Softmax.backward called before forward');
    this.#dx = reuse(this.#dx, y.shape, this.backend);
    return softmaxBackward(y, dy, { out: this.#dx, backend: this.backend });
  }
}

/** Mean softmax cross-entropy over a batch of logits, with top-1 / top-5 hit counts. */
export class CrossEntropyLoss {
  backend: string | undefined = undefined;
  #grad: Tensor | null = null;

  forward(logits: Tensor, labels: Int32Array | readonly number[]): { loss: number; top1Hits: number; top5Hits: number } {
    this.#grad = reuse(this.#grad, logits.shape, this.backend);
    const r = softmaxCrossEntropy(logits, labels, { topk: 5, outGrad: this.#grad, backend: this.backend });
    return { loss: r.loss, top1Hits: r.top1Hits, top5Hits: r.topkHits };
  }

  /** Gradient of the mean loss with respect to the logits of the last forward. */
  backward(): Tensor {
    if (!this.#grad) throw new Error('CrossEntropyLoss.backward called before forward');
    return this.#grad;
  }
}
