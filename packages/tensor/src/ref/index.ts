/**
 * The `ref` backend: plain TypeScript loops with float64 accumulation, one file per kernel family.
 * It is the oracle every other backend is tested against; clarity beats speed here. Each file exposes
 * its math as `*Core` functions over Float32Array | Float64Array so gradient checks run it in float64.
 */
import type { Backend } from '../registry.js';
import { activation, activationBackward } from './activation.js';
import { biasAdd, conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight } from './conv2d.js';
import { dropout } from './dropout.js';
import { add, axpy, mul, scale, sumAndSquares } from './elementwise.js';
import { gemm } from './gemm.js';
import { adamUpdate } from './adam.js';
import { softmax, softmaxBackward, softmaxCrossEntropy } from './loss.js';
import { lrn, lrnBackward } from './lrn.js';
import { adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward } from './pool.js';
import { sgdUpdate } from './sgd.js';

export const refBackend: Backend = {
  name: 'ref',
  description: 'reference kernels in plain TypeScript (float64 accumulation)',
  kernels: {
    gemm, conv2d, conv2dBackwardInput, conv2dBackwardWeight, conv2dBackwardBias, biasAdd,
    maxPool2d, maxPool2dBackward, avgPool2d, avgPool2dBackward, adaptiveAvgPool2d, adaptiveAvgPool2dBackward,
    lrn, lrnBackward, activation, activationBackward, dropout, mul, softmax, softmaxCrossEntropy, sgdUpdate,
    add, scale, axpy, sumAndSquares, softmaxBackward, adamUpdate,
  },
};
