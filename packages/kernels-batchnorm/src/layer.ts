/**
 * BatchNorm2d as PyTorch's (torch.nn.BatchNorm2d with affine=True, track_running_stats=True): in training mode
 * it normalises with the batch's statistics and updates the running ones (momentum 0.1, running variance
 * unbiased); in eval mode it uses the running ones. State dict names are PyTorch's (`weight`, `bias`,
 * `running_mean`, `running_var`); PyTorch's `num_batches_tracked` is not kept (PyTorch fills it in when it is
 * missing, and only uses it when momentum is None).
 */
import { Module, NO_GRAD, type Parameter, reuse } from '@convnet/layers';
import { OpError, Tensor, fmtShape, isTensor, type Shape } from '@convnet/tensor';
import { batchNorm2d, batchNorm2dBackward, batchNorm2dInference } from './kernels.js';

export interface BatchNorm2dOptions {
  /** Added to the variance (default 1e-5). */
  eps?: number;
  /** running ← (1 − momentum)·running + momentum·batch (default 0.1). */
  momentum?: number;
}

export class BatchNorm2d extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter;
  readonly eps: number;
  readonly momentum: number;
  #x: Tensor | null = null;
  #y: Tensor | null = null;
  #dx: Tensor | null = null;
  #mean: Tensor | null = null;
  #invStd: Tensor | null = null;

  constructor(readonly numFeatures: number, o: BatchNorm2dOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new OpError('BatchNorm2d', 'numFeatures', 'a positive integer', String(numFeatures));
    this.eps = o.eps ?? 1e-5;
    this.momentum = o.momentum ?? 0.1;
    if (!(this.eps > 0)) throw new OpError('BatchNorm2d', 'eps', 'a positive number', String(this.eps));
    if (!(this.momentum >= 0 && this.momentum <= 1)) throw new OpError('BatchNorm2d', 'momentum', 'a number in [0, 1]', String(this.momentum));
    this.weight = this.registerParameter('weight', Tensor.from(new Array(numFeatures).fill(1)));
    this.bias = this.registerParameter('bias', Tensor.zeros([numFeatures]));
    this.registerBuffer('running_mean', Tensor.zeros([numFeatures]));
    this.registerBuffer('running_var', Tensor.from(new Array(numFeatures).fill(1)));
  }

  get runningMean(): Tensor {
    return this.buffer('running_mean');
  }

  get runningVar(): Tensor {
    return this.buffer('running_var');
  }

  outputShape(s: Shape): number[] {
    if (s.length !== 4 || s[1] !== this.numFeatures)
      throw new OpError('BatchNorm2d', 'input', `shape [n, ${this.numFeatures}, h, w]`, fmtShape(s));
    return [...s];
  }

  forward(x: Tensor): Tensor {
    if (!isTensor(x)) throw new OpError('BatchNorm2d', 'input', 'a Tensor [n, c, h, w]', String(x));
    this.outputShape(x.shape);
    const b = this.backend;
    this.#x = x;
    this.#y = reuse(this.#y, x.shape, b);
    if (!this.training)
      return batchNorm2dInference(x, this.weight.value, this.bias.value, this.runningMean, this.runningVar, { eps: this.eps, out: this.#y, backend: b });
    this.#mean = reuse(this.#mean, [this.numFeatures], b);
    this.#invStd = reuse(this.#invStd, [this.numFeatures], b);
    return batchNorm2d(x, this.weight.value, this.bias.value, this.runningMean, this.runningVar, {
      eps: this.eps, momentum: this.momentum, out: this.#y, outMean: this.#mean, outInvStd: this.#invStd, backend: b,
    }).y;
  }

  /** Gradients of the training-mode forward (the batch statistics depend on x). */
  backward(dy: Tensor): Tensor {
    const x = this.#x;
    if (!x || !this.#mean || !this.#invStd) throw new Error('BatchNorm2d.backward called before a training-mode forward');
    if (!this.training) throw new Error('BatchNorm2d.backward in eval mode is not supported (train() the module first)');
    this.#dx = reuse(this.#dx, x.shape, this.backend);
    batchNorm2dBackward(x, dy, this.weight.value, this.#mean, this.#invStd, {
      out: this.#dx, outWeight: this.weight.grad, outBias: this.bias.grad, backend: this.backend,
    });
    return this.needsInputGrad ? this.#dx : NO_GRAD;
  }
}
