// Every layer on its own: backward checked by central finite differences (ref backend, float64 sums), and
// forward + backward on the cpu backend against ref.
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import {
  Abs, AdaptiveAvgPool2d, AvgPool2d, Conv2d, CrossEntropyLoss, Dropout, Flatten, Linear, LocalResponseNorm, Logistic,
  MaxPool2d, Module, Parallel, ReLU, Sequential, Sigmoid, Softmax, Softplus, Tanh,
} from '../src/index.js';

interface Case {
  name: string;
  make: (seed: number) => Module;
  shape: number[];
  /** Input values: default N(0, 1); 'away-from-0' keeps |x| >= 0.1 (ReLU/abs kinks); 'distinct' spaces values 0.05 apart (max-pool ties). */
  input?: 'normal' | 'away-from-0' | 'distinct' | 'positive';
  /** Called before every forward (dropout: the same mask each time). */
  before?: (m: Module) => void;
}

const resetDropout = (m: Module) => {
  for (const d of [m, ...m.namedChildren().map(([, c]) => c)]) if (d instanceof Dropout) d.rng = new Rng(99, 3);
};

const CASES: Case[] = [
  { name: 'Conv2d 3x3 pad 1', make: (s) => new Conv2d(3, 4, 3, { padding: 1, rng: new Rng(s) }), shape: [2, 3, 5, 6] },
  { name: 'Conv2d 5x3 stride [2,1] groups 2 no bias', make: (s) => new Conv2d(4, 6, [5, 3], { stride: [2, 1], padding: [2, 0], groups: 2, bias: false, rng: new Rng(s) }), shape: [2, 4, 7, 5] },
  { name: 'Conv2d 3x3 stride 2 ceil rule', make: (s) => new Conv2d(2, 3, 3, { stride: 2, sizeRule: 'ceil', rng: new Rng(s) }), shape: [1, 2, 8, 8] },
  { name: 'Linear', make: (s) => new Linear(7, 5, { rng: new Rng(s) }), shape: [3, 7] },
  { name: 'Linear no bias', make: (s) => new Linear(4, 6, { bias: false, rng: new Rng(s) }), shape: [1, 4] },
  { name: 'ReLU', make: () => new ReLU(), shape: [2, 3, 4, 4], input: 'away-from-0' },
  { name: 'ReLU in place', make: () => new ReLU({ inplace: true }), shape: [2, 3, 4, 4], input: 'away-from-0' },
  { name: 'Sigmoid (Logistic)', make: () => new Logistic(), shape: [2, 3, 4, 4] },
  { name: 'Tanh', make: () => new Tanh(), shape: [2, 3, 4, 4] },
  { name: 'Abs', make: () => new Abs(), shape: [2, 3, 4, 4], input: 'away-from-0' },
  { name: 'Softplus', make: () => new Softplus(), shape: [2, 3, 4, 4] },
  { name: 'MaxPool2d 3/2 (overlapping)', make: () => new MaxPool2d(3, { stride: 2 }), shape: [2, 2, 7, 7], input: 'distinct' },
  { name: 'MaxPool2d 3/2 ceil pad 1', make: () => new MaxPool2d(3, { stride: 2, padding: 1, sizeRule: 'ceil' }), shape: [1, 2, 6, 8], input: 'distinct' },
  { name: 'AvgPool2d 3/2 pad 1 count pad', make: () => new AvgPool2d(3, { stride: 2, padding: 1 }), shape: [2, 2, 7, 6] },
  { name: 'AvgPool2d 2/2 ceil no count pad', make: () => new AvgPool2d(2, { padding: 1, sizeRule: 'ceil', countIncludePad: false }), shape: [1, 3, 5, 5] },
  { name: 'AdaptiveAvgPool2d 7x5 -> 3x2', make: () => new AdaptiveAvgPool2d([3, 2]), shape: [2, 2, 7, 5] },
  { name: 'AdaptiveAvgPool2d 3x4 -> 5x6 (larger)', make: () => new AdaptiveAvgPool2d([5, 6]), shape: [1, 2, 3, 4] },
  { name: 'LRN size 5 (PyTorch alpha)', make: () => new LocalResponseNorm(5, { alpha: 0.5, beta: 0.75, k: 2 }), shape: [2, 7, 3, 3] },
  { name: 'LRN size 4 paper alpha', make: () => new LocalResponseNorm(4, { alpha: 0.1, beta: 0.75, k: 1, alphaMode: 'paper' }), shape: [1, 6, 3, 2] },
  { name: 'Dropout inverted (fixed mask)', make: () => new Dropout(0.4, { rng: new Rng(99, 3) }), shape: [4, 25], before: resetDropout },
  { name: 'Dropout classic, train', make: () => new Dropout(0.3, { mode: 'classic', rng: new Rng(99, 3) }), shape: [4, 25], before: resetDropout },
  { name: 'Dropout classic, eval (×(1−p))', make: () => new Dropout(0.3, { mode: 'classic' }).eval(), shape: [4, 25] },
  { name: 'Flatten', make: () => new Flatten(), shape: [2, 3, 2, 2] },
  { name: 'Softmax', make: () => new Softmax(), shape: [3, 6] },
  {
    name: 'Parallel split towers',
    make: (s) => new Parallel([new Conv2d(2, 3, 3, { padding: 1, rng: new Rng(s) }), new Sequential([new Conv2d(2, 2, 1, { rng: new Rng(s + 1) }), new Tanh()])], { input: 'split' }),
    shape: [2, 4, 4, 4],
  },
  {
    name: 'Parallel shared input',
    make: (s) => new Parallel([new Conv2d(3, 2, 3, { padding: 1, rng: new Rng(s) }), new MaxPool2d(3, { stride: 1, padding: 1 })]),
    shape: [1, 3, 4, 5],
    input: 'distinct',
  },
  {
    name: 'Sequential conv-relu(in place)-pool-flatten-linear',
    make: (s) => new Sequential([new Conv2d(2, 3, 3, { rng: new Rng(s) }), new ReLU({ inplace: true }), new MaxPool2d(2), new Flatten(), new Linear(12, 4, { rng: new Rng(s + 1) })]),
    shape: [2, 2, 6, 6],
  },
];

