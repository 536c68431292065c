// Finite-difference gradient checks of every `ref` backward kernel, in float64: the *Core functions (the same
// loops the ref backend runs on float32 tensors) are fed Float64Array inputs. For a random projection
// L(x) = Σ r ⊙ f(x), the analytic gradient (the backward kernel applied to dy = r) must match central
// differences (L(x + ε·e_i) − L(x − ε·e_i)) / 2ε for every element i.
import { describe, expect, it } from 'vitest';
import {
  Rng, conv2dInfo, keepThreshold, pool2dInfo,
  type ActivationFn, type Conv2dOptions, type KernelAttrs, type LrnAttrs, type Pool2dInfo, type Pool2dOptions,
} from '../src/index.js';
import { activationBackwardCore, activationCore } from '../src/ref/activation.js';
import { biasAddCore, biasGradCore, conv2dBackwardInputCore, conv2dBackwardWeightCore, conv2dCore } from '../src/ref/conv2d.js';
import { dropoutCore } from '../src/ref/dropout.js';
import { gemmCore } from '../src/ref/gemm.js';
import { mulCore } from '../src/ref/elementwise.js';
import { softmaxCrossEntropyCore } from '../src/ref/loss.js';
import { lrnBackwardCore, lrnCore } from '../src/ref/lrn.js';
import {
  adaptiveAvgPoolBackwardCore, adaptiveAvgPoolCore, avgPoolBackwardCore, avgPoolCore, maxPoolBackwardCore, maxPoolCore,
} from '../src/ref/pool.js';
import { GRAD_TOL, gradError as gradErrorShared } from '../src/testing/index.js';

const rng = new Rng(2024);
const rand = (n: number, scale = 1) => Float64Array.from(rng.normal(n), (v) => v * scale);
const count = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

const TOL = GRAD_TOL;
/** The published checker (@convnet/tensor/testing), drawing its random projections from this file's stream. */
const gradError = (
  name: string, x: Float64Array, outSize: number,
  f: (x: Float64Array, y: Float64Array) => void, backward: (r: Float64Array, dx: Float64Array) => void,
) => gradErrorShared(name, x, outSize, f, backward, { rng });

describe('conv2d gradients', () => {
  const cases: [string, number[], number[], Conv2dOptions][] = [
    ['3x3 pad 1, batch 2', [2, 3, 7, 7], [4, 3, 3, 3], { padding: 1 }],
    ['stride 2, odd sizes, batch 1', [1, 3, 13, 9], [5, 3, 3, 3], { stride: 2 }],
    ['11x11 stride 4 (conv1-like)', [1, 3, 23, 23], [2, 3, 11, 11], { stride: 4 }],
    ['5x5 pad 2, groups 2', [2, 4, 7, 7], [6, 2, 5, 5], { padding: 2, groups: 2 }],
    ['ceil rule: windows past the bottom/right edge', [1, 2, 9, 10], [3, 2, 3, 3], { stride: 4, sizeRule: 'ceil' }],
    ['ceil rule, stride 2, pad 1, groups 2', [1, 4, 8, 6], [4, 2, 3, 3], { stride: 2, padding: 1, groups: 2, sizeRule: 'ceil' }],
    ['rectangular kernel, stride [2, 1], pad [1, 0]', [1, 2, 7, 5], [3, 2, 3, 2], { stride: [2, 1], padding: [1, 0] }],
  ];
  for (const [name, xs, ws, opts] of cases) {
    it(`${name}: input, weight and bias`, () => {
      const g = conv2dInfo('gradcheck', xs, ws, opts);
      const ny = g.n * g.o * g.oh * g.ow;
      if (opts.sizeRule === 'ceil') expect(g.oh).toBeGreaterThan(conv2dInfo('gradcheck', xs, ws, { ...opts, sizeRule: 'floor' }).oh);
      const x = rand(count(xs)), w = rand(count(ws), 0.3), b = rand(g.o);
      expect(gradError(`${name} dx`, x, ny, (xx, y) => conv2dCore(xx, w, b, y, g), (r, dx) => conv2dBackwardInputCore(r, w, dx, g))).toBeLessThan(TOL);
      expect(gradError(`${name} dw`, w, ny, (ww, y) => conv2dCore(x, ww, b, y, g), (r, dw) => conv2dBackwardWeightCore(x, r, dw, g))).toBeLessThan(TOL);
      expect(gradError(`${name} db`, b, ny, (bb, y) => conv2dCore(x, w, bb, y, g), (r, db) => biasGradCore(r, db, g.n, g.o, g.oh * g.ow))).toBeLessThan(TOL);
    });
  }
});

