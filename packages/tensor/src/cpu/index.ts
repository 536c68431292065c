/**
 * The `cpu` backend (the default): thin wrappers that hand checked shapes and preallocated outputs to
 * the @convnet/native addon (tensors' own Float32Arrays, no copies). Every kernel is implemented here;
 * `fallback: 'ref'` only serves kernels a future spec adds before the native side has them.
 */
import type { Backend, KernelTable } from '../registry.js';
import { native } from './native.js';

// The native ABI (native/include/convnet/abi.h): native.<kernel>(attrs, ...inputs, ...outputs), the attributes
// (and the sizes the kernel needs) by name, buffers in the spec's order.
const inner = (shape: readonly number[]) => shape.slice(2).reduce((a, d) => a * d, 1);

const kernels: KernelTable = {
  gemm: ({ a, b }, attrs, { c }) => {
    const [M, N] = c.shape;
    native().gemm({ ...attrs, M, N, K: attrs.transA ? a.shape[0] : a.shape[1] }, a.data, b.data, c.data);
  },
  conv2d: ({ x, w, b }, g, { y }) => native().conv2d(g, x.data, w.data, b ? b.data : null, y.data),
  conv2dBackwardInput: ({ dy, w }, g, { dx }) => native().conv2dBackwardInput(g, dy.data, w.data, dx.data),
  conv2dBackwardWeight: ({ x, dy }, g, { dw }) => native().conv2dBackwardWeight(g, x.data, dy.data, dw.data),
  conv2dBackwardBias: ({ dy }, _a, { db }) =>
    native().conv2dBackwardBias({ n: dy.shape[0], c: dy.shape[1], inner: inner(dy.shape) }, dy.data, db.data),
  biasAdd: ({ x, b }, _a, { y }) => native().biasAdd({ n: x.shape[0], c: x.shape[1], inner: inner(x.shape) }, x.data, b.data, y.data),
  maxPool2d: ({ x }, g, { y }) => native().maxPool2d(g, x.data, y.data),
  maxPool2dBackward: ({ x, dy }, g, { dx }) => native().maxPool2dBackward(g, x.data, dy.data, dx.data),
  avgPool2d: ({ x }, g, { y }) => native().avgPool2d(g, x.data, y.data),
  avgPool2dBackward: ({ dy }, g, { dx }) => native().avgPool2dBackward(g, dy.data, dx.data),
  adaptiveAvgPool2d: ({ x }, g, { y }) => native().adaptiveAvgPool2d(g, x.data, y.data),
  adaptiveAvgPool2dBackward: ({ dy }, g, { dx }) => native().adaptiveAvgPool2dBackward(g, dy.data, dx.data),
  lrn: ({ x }, a, { y, scale }) => {
    const [n, c, h, w] = x.shape;
    native().lrn({ ...a, n, c, plane: h * w }, x.data, y.data, scale.data);
  },
  lrnBackward: ({ x, y, scale, dy }, a, { dx }) => {
    const [n, c, h, w] = x.shape;
    native().lrnBackward({ ...a, n, c, plane: h * w }, x.data, y.data, scale.data, dy.data, dx.data);
  },
  activation: ({ x }, { fn }, { y }) => native().activation({ fn, len: x.size }, x.data, y.data),
  activationBackward: ({ x, y, dy }, { fn }, { dx }) => native().activationBackward({ fn, len: x.size }, x.data, y.data, dy.data, dx.data),
  dropout: ({ x }, a, { y, mask }) => native().dropout({ ...a, len: x.size }, x.data, y.data, mask.data),
  mul: ({ a, b }, _x, { y }) => native().mul({ len: a.size }, a.data, b.data, y.data),
  softmax: ({ x }, _a, { y }) => native().softmax({ n: x.shape[0], classes: x.shape[1] }, x.data, y.data),
  softmaxCrossEntropy: ({ logits, labels }, { topk }, { loss, dlogits, hits }) =>
    native().softmaxCrossEntropy({ n: logits.shape[0], classes: logits.shape[1], topk }, logits.data, labels, loss.data, dlogits.data, hits.data),
  sgdUpdate: ({ g }, a, { w, v }) => native().sgdUpdate({ ...a, len: w.size }, g.data, w.data, v.data),
  add: ({ a, b }, _x, { y }) => native().add({ len: a.size }, a.data, b.data, y.data),
  scale: ({ x }, { alpha }, { y }) => native().scale({ len: x.size, alpha }, x.data, y.data),
  axpy: ({ x }, { alpha }, { y }) => native().axpy({ len: x.size, alpha }, x.data, y.data),
  sumAndSquares: ({ x }, _a, { y }) => native().sumAndSquares({ len: x.size }, x.data, y.data),
  // the reference's arithmetic in C++ (convnet/kernels/optim.h), with the bias corrections computed here as ref does
  softmaxBackward: ({ y, dy }, _a, { dx }) => native().softmaxBackward({ n: y.shape[0], classes: y.shape[1] }, y.data, dy.data, dx.data),
  adamUpdate: ({ g }, a, { w, m, v }) =>
    native().adamUpdate({ ...a, len: w.size, stepSize: a.lr / (1 - a.beta1 ** a.step), sqrtBc2: Math.sqrt(1 - a.beta2 ** a.step) }, g.data, w.data, m.data, v.data),
};
export const cpuBackend: Backend = {
  name: 'cpu',
  description: 'native C++ kernels (@convnet/native)',
  fallback: 'ref',
  kernels,
};