function input(c: Case, seed: number): Tensor {
  const n = c.shape.reduce((a, b) => a * b, 1);
  const r = new Rng(seed, 1);
  const x = new Tensor(r.normal(n), c.shape);
  if (c.input === 'away-from-0') for (let i = 0; i < n; i++) x.data[i] = Math.sign(x.data[i] || 1) * (0.1 + Math.abs(x.data[i]));
  if (c.input === 'distinct') {
    const perm = r.permutation(n);
    for (let i = 0; i < n; i++) x.data[i] = (perm[i] - n / 2) * 0.05;
  }
  return x;
}

const upstream = (shape: number[], seed: number) => new Tensor(new Rng(seed, 2).normal(shape.reduce((a, b) => a * b, 1)), shape);

/** Σ y·r in float64 after a fresh forward of a copy of x (an in-place layer overwrites its input). */
function objective(m: Module, c: Case, x: Tensor, r: Tensor): number {
  c.before?.(m);
  const y = m.forward(x.clone());
  let s = 0;
  for (let i = 0; i < y.size; i++) s += y.data[i] * r.data[i];
  return s;
}

describe('finite differences: every layer, every element (ref backend)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const m = c.make(7);
      m.backend = 'ref';
      const x = input(c, 3);
      c.before?.(m);
      const y = m.forward(x.clone());
      const r = upstream(y.shape as number[], 4);
      const dx = m.backward(r.clone()).clone();
      const grads = m.namedParameters().map(([n, p]) => [n, p.value, p.grad.clone()] as const);
      const check = (t: Tensor, g: Tensor, what: string) => {
        expect(g.shape, what).toEqual(t.shape);
        let worst = 0, at = '';
        for (let i = 0; i < t.size; i++) {
          const keep = t.data[i], eps = 1e-3 * Math.max(1, Math.abs(keep));
          t.data[i] = keep + eps; const hi = t.data[i], up = objective(m, c, x, r);
          t.data[i] = keep - eps; const lo = t.data[i], down = objective(m, c, x, r);
          t.data[i] = keep;
          const num = (up - down) / (hi - lo); // the float32 step actually taken
          const err = Math.abs(num - g.data[i]) / (1e-2 + Math.abs(num));
          if (err > worst) { worst = err; at = `${what}[${i}]: numeric ${num}, analytic ${g.data[i]}`; }
        }
        expect(worst, at).toBeLessThan(2e-2);
      };
      check(x, dx, 'dx');
      for (const [n, v, g] of grads) check(v, g, n);
    });
  }

  it('CrossEntropyLoss: dlogits is the gradient of the mean loss', () => {
    const ce = new CrossEntropyLoss();
    ce.backend = 'ref';
    const logits = new Tensor(new Rng(5).normal(4 * 7, 0, 2), [4, 7]);
    const labels = [3, 0, 6, 3];
    ce.forward(logits, labels);
    const g = ce.backward().clone();
    for (let i = 0; i < logits.size; i++) {
      const keep = logits.data[i];
      logits.data[i] = keep + 1e-2; const hi = logits.data[i], up = ce.forward(logits, labels).loss;
      logits.data[i] = keep - 1e-2; const lo = logits.data[i], down = ce.forward(logits, labels).loss;
      logits.data[i] = keep;
      expect(Math.abs((up - down) / (hi - lo) - g.data[i])).toBeLessThan(2e-4);
    }
  });
});

