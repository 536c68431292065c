// Ground truth from PyTorch 1.13 (test/fixtures/ops.json + ops-extra.json, written by test/pytorch/make_fixtures.py):
// each case run through the LAYER (weights loaded, forward, backward with the stored upstream gradient) on the
// ref and cpu backends, to 1e-4 relative + 1e-5 absolute.
import { describe, expect, it } from 'vitest';
import { loadOpCases, type FixtureTensor, type OpCase } from '../../../test/fixtures/load.mjs';
import { Tensor } from '@convnet/tensor';
import {
  Abs, AdaptiveAvgPool2d, AvgPool2d, Conv2d, CrossEntropyLoss, Linear, LocalResponseNorm, MaxPool2d, Module, ReLU, Sigmoid,
  Softmax, Softplus, Tanh,
} from '../src/index.js';

const cases: OpCase[] = loadOpCases('ops.json', 'ops-extra.json');
const T = (f: FixtureTensor) => Tensor.from(f.data, f.shape);

function close(got: Tensor, want: FixtureTensor, what: string): void {
  expect(got.shape, what).toEqual(want.shape);
  let worst = 0, at = -1;
  for (let i = 0; i < want.data.length; i++) {
    const e = Math.abs(got.data[i] - want.data[i]) - 1e-4 * Math.abs(want.data[i]);
    if (!(e <= worst)) { worst = e; at = i; }
  }
  expect(worst, `${what}: excess error ${worst} at ${at} (want ${want.data[at]}, got ${got.data[at]})`).toBeLessThanOrEqual(1e-5);
}

const NEURONS: Record<string, () => Module> = {
  relu: () => new ReLU(), logistic: () => new Sigmoid(), tanh: () => new Tanh(), abs: () => new Abs(), softplus: () => new Softplus(),
};

/** The layer for an op case, with the case's weights loaded through loadStateDict. */
function layerFor(c: OpCase): Module {
  const a = c.attrs as Record<string, any>;
  switch (c.op) {
    case 'conv2d': {
      const [o, cg, kh, kw] = c.inputs.w.shape;
      const m = new Conv2d(cg * (a.groups ?? 1), o, [kh, kw], { stride: a.stride, padding: a.padding, groups: a.groups });
      m.loadStateDict(new Map([['weight', T(c.inputs.w)], ['bias', T(c.inputs.b)]]));
      return m;
    }
    case 'linear': {
      const [o, i] = c.inputs.w.shape;
      const m = new Linear(i, o);
      m.loadStateDict(new Map([['weight', T(c.inputs.w)], ['bias', T(c.inputs.b)]]));
      return m;
    }
    case 'lrn': return new LocalResponseNorm(a.size, { alpha: a.alpha, beta: a.beta, k: a.k, alphaMode: a.alphaMode });
    case 'maxPool2d': return new MaxPool2d(a.kernel, { stride: a.stride, padding: a.padding, sizeRule: a.sizeRule });
    case 'avgPool2d': return new AvgPool2d(a.kernel, { stride: a.stride, padding: a.padding, sizeRule: a.sizeRule, countIncludePad: a.countIncludePad });
    case 'adaptiveAvgPool2d': return new AdaptiveAvgPool2d(a.outputSize);
    case 'activation': return NEURONS[a.fn]();
    default: throw new Error(`no layer for op ${c.op}`);
  }
}

describe('layers agree with PyTorch (forward and backward)', () => {
  it('covers every op case in the fixtures', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  for (const backend of ['ref', 'cpu']) {
    for (const c of cases) {
      it(`${backend}: ${c.op} ${c.name}`, () => {
        if (c.op === 'softmaxCrossEntropy') {
          const logits = T(c.inputs.logits);
          const ce = new CrossEntropyLoss();
          ce.backend = backend;
          const r = ce.forward(logits, c.labels!);
          expect(Math.abs(r.loss - (c.outputs.loss as number))).toBeLessThan(1e-5 + 1e-5 * Math.abs(c.outputs.loss as number));
          if (c.outputs.top1Hits !== undefined) expect([r.top1Hits, r.top5Hits]).toEqual([c.outputs.top1Hits, c.outputs.top5Hits]);
          close(ce.backward(), c.outputs.dlogits as FixtureTensor, 'dlogits');
          const sm = new Softmax().setBackend(backend);
          close(sm.forward(logits), c.outputs.softmax as FixtureTensor, 'softmax');
          return;
        }
        const m = layerFor(c).setBackend(backend);
        const x = T(c.inputs.x);
        expect(m.outputShape(x.shape)).toEqual((c.outputs.y as FixtureTensor).shape);
        close(m.forward(x), c.outputs.y as FixtureTensor, 'y');
        close(m.backward(T(c.upstream!)), c.outputs.dx as FixtureTensor, 'dx');
        const p = new Map(m.namedParameters());
        if (c.outputs.dw) close(p.get('weight')!.grad, c.outputs.dw as FixtureTensor, 'dw');
        if (c.outputs.db) close(p.get('bias')!.grad, c.outputs.db as FixtureTensor, 'db');
      });
    }
  }
});
