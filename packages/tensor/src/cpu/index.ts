/**
 * The `cpu` backend (the default): thin wrappers that hand checked shapes and preallocated outputs to
 * the @convnet/native addon (tensors' own Float32Arrays, no copies). Every kernel is implemented here;
 * `fallback: 'ref'` only serves kernels a future spec adds before the native side has them.
 */
import type { Conv2dInfo, Pool2dInfo } from '../geometry.js';
import type { ActivationFn } from '../kernels.js';
import type { Backend, KernelTable } from '../registry.js';
import { native } from './native.js';
import { adamUpdate as refAdamUpdate } from '../ref/adam.js';
import { softmaxBackward as refSoftmaxBackward } from '../ref/loss.js';

const convGeom = (g: Conv2dInfo) => [g.n, g.c, g.h, g.w, g.o, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.groups, g.oh, g.ow];
const poolGeom = (g: Pool2dInfo) => [g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.oh, g.ow];
const ACT: Record<ActivationFn, number> = { relu: 0, logistic: 1, tanh: 2, abs: 3, softplus: 4 };
const inner = (shape: readonly number[]) => shape.slice(2).reduce((a, d) => a * d, 1);
const lrnCoef = (a: { alpha: number; size: number; alphaMode: string }) => (a.alphaMode === 'paper' ? a.alpha : a.alpha / a.size);

/** [mean loss, top-1 hits, top-k hits] from the native call (reused: a call reads it back at once). */
const sceOut = new Float32Array(3);

const kernels: KernelTable = {
  gemm: ({ a, b }, { transA, transB, alpha, beta }, { c }) => {
    const [M, N] = c.shape;
    const K = transA ? a.shape[0] : a.shape[1];
    native().sgemm(transA, transB, M, N, K, alpha, a.data, a.shape[1], b.data, b.shape[1], beta, c.data, N);
  },
  conv2d: ({ x, w, b }, g, { y }) => native().conv2dForward(convGeom(g), x.data, w.data, b ? b.data : null, y.data),
  conv2dBackwardInput: ({ dy, w }, g, { dx }) => native().conv2dBackwardInput(convGeom(g), dy.data, w.data, dx.data),
  conv2dBackwardWeight: ({ x, dy }, g, { dw }) => native().conv2dBackwardWeight(convGeom(g), x.data, dy.data, dw.data),
  conv2dBackwardBias: ({ dy }, _a, { db }) => native().biasGrad(dy.shape[0], dy.shape[1], inner(dy.shape), dy.data, db.data),
  biasAdd: ({ x, b }, _a, { y }) => native().biasAdd(x.shape[0], x.shape[1], inner(x.shape), x.data, b.data, y.data),
  maxPool2d: ({ x }, g, { y }) => native().pool(0, poolGeom(g), false, x.data, y.data),
  maxPool2dBackward: ({ x, dy }, g, { dx }) => native().pool(1, poolGeom(g), false, x.data, dy.data, dx.data),
  avgPool2d: ({ x }, g, { y }) => native().pool(2, poolGeom(g), g.countIncludePad, x.data, y.data),
  avgPool2dBackward: ({ dy }, g, { dx }) => native().pool(3, poolGeom(g), g.countIncludePad, dy.data, dx.data),
  adaptiveAvgPool2d: ({ x }, g, { y }) => native().pool(4, poolGeom(g), false, x.data, y.data),
  adaptiveAvgPool2dBackward: ({ dy }, g, { dx }) => native().pool(5, poolGeom(g), false, dy.data, dx.data),
  lrn: ({ x }, a, { y, scale }) => {
    const [n, c, h, w] = x.shape;
    native().lrnForward(n, c, h * w, a.size, lrnCoef(a), a.beta, a.k, x.data, y.data, scale.data);
  },
  lrnBackward: ({ x, y, scale, dy }, a, { dx }) => {
    const [n, c, h, w] = x.shape;
    native().lrnBackward(n, c, h * w, a.size, lrnCoef(a), a.beta, a.k, x.data, y.data, scale.data, dy.data, dx.data);
  },
  activation: ({ x }, { fn }, { y }) => native().activation(ACT[fn], x.size, x.data, y.data),
  activationBackward: ({ x, y, dy }, { fn }, { dx }) => native().activationBackward(ACT[fn], x.size, x.data, y.data, dy.data, dx.data),
  dropout: ({ x }, a, { y, mask }) =>
    native().dropout(x.size, a.seed, a.stream, a.offset, a.keepThreshold, a.scale, x.data, y.data, mask.data),
  mul: ({ a, b }, _x, { y }) => native().binary(1, a.size, a.data, b.data, y.data),
  softmax: ({ x }, _a, { y }) => native().softmax(x.shape[0], x.shape[1], x.data, y.data),
  softmaxCrossEntropy: ({ logits, labels }, { topk }, { loss, dlogits, hits }) => {
    const out = sceOut;
    native().softmaxCrossEntropy(logits.shape[0], logits.shape[1], topk, logits.data, labels, dlogits.data, out);
    loss.data[0] = out[0];
    hits.data[0] = out[1];
    hits.data[1] = out[2];
  },
  sgdUpdate: ({ g }, a, { w, v }) =>
    native().sgdUpdate(w.size, a.lr, a.momentum, a.weightDecay, a.dampening, a.nesterov, a.rule === 'paper', a.firstStep, w.data, v.data, g.data),
  add: ({ a, b }, _x, { y }) => native().binary(0, a.size, a.data, b.data, y.data),
  scale: ({ x }, { alpha }, { y }) => native().scale(x.size, alpha, x.data, y.data),
  axpy: ({ x }, { alpha }, { y }) => native().axpy(x.size, alpha, x.data, y.data),
  sumAndSquares: ({ x }, _a, { y }) => native().sumAndSquares(x.size, x.data, y.data),
  // light, memory-bound loops: the reference bodies (the same arithmetic the layers and Adam ran before they
  // were kernels), so cpu results and speed stay as they were
  softmaxBackward: refSoftmaxBackward,
  adamUpdate: refAdamUpdate,
};

export const cpuBackend: Backend = {
  name: 'cpu',
  description: 'native C++ kernels (@convnet/native)',
  fallback: 'ref',
  kernels,
};
