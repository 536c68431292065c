// Finite-difference gradient checks of every `ref` backward kernel, run in float64 through the *Core
// functions (the same loops the ref backend runs on float32 tensors).
import { describe, expect, it } from 'vitest';
import { Rng, conv2dInfo, pool2dInfo, type ActivationFn, type Conv2dInfo, type LrnAttrs, type Pool2dInfo } from '../src/index.js';
import { activationBackwardCore, activationCore } from '../src/ref/activation.js';
import { biasGradCore, conv2dBackwardInputCore, conv2dBackwardWeightCore, conv2dCore } from '../src/ref/conv2d.js';
import { softmaxCrossEntropyCore } from '../src/ref/loss.js';
import { lrnBackwardCore, lrnCore } from '../src/ref/lrn.js';
import {
  adaptiveAvgPoolBackwardCore, adaptiveAvgPoolCore, avgPoolBackwardCore, avgPoolCore, maxPoolBackwardCore, maxPoolCore,
} from '../src/ref/pool.js';

const rng = new Rng(2024);
const rand = (n: number, scale = 1) => Float64Array.from(rng.normal(n), (v) => v * scale);

/**
 * Checks d(Σ r ⊙ f(x))/dx from `analytic` against central differences of `f`, for every element of x.
 * Returns the largest relative error (|a − n| / max(1e-3, |a|, |n|)).
 */
function check(x: Float64Array, outSize: number, f: (x: Float64Array, y: Float64Array) => void, analytic: (r: Float64Array, dx: Float64Array) => void, eps = 1e-6): number {
  const r = rand(outSize);
  const dx = new Float64Array(x.length);
  analytic(r, dx);
  const y = new Float64Array(outSize);
  const proj = () => { f(x, y); let s = 0; for (let i = 0; i < outSize; i++) s += r[i] * y[i]; return s; };
  let worst = 0, where = -1;
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps; const up = proj();
    x[i] = keep - eps; const down = proj();
    x[i] = keep;
    const num = (up - down) / (2 * eps);
    const err = Math.abs(num - dx[i]) / Math.max(1e-3, Math.abs(num), Math.abs(dx[i]));
    if (err > worst) { worst = err; where = i; }
  }
  if (worst > 2e-5) console.error(`largest gradient error ${worst.toExponential(2)} at element ${where}`);
  return worst;
}

const convCases: [string, number[], number[], { stride?: number; padding?: number; groups?: number; sizeRule?: 'floor' | 'ceil' }][] = [
  ['3x3 pad 1', [2, 3, 7, 7], [4, 3, 3, 3], { padding: 1 }],
  ['stride 2, odd sizes', [1, 3, 13, 9], [5, 3, 3, 3], { stride: 2 }],
  ['11x11 stride 4 (conv1-like)', [1, 3, 27, 27], [2, 3, 11, 11], { stride: 4 }],
  ['groups 2, 5x5 pad 2', [2, 4, 7, 7], [6, 2, 5, 5], { padding: 2, groups: 2 }],
  ['ceil rule past the edge', [1, 2, 9, 9], [3, 2, 3, 3], { stride: 4, sizeRule: 'ceil' }],
];

describe('conv2d gradients (float64 finite differences)', () => {
  for (const [name, xs, ws, opts] of convCases) {
    const g: Conv2dInfo = conv2dInfo('test', xs, ws, opts);
    const nx = xs.reduce((a, b) => a * b), nw = ws.reduce((a, b) => a * b), ny = g.n * g.o * g.oh * g.ow;
    it(`${name}: input, weight and bias`, () => {
      const x = rand(nx), w = rand(nw, 0.3), b = rand(g.o);
      expect(check(x, ny, (xx, y) => conv2dCore(xx, w, b, y, g), (r, dx) => conv2dBackwardInputCore(r, w, dx, g))).toBeLessThan(2e-5);
      expect(check(w, ny, (ww, y) => conv2dCore(x, ww, b, y, g), (r, dw) => conv2dBackwardWeightCore(x, r, dw, g))).toBeLessThan(2e-5);
      expect(check(b, ny, (bb, y) => conv2dCore(x, w, bb, y, g), (r, db) => biasGradCore(r, db, g.n, g.o, g.oh * g.ow))).toBeLessThan(2e-5);
    });
  }
});

