// One whole forward and backward of the paper AlexNet and torchvision's AlexNet against PyTorch 1.13
// (test/pytorch/make_alexnet_fixture.py): logits, loss and every parameter gradient. Weights and inputs
// come from a closed formula both sides evaluate identically, so no weight file is needed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { createModel } from '../src/index.js';
import { fillFixtureHash as fill } from '../../../test/helpers/fixture-hash.js';

interface Grad { shape: number[]; sum: number; sumSquares: number; samples: [number, number][] }
interface Case { name: 'paper' | 'torchvision'; size: 224 | 227; labels: number[]; paramOrder: string[]; logits: number[]; loss: number; grads: Record<string, Grad> }
const fx: { torch: string; cases: Case[] } = JSON.parse(readFileSync(new URL('../../../test/fixtures/alexnet.json', import.meta.url), 'utf8'));

describe(`whole AlexNet vs PyTorch ${fx.torch}`, () => {
  for (const c of fx.cases) {
    it(`${c.name}: logits, loss and every gradient (cpu backend)`, () => {
      const net = createModel(c.name, { inputSize: c.name === 'paper' ? c.size as 227 : undefined, lrnAlphaMode: 'paper' });
      const params = net.namedParameters();
      expect(params.map(([n]) => n)).toEqual(c.paramOrder);
      params.forEach(([n, p], k) => fill(p.value, k, n.endsWith('weight') ? 0.02 : 0.1));
      const x = Tensor.zeros([c.labels.length, 3, c.size, c.size]);
      fill(x, 1000, 1);
      net.eval();
      const ce = new CrossEntropyLoss();
      const logits = net.forward(x);
      const maxLogit = Math.max(...c.logits.map(Math.abs));
      c.logits.forEach((v, i) => expect(Math.abs(logits.data[i] - v), `logit ${i}`).toBeLessThan(1e-4 * Math.abs(v) + 1e-4 * maxLogit));
      const { loss } = ce.forward(logits, c.labels);
      expect(Math.abs(loss - c.loss)).toBeLessThan(1e-4 * Math.abs(c.loss));
      net.backward(ce.backward());
      for (const [n, p] of [...params].reverse()) {
        const want = c.grads[n];
        const g = p.grad.data;
        let sum = 0, sq = 0;
        for (let i = 0; i < g.length; i++) { sum += g[i]; sq += g[i] * g[i]; }
        const rms = Math.sqrt(want.sumSquares / g.length);
        expect(Math.abs(sq - want.sumSquares), `${n} Σg²`).toBeLessThan(1e-4 * want.sumSquares + 1e-20);
        expect(Math.abs(sum - want.sum), `${n} Σg`).toBeLessThan(1e-4 * Math.sqrt(g.length * want.sumSquares) + 1e-12);
        for (const [i, v] of want.samples) expect(Math.abs(g[i] - v), `${n}[${i}]`).toBeLessThan(1e-4 * Math.abs(v) + 1e-3 * rms);
      }
    });
  }
});