describe('linear layer gradients (gemm with transposes, bias)', () => {
  // y [m, n] = a [m, k] · b [k, n]: da = dy · bᵀ, db = aᵀ · dy, as the linear layer's backward runs them.
  const [m, k, n] = [3, 7, 5];
  it('gemm: d/da = dy·bᵀ and d/db = aᵀ·dy', () => {
    const a = rand(m * k), b = rand(k * n);
    const f = (aa: Float64Array, bb: Float64Array, y: Float64Array) => gemmCore(aa, bb, y, m, n, k, false, false, 1, 0);
    expect(gradError('gemm da', a, m * n, (aa, y) => f(aa, b, y), (r, da) => gemmCore(r, b, da, m, k, n, false, true, 1, 0))).toBeLessThan(TOL);
    expect(gradError('gemm db', b, m * n, (bb, y) => f(a, bb, y), (r, db) => gemmCore(a, r, db, k, n, m, true, false, 1, 0))).toBeLessThan(TOL);
  });
  it('gemm with transposed operands and alpha: d/da of alpha·aᵀ·bᵀ', () => {
    const a = rand(k * m), b = rand(n * k), alpha = 0.7;
    // y = alpha·aᵀ·bᵀ, so d/da (a is [k, m]) = alpha·(dy·b)ᵀ = alpha·bᵀ·dyᵀ
    expect(gradError('gemm da (transposed)', a, m * n, (aa, y) => gemmCore(aa, b, y, m, n, k, true, true, alpha, 0),
      (r, da) => gemmCore(b, r, da, k, m, n, true, true, alpha, 0))).toBeLessThan(TOL);
  });
  for (const shape of [[4, 6], [2, 3, 4, 5]]) {
    it(`biasAdd on [${shape.join(', ')}]: d/db is conv2dBackwardBias`, () => {
      const [nb, c] = shape, inner = count(shape) / (nb * c);
      const x = rand(count(shape)), b = rand(c);
      expect(gradError('biasAdd db', b, x.length, (bb, y) => biasAddCore(x, bb, y, nb, c, inner), (r, db) => biasGradCore(r, db, nb, c, inner))).toBeLessThan(TOL);
    });
  }
});

describe('pooling gradients', () => {
  const cases: [string, number[], Pool2dOptions][] = [
    ['3/2 overlapping', [2, 2, 9, 9], { kernel: 3, stride: 2 }],
    ['3/2 ceil', [1, 3, 8, 8], { kernel: 3, stride: 2, sizeRule: 'ceil' }],
    ['3/2 padding 1, odd rectangle', [1, 2, 7, 6], { kernel: 3, stride: 2, padding: 1 }],
    ['3/2 padding 1, ceil (window past the padded edge)', [1, 2, 6, 6], { kernel: 3, stride: 2, padding: 1, sizeRule: 'ceil' }],
    ['2x3 window, stride [1, 2]', [1, 1, 5, 7], { kernel: [2, 3], stride: [1, 2] }],
  ];
  for (const [name, xs, opts] of cases) {
    const g: Pool2dInfo = pool2dInfo('gradcheck', xs, opts);
    const nx = count(xs), ny = g.n * g.c * g.oh * g.ow;
    it(`max pool ${name}`, () => {
      // Distinct values spaced far beyond ε, so no window has a tie and the max is differentiable.
      const x = Float64Array.from(rng.permutation(nx), (v) => (v - nx / 2) * 0.01);
      expect(gradError(`max pool ${name}`, x, ny, (xx, y) => maxPoolCore(xx, y, g), (r, dx) => maxPoolBackwardCore(x, r, dx, g))).toBeLessThan(TOL);
    });
    for (const countIncludePad of [true, false]) {
      it(`avg pool ${name}, countIncludePad ${countIncludePad}`, () => {
        const x = rand(nx);
        expect(gradError(`avg pool ${name}`, x, ny,
          (xx, y) => avgPoolCore(xx, y, g, countIncludePad), (r, dx) => avgPoolBackwardCore(r, dx, g, countIncludePad))).toBeLessThan(TOL);
      });
    }
  }
  for (const [h, w, oh, ow] of [[13, 13, 6, 6], [5, 5, 3, 3], [7, 5, 3, 2], [3, 4, 5, 4]]) {
    it(`adaptive avg pool ${h}x${w} -> ${oh}x${ow}`, () => {
      const g: Pool2dInfo = { n: 2, c: 2, h, w, kh: 0, kw: 0, sh: 0, sw: 0, ph: 0, pw: 0, oh, ow };
      const x = rand(4 * h * w);
      expect(gradError(`adaptive ${h}x${w}->${oh}x${ow}`, x, 4 * oh * ow,
        (xx, y) => adaptiveAvgPoolCore(xx, y, g), (r, dx) => adaptiveAvgPoolBackwardCore(r, dx, g))).toBeLessThan(TOL);
    });
  }
});