describe('pooling gradients', () => {
  const cases: [string, number[], { kernel: number; stride: number; padding?: number; sizeRule?: 'floor' | 'ceil' }][] = [
    ['3/2 overlapping', [2, 2, 9, 9], { kernel: 3, stride: 2 }],
    ['3/2 ceil', [1, 3, 8, 8], { kernel: 3, stride: 2, sizeRule: 'ceil' }],
    ['3/2 padding 1', [1, 2, 7, 6], { kernel: 3, stride: 2, padding: 1 }],
  ];
  for (const [name, xs, opts] of cases) {
    const g: Pool2dInfo = pool2dInfo('test', xs, opts);
    const nx = xs.reduce((a, b) => a * b), ny = g.n * g.c * g.oh * g.ow;
    it(`max pool ${name}`, () => {
      // distinct values spaced well beyond eps so no window has a tie
      const x = Float64Array.from(rng.permutation(nx), (v) => v * 0.01);
      expect(check(x, ny, (xx, y) => maxPoolCore(xx, y, g), (r, dx) => maxPoolBackwardCore(x, r, dx, g))).toBeLessThan(2e-5);
    });
    for (const cip of [true, false]) {
      it(`avg pool ${name}, countIncludePad ${cip}`, () => {
        const x = rand(nx);
        expect(check(x, ny, (xx, y) => avgPoolCore(xx, y, g, cip), (r, dx) => avgPoolBackwardCore(r, dx, g, cip))).toBeLessThan(2e-5);
      });
    }
  }
  for (const [h, o] of [[13, 6], [5, 3], [6, 6]]) {
    it(`adaptive avg pool ${h} -> ${o}`, () => {
      const g: Pool2dInfo = { n: 1, c: 2, h, w: h, kh: 0, kw: 0, sh: 0, sw: 0, ph: 0, pw: 0, oh: o, ow: o };
      const x = rand(2 * h * h);
      expect(check(x, 2 * o * o, (xx, y) => adaptiveAvgPoolCore(xx, y, g), (r, dx) => adaptiveAvgPoolBackwardCore(r, dx, g))).toBeLessThan(2e-5);
    });
  }
});

describe('LRN gradients', () => {
  const cases: LrnAttrs[] = [
    { size: 5, alpha: 0.5, beta: 0.75, k: 2, alphaMode: 'divide-by-size' },
    { size: 5, alpha: 0.1, beta: 0.75, k: 2, alphaMode: 'paper' },
    { size: 3, alpha: 0.3, beta: 0.6, k: 1, alphaMode: 'divide-by-size' },
  ];
  for (const a of cases) {
    it(`size ${a.size}, ${a.alphaMode}, c = 7`, () => {
      const n = 2, c = 7, plane = 6, len = n * c * plane;
      const x = rand(len);
      const y = new Float64Array(len), s = new Float64Array(len);
      lrnCore(x, y, s, n, c, plane, a);
      expect(check(x, len, (xx, yy) => lrnCore(xx, yy, new Float64Array(len), n, c, plane, a), (r, dx) => lrnBackwardCore(x, y, s, r, dx, n, c, plane, a))).toBeLessThan(2e-5);
    });
  }
});

describe('activation gradients', () => {
  for (const fn of ['relu', 'logistic', 'tanh', 'abs', 'softplus'] as ActivationFn[]) {
    it(fn, () => {
      // keep away from the kinks at 0
      const x = Float64Array.from(rand(40), (v) => (Math.abs(v) < 0.05 ? v + 0.2 : v) * 3);
      const y = new Float64Array(40);
      activationCore(fn, x, y);
      expect(check(x, 40, (xx, yy) => activationCore(fn, xx, yy), (r, dx) => activationBackwardCore(fn, x, y, r, dx))).toBeLessThan(2e-5);
    });
  }
});

describe('softmax cross-entropy gradient', () => {
  it('mean loss over [5, 10]', () => {
    const n = 5, c = 10, x = rand(n * c, 2), labels = Int32Array.from([3, 0, 9, 9, 4]);
    const d = new Float64Array(n * c);
    softmaxCrossEntropyCore(x, labels, d, n, c, 5);
    // scalar loss: project with r = [1]
    const f = (xx: Float64Array, y: Float64Array) => { y[0] = softmaxCrossEntropyCore(xx, labels, new Float64Array(n * c), n, c, 5)[0]; };
    expect(check(x, 1, f, (r, dx) => { for (let i = 0; i < dx.length; i++) dx[i] = r[0] * d[i]; })).toBeLessThan(2e-5);
  });
});
