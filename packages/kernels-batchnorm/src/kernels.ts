/**
 * The three kernels of 2-D batch normalisation, declared with @convnet/tensor's registry, their `ref`
 * implementations and the ops that run them. x, y, dy, dx: [n, c, h, w] (NCHW); every other tensor: [c].
 */
import {
  OpError, expectTensor, fmtShape, registerKernel, registerKernelSpec, runKernel, type KernelSpec, type Tensor,
} from '@convnet/tensor';
import {
  batchNormBackwardCore, batchNormInferenceCore, batchNormTrainCore, updateRunningCore, type BnDims,
} from './ref.js';

const dims = (x: Tensor): BnDims => ({ n: x.shape[0], c: x.shape[1], plane: x.shape[2] * x.shape[3] });

function expectChannels(op: string, c: number, named: Record<string, unknown>): void {
  for (const [name, t] of Object.entries(named)) {
    const v = expectTensor(op, name, t, 1);
    if (v.shape[0] !== c) throw new OpError(op, name, `shape [${c}] (one value per channel of x)`, `shape ${fmtShape(v.shape)}`);
  }
}

function expectInput(op: string, x: unknown): Tensor {
  const t = expectTensor(op, 'x', x, 4);
  if (t.shape[0] * t.shape[2] * t.shape[3] < 1) throw new OpError(op, 'x', 'at least one value per channel', `shape ${fmtShape(t.shape)}`);
  return t;
}

type T = Tensor;
/** Training-mode forward: y from batch statistics; saveMean/saveInvStd for backward; running statistics updated in place. */
export const batchNorm2dSpec: KernelSpec<{ x: T; weight: T; bias: T }, { eps: number; momentum: number }> = {
  name: 'batchNorm2d',
  description: 'y = (x − mean)/√(var + eps)·weight + bias with batch statistics; running stats updated (PyTorch training mode)',
  inputs: { x: 'tensor', weight: 'tensor', bias: 'tensor' },
  attrs: { eps: 'number', momentum: 'number' },
  outputs: ['y', 'saveMean', 'saveInvStd', 'runningMean', 'runningVar'],
  validate: ({ x, weight, bias }, { eps, momentum }) => {
    const op = 'batchNorm2d';
    expectInput(op, x);
    const c = x.shape[1];
    expectChannels(op, c, { weight, bias });
    if (!(eps > 0)) throw new OpError(op, 'eps', 'a positive number', String(eps));
    if (!(momentum >= 0 && momentum <= 1)) throw new OpError(op, 'momentum', 'a number in [0, 1]', String(momentum));
    return { y: x.shape, saveMean: [c], saveInvStd: [c], runningMean: [c], runningVar: [c] };
  },
};

/** Inference-mode forward with the running statistics. */
export const batchNorm2dInferenceSpec: KernelSpec<{ x: T; weight: T; bias: T; runningMean: T; runningVar: T }, { eps: number }> = {
  name: 'batchNorm2dInference',
  description: 'y = (x − runningMean)/√(runningVar + eps)·weight + bias (PyTorch eval mode)',
  inputs: { x: 'tensor', weight: 'tensor', bias: 'tensor', runningMean: 'tensor', runningVar: 'tensor' },
  attrs: { eps: 'number' },
  outputs: ['y'],
  validate: ({ x, weight, bias, runningMean, runningVar }, { eps }) => {
    const op = 'batchNorm2dInference';
    expectTensor(op, 'x', x, 4);
    expectChannels(op, x.shape[1], { weight, bias, runningMean, runningVar });
    if (!(eps > 0)) throw new OpError(op, 'eps', 'a positive number', String(eps));
    return { y: x.shape };
  },
};

/** Gradients of the training-mode forward (dx through the batch statistics); outputs overwritten. */
export const batchNorm2dBackwardSpec: KernelSpec<{ x: T; dy: T; weight: T; saveMean: T; saveInvStd: T }, Record<string, never>> = {
  name: 'batchNorm2dBackward',
  description: 'dx, dweight, dbias of batchNorm2d from dy and the saved batch statistics',
  inputs: { x: 'tensor', dy: 'tensor', weight: 'tensor', saveMean: 'tensor', saveInvStd: 'tensor' },
  attrs: {},
  outputs: ['dx', 'dweight', 'dbias'],
  validate: ({ x, dy, weight, saveMean, saveInvStd }) => {
    const op = 'batchNorm2dBackward';
    expectInput(op, x);
    const d = expectTensor(op, 'dy', dy, 4);
    if (d.shape.some((v, i) => v !== x.shape[i])) throw new OpError(op, 'dy', `shape ${fmtShape(x.shape)} (as x)`, `shape ${fmtShape(d.shape)}`);
    const c = x.shape[1];
    expectChannels(op, c, { weight, saveMean, saveInvStd });
    return { dx: x.shape, dweight: [c], dbias: [c] };
  },
};

