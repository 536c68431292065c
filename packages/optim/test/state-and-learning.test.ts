// Optimiser state through a safetensors file (+ JSON) restores a run exactly; state errors are clear; a small
// net trained by these optimisers on the cpu backend learns a non-linear problem.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import { CrossEntropyLoss, Linear, Parameter, ReLU, Sequential, Tanh, loadStateDictFile, saveSafetensors } from '@convnet/layers';
import { loadFixture } from '../../../test/fixtures/load.mjs';
import {
  Adam, AdamW, CosineAnnealingLR, LinearLR, ReduceLROnPlateau, SGD, SequentialLR, biasesWithoutDecay, type Optimizer, type OptimizerState,
} from '../src/index.js';

const optim = loadFixture('optim.json').cases;

/** Saves optimiser state as a checkpoint would: buffers as tensors, the rest as JSON metadata. */
function roundTrip(s: OptimizerState): OptimizerState {
  const file = join(mkdtempSync(join(tmpdir(), 'convnet-optim-')), 'opt.safetensors');
  saveSafetensors(file, s.buffers, { state: JSON.stringify({ kind: s.kind, step: s.step, groups: s.groups }) });
  const { stateDict, metadata } = loadStateDictFile(file);
  return { ...JSON.parse(metadata.state), buffers: stateDict };
}

describe('optimiser state restores a run exactly', () => {
  const makers: Record<string, (p: Parameter) => Optimizer> = {
    adam: (p) => new Adam([p], { lr: 0.01 }),
    adamw: (p) => new AdamW([p], { lr: 0.01, weightDecay: 0.01 }),
    sgd_paper_rule: (p) => new SGD([p], { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, rule: 'paper' }),
    sgd_dampening: (p) => new SGD([p], { lr: 0.1, momentum: 0.5, dampening: 0.3 }),
  };
  for (const [name, make] of Object.entries(makers)) {
    it(`${name}: 5 steps, save to a file, load into a fresh optimiser, 5 more = 10 straight (= PyTorch)`, () => {
      const run = optim.runs.find((r: { name: string }) => r.name === name);
      const p = new Parameter('w', new Tensor(optim.w0.data.slice(), optim.w0.shape));
      const a = make(p);
      for (let s = 0; s < 5; s++) { p.grad.data.set(optim.grads[s].data); a.step(); }
      const q = new Parameter('w', p.value.clone());
      const b = make(q);
      b.loadStateDict(roundTrip(a.stateDict()));
      expect(b.stepCount).toBe(5);
      for (let s = 5; s < 10; s++) {
        p.grad.data.set(optim.grads[s].data); a.step();
        q.grad.data.set(optim.grads[s].data); b.step();
      }
      expect(Array.from(q.value.data)).toEqual(Array.from(p.value.data)); // bit for bit
      q.value.data.forEach((v, i) => expect(Math.abs(v - run.trajectory[9].data[i])).toBeLessThan(1e-6 + 1e-6 * Math.abs(run.trajectory[9].data[i])));
    });
  }

  it('a schedule chain and a plateau schedule restore through JSON (Infinity best included)', () => {
    const mk = () => {
      const o = new SGD([new Parameter('w', Tensor.zeros([1]))], { lr: 0.1 });
      return { o, s: new SequentialLR(o, [new LinearLR(o, 0.1, 1, 3), new CosineAnnealingLR(o, 10)], [3]) };
    };
    const a = mk();
    for (let e = 0; e < 5; e++) a.s.step();
    const b = mk();
    b.o.loadStateDict({ ...a.o.stateDict(), buffers: new Map() });
    b.s.loadStateDict(JSON.parse(JSON.stringify(a.s.stateDict())));
    for (let e = 0; e < 8; e++) {
      a.s.step();
      b.s.step();
      expect(b.o.paramGroups[0].lr).toBe(a.o.paramGroups[0].lr);
    }
    const o = new SGD([new Parameter('w', Tensor.zeros([1]))], { lr: 0.1 });
    const fresh = new ReduceLROnPlateau(o, { mode: 'max', patience: 0 });
    const restored = new ReduceLROnPlateau(o, { mode: 'max', patience: 0 });
    restored.loadStateDict(JSON.parse(JSON.stringify(fresh.stateDict()))); // best -Infinity -> null -> -Infinity
    expect(restored.best).toBe(-Infinity);
    restored.step(0.5);
    expect(restored.best).toBe(0.5);
    expect(o.paramGroups[0].lr).toBe(0.1);
  });
});

