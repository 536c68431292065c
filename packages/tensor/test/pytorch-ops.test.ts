// Ground truth from PyTorch 1.13 (test/pytorch/make_fixtures.py → test/fixtures/ops.json and ops-extra.json):
// `ref` and `cpu` agree with it to 1e-4 relative (+ 1e-5 absolute).
import { describe, expect, it } from 'vitest';
import { loadOpCases, readJson, type FixtureTensor, type OpCase } from '../../../test/fixtures/load.mjs';
import {
  Tensor, activation, activationBackward, adaptiveAvgPool2d, adaptiveAvgPool2dBackward, avgPool2d, avgPool2dBackward,
  biasAdd, conv2d, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, lrn, lrnBackward, matmul, maxPool2d,
  maxPool2dBackward, softmax, softmaxCrossEntropy, type ActivationFn,
} from '../src/index.js';

type Fx = FixtureTensor;
const fixtures: { torch: string; cases: OpCase[] } = { torch: readJson('ops.json').torch, cases: loadOpCases('ops.json', 'ops-extra.json') };
const T = (f: Fx) => Tensor.from(f.data, f.shape);

function close(got: Tensor, want: Fx | number, what: string): void {
  const w = typeof want === 'number' ? { shape: [1], data: [want] } : want;
  expect(got.shape, what).toEqual(w.shape);
  let worst = 0, at = -1;
  for (let i = 0; i < w.data.length; i++) {
    const e = Math.abs(got.data[i] - w.data[i]) - 1e-4 * Math.abs(w.data[i]);
    if (e > worst) { worst = e; at = i; }
  }
  expect(worst, `${what}: excess error ${worst} at ${at} (want ${w.data[at]}, got ${got.data[at]})`).toBeLessThanOrEqual(1e-5);
}

describe(`PyTorch ${fixtures.torch} fixtures`, () => {
  for (const backend of ['ref', 'cpu']) {
    for (const c of fixtures.cases) {
      it(`${backend}: ${c.op} ${c.name}`, () => {
        const a = c.attrs as any;
        const o = { backend };
        switch (c.op) {
          case 'conv2d': {
            const x = T(c.inputs.x), w = T(c.inputs.w), b = T(c.inputs.b), dy = T(c.upstream!);
            close(conv2d(x, w, b, { ...a, ...o }), c.outputs.y as Fx, 'y');
            close(conv2dBackwardInput(dy, w, x.shape, { ...a, ...o }), c.outputs.dx as Fx, 'dx');
            close(conv2dBackwardWeight(x, dy, w.shape, { ...a, ...o }), c.outputs.dw as Fx, 'dw');
            close(conv2dBackwardBias(dy, o), c.outputs.db as Fx, 'db');
            break;
          }
          case 'lrn': {
            const x = T(c.inputs.x);
            const r = lrn(x, { ...a, ...o });
            close(r.y, c.outputs.y as Fx, 'y');
            close(lrnBackward(x, r.y, r.scale, T(c.upstream!), { ...a, ...o }), c.outputs.dx as Fx, 'dx');
            break;
          }
          case 'maxPool2d': {
            const x = T(c.inputs.x);
            close(maxPool2d(x, { ...a, ...o }), c.outputs.y as Fx, 'y');
            close(maxPool2dBackward(x, T(c.upstream!), { ...a, ...o }), c.outputs.dx as Fx, 'dx');
            break;
          }
          case 'avgPool2d': {
            const x = T(c.inputs.x);
            close(avgPool2d(x, { ...a, ...o }), c.outputs.y as Fx, 'y');
            close(avgPool2dBackward(T(c.upstream!), x.shape, { ...a, ...o }), c.outputs.dx as Fx, 'dx');
            break;
          }
          case 'adaptiveAvgPool2d': {
            const x = T(c.inputs.x);
            close(adaptiveAvgPool2d(x, a.outputSize, o), c.outputs.y as Fx, 'y');
            close(adaptiveAvgPool2dBackward(T(c.upstream!), x.shape, o), c.outputs.dx as Fx, 'dx');
            break;
          }
          case 'activation': {
            const x = T(c.inputs.x), fn = a.fn as ActivationFn;
            const y = activation(x, fn, o);
            close(y, c.outputs.y as Fx, 'y');
            close(activationBackward(x, y, T(c.upstream!), fn, o), c.outputs.dx as Fx, 'dx');
            break;
          }
          case 'softmaxCrossEntropy': {
            const x = T(c.inputs.logits);
            const r = softmaxCrossEntropy(x, c.labels!, o);
            const loss = c.outputs.loss as number;
            expect(Math.abs(r.loss - loss), `loss ${r.loss} vs ${loss}`).toBeLessThan(1e-5);
            if (c.outputs.top1Hits !== undefined) {
              expect(r.top1Hits, 'top-1 hits').toBe(c.outputs.top1Hits);
              expect(r.topkHits, 'top-5 hits').toBe(c.outputs.top5Hits);
            }
            close(r.dlogits, c.outputs.dlogits as Fx, 'dlogits');
            close(softmax(x, o), c.outputs.softmax as Fx, 'softmax');
            break;
          }
          case 'linear': {
            const x = T(c.inputs.x), w = T(c.inputs.w), b = T(c.inputs.b), dy = T(c.upstream!);
            close(biasAdd(matmul(x, w, { transB: true, ...o }), b, o), c.outputs.y as Fx, 'y');
            close(matmul(dy, w, o), c.outputs.dx as Fx, 'dx');
            close(matmul(dy, x, { transA: true, ...o }), c.outputs.dw as Fx, 'dw');
            close(conv2dBackwardBias(dy, o), c.outputs.db as Fx, 'db');
            break;
          }
          default:
            throw new Error(`fixture op ${c.op} has no check`);
        }
      });
    }
  }
});
