// The Module contract: backend propagation, shape inference, train/eval, in-place safety, input-gradient skipping.
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import {
  AdaptiveAvgPool2d, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d, NO_GRAD, Parallel, ReLU, Sequential, Sigmoid,
  Softmax, Tanh, init,
} from '../src/index.js';

describe('backend', () => {
  it('assigning it on a container sets it on every descendant; new children inherit it', () => {
    const tower = new Sequential([new Conv2d(2, 2, 1), new ReLU()]);
    const net = new Sequential({ towers: new Parallel([tower, new Conv2d(2, 2, 1)]), head: new Flatten() });
    net.backend = 'ref';
    const all = [net, ...net.namedChildren().map(([, c]) => c), tower, ...tower.layers];
    expect(all.every((m) => m.backend === 'ref')).toBe(true);
    net.setBackend(undefined);
    expect(tower.layers[0].backend).toBeUndefined();
    const child = new Linear(2, 2);
    const parent = new (class extends Sequential {
      constructor() {
        super([]);
        this.backend = 'ref';
        this.registerModule('late', child);
      }
    })();
    expect(parent.backend).toBe('ref');
    expect(child.backend).toBe('ref');
  });
});

describe('shape inference', () => {
  it('outputShape matches what forward produces, for a two-tower net', () => {
    const r = new Rng(2);
    const net = new Sequential([
      new Conv2d(3, 8, 5, { stride: 2, padding: 2, rng: r }), new ReLU({ inplace: true }), new LocalResponseNorm(5),
      new MaxPool2d(3, { stride: 2 }),
      new Parallel([new Conv2d(4, 6, 3, { padding: 1, rng: r }), new Conv2d(4, 6, 3, { padding: 1, rng: r })], { input: 'split' }),
      new AdaptiveAvgPool2d(2), new Flatten(), new Linear(48, 5, { rng: r }), new Softmax(),
    ]);
    expect(net.outputShape([2, 3, 23, 23])).toEqual([2, 5]);
    expect(net.forward(new Tensor(r.normal(2 * 3 * 23 * 23), [2, 3, 23, 23])).shape).toEqual([2, 5]);
    expect(() => net.outputShape([2, 3, 3, 3])).toThrow(/MaxPool2d|Conv2d|pool/);
  });
});

describe('in-place ReLU safety', () => {
  it('is refused right after a layer whose backward reads its own output', () => {
    expect(() => new Sequential([new LocalResponseNorm(3), new ReLU({ inplace: true })])).toThrow(
      "Sequential: argument 'layer '1'': expected no in-place ReLU after LocalResponseNorm '0'",
    );
    expect(() => new Sequential([new Tanh(), new Flatten(), new ReLU({ inplace: true })])).toThrow(/after Tanh '0'/);
    expect(() => new Sequential([new Sigmoid(), new Dropout(0.5), new ReLU({ inplace: true })])).toThrow(/after Sigmoid '0'/);
    expect(() => new Sequential({ a: new Sequential([new Linear(2, 2), new Softmax()]), b: new Sequential([new ReLU({ inplace: true })]) })).toThrow(/layer 'b.0'.*after Softmax 'a.1'/);
    expect(() => new Parallel([new ReLU({ inplace: true }), new Conv2d(2, 2, 1)])).toThrow(/tower with input 'shared'/);
  });

  it('is accepted after conv, linear, pooling and dropout', () => {
    expect(() => new Sequential([new Conv2d(1, 1, 1), new ReLU({ inplace: true }), new MaxPool2d(2), new ReLU({ inplace: true }), new Flatten(), new Linear(1, 1), new Dropout(0.5), new ReLU({ inplace: true })])).not.toThrow();
    expect(() => new Parallel([new ReLU({ inplace: true }), new ReLU({ inplace: true })], { input: 'split' })).not.toThrow();
  });
});