function close(a: Tensor, b: Tensor, what: string, rtol = 1e-4, atol = 1e-5): void {
  expect(a.shape, what).toEqual(b.shape);
  let worst = 0, at = -1;
  for (let i = 0; i < a.size; i++) {
    const e = Math.abs(a.data[i] - b.data[i]) - rtol * Math.abs(b.data[i]);
    if (!(e <= worst)) { worst = e; at = i; }
  }
  expect(worst, `${what}[${at}]: ${a.data[at]} vs ${b.data[at]}`).toBeLessThan(atol);
}

describe('every layer on cpu agrees with ref', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const a = c.make(7), b = c.make(7);
      a.backend = 'cpu';
      b.backend = 'ref';
      const x = input(c, 3);
      c.before?.(a);
      c.before?.(b);
      const ya = a.forward(x.clone()).clone(), yb = b.forward(x.clone()).clone();
      close(ya, yb, 'y');
      const r = upstream(ya.shape as number[], 4);
      close(a.backward(r.clone()), b.backward(r.clone()), 'dx', 1e-4, 1e-5);
      const pb = new Map(b.namedParameters());
      for (const [n, p] of a.namedParameters()) close(p.grad, pb.get(n)!.grad, n, 1e-4, 1e-5);
    });
  }

  it('CrossEntropyLoss: loss, hits and dlogits', () => {
    const logits = new Tensor(new Rng(6).normal(9 * 12, 0, 3), [9, 12]);
    const labels = Int32Array.from([0, 11, 5, 5, 2, 7, 9, 1, 3]);
    const a = new CrossEntropyLoss(), b = new CrossEntropyLoss();
    b.backend = 'ref';
    const ra = a.forward(logits, labels), rb = b.forward(logits, labels);
    expect(ra.loss).toBeCloseTo(rb.loss, 5);
    expect([ra.top1Hits, ra.top5Hits]).toEqual([rb.top1Hits, rb.top5Hits]);
    close(a.backward(), b.backward(), 'dlogits');
  });
});

describe('buffers are allocated once per input shape', () => {
  it('a second step returns the same output and gradient buffers', () => {
    const net = new Sequential([new Conv2d(2, 3, 3, { padding: 1 }), new ReLU({ inplace: true }), new MaxPool2d(2), new Flatten(), new Linear(12, 4), new Sigmoid()]);
    const x2 = new Tensor(new Rng(2).normal(2 * 2 * 4 * 4), [2, 2, 4, 4]);
    const ce = new CrossEntropyLoss();
    const step = () => {
      const y = net.forward(x2);
      ce.forward(y, [1, 3]);
      return [y, net.backward(ce.backward()), ...net.parameters().map((p) => p.grad)];
    };
    const first = step(), second = step();
    second.forEach((t, i) => expect(t).toBe(first[i]));
  });
});