describe('state errors', () => {
  const p = () => new Parameter('w', Tensor.zeros([2, 3]));
  it('say what does not fit', () => {
    const sgd = new SGD([p()], { lr: 0.1, momentum: 0.9 });
    sgd.paramGroups[0].params[0].grad.data.fill(1);
    sgd.step();
    const adam = new Adam([p()], { lr: 0.1 });
    adam.step();
    expect(() => adam.loadStateDict(sgd.stateDict())).toThrow('Adam.loadStateDict: state is for SGD');
    expect(() => sgd.loadStateDict({ ...adam.stateDict(), kind: undefined })).toThrow("SGD.loadStateDict: buffer 'exp_avg.0' is not SGD state (its buffers: momentum)");
    expect(() => new SGD([p(), p()], { lr: 0.1 }).loadStateDict(sgd.stateDict())).not.toThrow();
    expect(() => new SGD([{ params: [p()] }, { params: [p()] }], { lr: 0.1 }).loadStateDict(sgd.stateDict())).toThrow('state has 1 parameter groups, optimiser has 2');
    expect(() => new SGD([new Parameter('v', Tensor.zeros([5]))], { lr: 0.1 }).loadStateDict(sgd.stateDict())).toThrow("buffer 'momentum.0' has 6 elements, parameter 'v' has 5");
    const s = sgd.stateDict();
    s.buffers.set('momentum.4', Tensor.zeros([6]));
    expect(() => sgd.loadStateDict(s)).toThrow("buffer 'momentum.4' names parameter 4, there are 1");
  });

  it('reject a parameter listed twice and bad hyper-parameters', () => {
    const w = p();
    expect(() => new SGD([{ params: [w] }, { params: [w], lr: 0.2 }], { lr: 0.1 })).toThrow("SGD: parameter 'w' appears in more than one place");
    expect(() => new SGD([w], { lr: -1 })).toThrow('SGD: group 0: lr must be a non-negative number, got -1');
    expect(() => new Adam([w], { lr: 0.1, betas: [0.9, 1] })).toThrow('Adam: group 0: betas must be in [0, 1)');
  });
});

describe('parameter groups', () => {
  it("biasesWithoutDecay gives cuda-convnet's biases 2× lr and no decay, weights the group's settings", () => {
    const net = new Sequential([new Linear(2, 2), new ReLU(), new Linear(2, 1)]);
    const params = biasesWithoutDecay(net.namedParameters());
    expect(params.map((q) => [q.lrMult, q.decayMult])).toEqual([[1, 1], [2, 0], [1, 1], [2, 0]]);
    const opt = new SGD(params, { lr: 0.1, weightDecay: 0.5 });
    for (const q of params) { q.value.data.fill(1); q.grad.data.fill(1); }
    opt.step();
    expect(params.map((q) => q.value.data[0])).toEqual([1 - 0.1 * 1.5, 1 - 0.2, 1 - 0.1 * 1.5, 1 - 0.2].map(Math.fround));
  });
});

/** Two interleaved spirals, 3 turns, with noise: not linearly separable. */
function spiral(n: number, seed: number): { x: Tensor; labels: Int32Array } {
  const x = Tensor.zeros([n, 2]), labels = new Int32Array(n), r = new Rng(seed);
  const noise = r.normal(n, 0, 0.08);
  for (let i = 0; i < n; i++) {
    const c = i % 2, t = (i / n) * 3 * Math.PI + noise[i], rad = 0.2 + (i / n) * 2;
    x.data[2 * i] = rad * Math.cos(t + c * Math.PI);
    x.data[2 * i + 1] = rad * Math.sin(t + c * Math.PI);
    labels[i] = c;
  }
  return { x, labels };
}

describe('learning on the cpu backend', () => {
  const cases: [string, (net: Sequential) => Optimizer, number][] = [
    ['SGD momentum (PyTorch rule)', (net) => new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 }), 800],
    ['SGD (paper rule, biases 2× lr)', (net) => new SGD(biasesWithoutDecay(net.namedParameters()), { lr: 0.05, momentum: 0.9, weightDecay: 1e-5, rule: 'paper' }), 800],
    ['Adam', (net) => new Adam(net.parameters(), { lr: 0.01 }), 600],
  ];
  for (const [name, makeOpt, steps] of cases) {
    it(`a small MLP learns the two-spiral problem to >= 98% with ${name}`, () => {
      const { x, labels } = spiral(400, 8);
      const r = new Rng(3);
      const net = new Sequential([new Linear(2, 64, { rng: r }), new Tanh(), new Linear(64, 64, { rng: r }), new ReLU({ inplace: true }), new Linear(64, 2, { rng: r })]).setBackend('cpu');
      const opt = makeOpt(net);
      const ce = new CrossEntropyLoss();
      let acc = 0;
      for (let step = 0; step < steps; step++) {
        const out = ce.forward(net.forward(x), labels);
        acc = out.top1Hits / labels.length;
        net.backward(ce.backward());
        opt.step();
      }
      net.eval();
      const held = spiral(400, 9);
      const test = ce.forward(net.forward(held.x), held.labels).top1Hits / 400;
      expect(acc).toBeGreaterThanOrEqual(0.98);
      expect(test).toBeGreaterThanOrEqual(0.9);
    });
  }
});