describe('input gradients', () => {
  it('inputGrad = false skips dx through Sequential and Parallel but still writes parameter gradients', () => {
    const make = () => new Sequential([new Parallel([new Conv2d(2, 2, 3, { padding: 1, rng: new Rng(1) }), new Conv2d(2, 2, 3, { padding: 1, rng: new Rng(2) })], { input: 'split' }), new Flatten()]);
    const a = make(), b = make();
    a.inputGrad = false;
    expect(a.inputGrad).toBe(false);
    const x = new Tensor(new Rng(3).normal(1 * 4 * 3 * 3), [1, 4, 3, 3]);
    const dy = new Tensor(new Rng(4).normal(36), [1, 36]);
    a.forward(x);
    b.forward(x);
    expect(a.backward(dy)).toBe(NO_GRAD);
    expect(b.backward(dy).shape).toEqual([1, 4, 3, 3]);
    const pb = b.parameters();
    a.parameters().forEach((p, i) => expect(p.grad.toArray()).toEqual(pb[i].grad.toArray()));
  });
});

describe('backward hooks', () => {
  it('onBackward runs after each child of Sequential and Parallel, last layer first, with that layer\'s gradients final', () => {
    const conv = (seed: number) => new Conv2d(2, 2, 3, { padding: 1, rng: new Rng(seed) });
    const towers = new Parallel([conv(1), conv(2)], { input: 'split' });
    const fc = new Linear(36, 3, { rng: new Rng(5) });
    const net = new Sequential([towers, new ReLU(), new Flatten(), fc]);
    const seen: string[] = [];
    const gradAtHook = new Map<string, number[]>();
    const names = new Map<unknown, string>([[towers.branches[0], 't0'], [towers.branches[1], 't1'], [towers, 'towers'], [fc, 'fc']]);
    const removers = [...names.keys()].map((m) =>
      (m as Sequential).onBackward((mod) => {
        seen.push(names.get(mod)!);
        for (const p of mod.parameters()) gradAtHook.set(`${names.get(mod)}.${p.name}`, p.grad.toArray());
      }),
    );
    const x = new Tensor(new Rng(3).normal(2 * 4 * 3 * 3), [2, 4, 3, 3]);
    const dy = new Tensor(new Rng(4).normal(6), [2, 3]);
    net.forward(x);
    net.backward(dy);
    expect(seen).toEqual(['fc', 't0', 't1', 'towers']);
    // the gradient a hook saw is the step's final gradient
    expect(gradAtHook.get('fc.weight')).toEqual(fc.weight.grad.toArray());
    expect(gradAtHook.get('t0.weight')).toEqual((towers.branches[0] as Conv2d).weight.grad.toArray());
    // a top-level module's own hooks do not run (nothing contains it); removed hooks stop running
    removers.forEach((r) => r());
    seen.length = 0;
    net.forward(x);
    net.backward(dy);
    expect(seen).toEqual([]);
  });
});

describe('initialisers', () => {
  it("PyTorch's defaults are U(±1/√fan_in) for weight and bias; the same seed gives the same weights", () => {
    const c = new Conv2d(6, 8, 3, { groups: 2, rng: new Rng(5) });
    const bound = 1 / Math.sqrt(3 * 3 * 3);
    for (const p of c.parameters()) {
      expect(Math.max(...p.value.data.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...p.value.data.map(Math.abs))).toBeGreaterThan(0.8 * bound);
    }
    expect(new Conv2d(6, 8, 3, { groups: 2, rng: new Rng(5) }).weight.value.toArray()).toEqual(c.weight.value.toArray());
    const t = Tensor.zeros([20000]);
    init.gaussian(t, 0.01, new Rng(1));
    let s = 0, s2 = 0;
    for (const v of t.data) { s += v; s2 += v * v; }
    expect(Math.abs(s / t.size)).toBeLessThan(3e-4);
    expect(Math.sqrt(s2 / t.size)).toBeCloseTo(0.01, 3);
    init.uniform(t, 2, 3, new Rng(1));
    expect(Math.min(...t.data)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...t.data)).toBeLessThanOrEqual(3);
    expect(init.constant(t, 0.5).data.every((v) => v === 0.5)).toBe(true);
  });
});

describe('train / eval', () => {
  it('propagates to every descendant; dropout is the identity in eval', () => {
    const d = new Dropout(0.5);
    const net = new Sequential([new Linear(3, 3), new Sequential([d])]);
    net.eval();
    expect(d.training).toBe(false);
    const x = Tensor.full([2, 3], 1);
    expect(d.forward(x)).toBe(x);
    net.train();
    expect(d.training).toBe(true);
  });
});