describe('LRN gradients (c = 7)', () => {
  const cases: LrnAttrs[] = [
    { size: 5, alpha: 0.5, beta: 0.75, k: 2, alphaMode: 'divide-by-size' },
    { size: 5, alpha: 0.1, beta: 0.75, k: 2, alphaMode: 'paper' },
    { size: 3, alpha: 0.3, beta: 0.6, k: 1, alphaMode: 'divide-by-size' },
    { size: 3, alpha: 0.2, beta: 0.75, k: 1.5, alphaMode: 'paper' },
    { size: 4, alpha: 0.4, beta: 1.2, k: 1, alphaMode: 'divide-by-size' },
  ];
  for (const a of cases) {
    it(`size ${a.size}, ${a.alphaMode}, alpha ${a.alpha}, beta ${a.beta}`, () => {
      const n = 2, c = 7, plane = 6, len = n * c * plane;
      const x = rand(len);
      const y = new Float64Array(len), scale = new Float64Array(len);
      lrnCore(x, y, scale, n, c, plane, a);
      expect(gradError(`lrn size ${a.size} ${a.alphaMode}`, x, len,
        (xx, yy) => lrnCore(xx, yy, new Float64Array(len), n, c, plane, a),
        (r, dx) => lrnBackwardCore(x, y, scale, r, dx, n, c, plane, a))).toBeLessThan(TOL);
    });
  }
});

describe('activation gradients', () => {
  for (const fn of ['relu', 'logistic', 'tanh', 'abs', 'softplus'] as ActivationFn[]) {
    it(fn, () => {
      // Keep every x at least 0.15 away from the kinks of relu and abs at 0.
      const x = Float64Array.from(rand(60), (v) => (v >= 0 ? v + 0.05 : v - 0.05) * 3);
      const y = new Float64Array(60);
      activationCore(fn, x, y);
      expect(gradError(fn, x, 60, (xx, yy) => activationCore(fn, xx, yy), (r, dx) => activationBackwardCore(fn, x, y, r, dx))).toBeLessThan(TOL);
    });
  }
});

describe('softmax cross-entropy gradient', () => {
  for (const [n, c] of [[5, 10], [1, 3], [3, 1000]]) {
    it(`mean loss over [${n}, ${c}]`, () => {
      const x = rand(n * c, 2);
      const labels = Int32Array.from({ length: n }, () => rng.int(c));
      const dlogits = new Float64Array(n * c);
      softmaxCrossEntropyCore(x, labels, dlogits, n, c, 5);
      // The loss is a scalar: L = r[0] · loss.
      const f = (xx: Float64Array, y: Float64Array) => { y[0] = softmaxCrossEntropyCore(xx, labels, new Float64Array(n * c), n, c, 5)[0]; };
      expect(gradError(`softmax CE [${n}, ${c}]`, x, 1, f, (r, dx) => { for (let i = 0; i < dx.length; i++) dx[i] = r[0] * dlogits[i]; })).toBeLessThan(TOL);
    });
  }
});

describe('dropout gradient (backward = dy ⊙ mask)', () => {
  for (const [p, scale] of [[0.5, 2], [0.3, 1]]) {
    it(`p = ${p}, scale ${scale}`, () => {
      const len = 200;
      const attrs: KernelAttrs<'dropout'> = { seed: 7, stream: 3, offset: 1001, keepThreshold: keepThreshold(1 - p), scale };
      const x = rand(len), y = new Float64Array(len), mask = new Float64Array(len);
      dropoutCore(x, y, mask, attrs);
      expect(gradError(`dropout p ${p}`, x, len, (xx, yy) => dropoutCore(xx, yy, new Float64Array(len), attrs), (r, dx) => mulCore(r, mask, dx))).toBeLessThan(TOL);
    });
  }
});