export const BATCHNORM_SPECS = [batchNorm2dSpec, batchNorm2dInferenceSpec, batchNorm2dBackwardSpec] as unknown as KernelSpec[];

/** The `ref` implementations (float64 accumulation), by kernel name. */
export const refKernels = {
  batchNorm2d: (
    { x, weight, bias }: { x: T; weight: T; bias: T }, { eps, momentum }: { eps: number; momentum: number },
    o: { y: T; saveMean: T; saveInvStd: T; runningMean: T; runningVar: T },
  ) => {
    batchNormTrainCore(x.data, weight.data, bias.data, o.y.data, o.saveMean.data, o.saveInvStd.data, dims(x), eps);
    updateRunningCore(x.data, o.runningMean.data, o.runningVar.data, dims(x), momentum);
  },
  batchNorm2dInference: (
    i: { x: T; weight: T; bias: T; runningMean: T; runningVar: T }, { eps }: { eps: number }, { y }: { y: T },
  ) => batchNormInferenceCore(i.x.data, i.weight.data, i.bias.data, i.runningMean.data, i.runningVar.data, y.data, dims(i.x), eps),
  batchNorm2dBackward: (
    i: { x: T; dy: T; weight: T; saveMean: T; saveInvStd: T }, _a: object, o: { dx: T; dweight: T; dbias: T },
  ) => batchNormBackwardCore(i.x.data, i.dy.data, i.weight.data, i.saveMean.data, i.saveInvStd.data, o.dx.data, o.dweight.data, o.dbias.data, dims(i.x)),
};

/** Registers the three specs and their `ref` kernels (idempotent). */
export function registerBatchNormSpecs(): void {
  for (const s of BATCHNORM_SPECS) registerKernelSpec(s);
  for (const [name, impl] of Object.entries(refKernels)) registerKernel(name, 'ref', impl);
}

export interface BatchNormExec {
  backend?: string;
}

/** Training-mode batch norm; updates runningMean/runningVar in place. Returns y and the saved statistics. */
export function batchNorm2d(
  x: T, weight: T, bias: T, runningMean: T, runningVar: T,
  opts: BatchNormExec & { eps?: number; momentum?: number; out?: T; outMean?: T; outInvStd?: T } = {},
): { y: T; saveMean: T; saveInvStd: T } {
  const r = runKernel('batchNorm2d', { x, weight, bias }, { eps: opts.eps ?? 1e-5, momentum: opts.momentum ?? 0.1 }, {
    backend: opts.backend,
    out: { y: opts.out, saveMean: opts.outMean, saveInvStd: opts.outInvStd, runningMean, runningVar },
  });
  return { y: r.y, saveMean: r.saveMean, saveInvStd: r.saveInvStd };
}

/** Inference-mode batch norm (running statistics). */
export function batchNorm2dInference(
  x: T, weight: T, bias: T, runningMean: T, runningVar: T, opts: BatchNormExec & { eps?: number; out?: T } = {},
): T {
  return runKernel('batchNorm2dInference', { x, weight, bias, runningMean, runningVar }, { eps: opts.eps ?? 1e-5 }, {
    backend: opts.backend, out: { y: opts.out },
  }).y;
}

/** Gradients of batchNorm2d. */
export function batchNorm2dBackward(
  x: T, dy: T, weight: T, saveMean: T, saveInvStd: T, opts: BatchNormExec & { out?: T; outWeight?: T; outBias?: T } = {},
): { dx: T; dweight: T; dbias: T } {
  const r = runKernel('batchNorm2dBackward', { x, dy, weight, saveMean, saveInvStd }, {}, {
    backend: opts.backend, out: { dx: opts.out, dweight: opts.outWeight, dbias: opts.outBias },
  });
  return { dx: r.dx, dweight: r.dweight, dbias: r.dbias };
}
