// The `ref` backend on small cases whose answers are worked out by hand (or by the defining formula written
// out independently here), through the public ops, plus the argument errors those ops raise.
import { describe, expect, it } from 'vitest';
import {
  KERNEL_NAMES, OpError, Rng, Tensor, isTensor, activation, activationBackward, adaptiveAvgPool2d, adaptiveAvgPool2dBackward,
  add, avgPool2d, avgPool2dBackward, axpy, biasAdd, conv2d, conv2dBackwardBias, conv2dBackwardInput,
  conv2dBackwardWeight, conv2dInfo, dropout, hasKernel, keepThreshold, lrn, lrnBackward, matmul, maxPool2d,
  maxPool2dBackward, mul, randomWords, scale, sgdUpdate, softmax, softmaxCrossEntropy, sumAndSquares,
  windowOutputSize, type ActivationFn, type Conv2dOptions, type LrnAlphaMode,
} from '../src/index.js';

const ref = { backend: 'ref' } as const;
const T = (values: ArrayLike<number>, shape: number[]) => Tensor.from(values, shape);
const range = (n: number, start = 0) => Array.from({ length: n }, (_, i) => start + i);
const rng = new Rng(99);
const randn = (shape: number[], s = 1) => new Tensor(rng.normal(shape.reduce((a, b) => a * b, 1), 0, s), shape);

/** Element-wise |got − want| ≤ tol, reporting the first mismatch. */
function expectValues(got: Tensor | ArrayLike<number>, want: ArrayLike<number>, tol = 1e-6): void {
  const g = isTensor(got) ? got.data : got;
  expect(g.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(g[i] - want[i]) <= tol)) throw new Error(`element ${i}: expected ${want[i]}, got ${g[i]} (all: ${Array.from(g).join(', ')})`);
  }
}

/** ⟨a, b⟩ in float64. */
const dot = (a: Tensor, b: Tensor) => a.data.reduce((s, v, i) => s + v * b.data[i], 0);

describe('ref backend', () => {
  it('implements every kernel itself', () => {
    expect(KERNEL_NAMES.filter((k) => !hasKernel(k, 'ref'))).toEqual([]);
  });
});

describe('gemm', () => {
  const a = T([1, 2, 3, 4, 5, 6], [2, 3]);
  const b = T([7, 8, 9, 10, 11, 12], [3, 2]);
  const ab = [58, 64, 139, 154];
  it('a·b and every transpose', () => {
    expectValues(matmul(a, b, ref), ab);
    expectValues(matmul(T([1, 4, 2, 5, 3, 6], [3, 2]), b, { ...ref, transA: true }), ab);
    expectValues(matmul(a, T([7, 9, 11, 8, 10, 12], [2, 3]), { ...ref, transB: true }), ab);
    expectValues(matmul(T([1, 4, 2, 5, 3, 6], [3, 2]), T([7, 9, 11, 8, 10, 12], [2, 3]), { ...ref, transA: true, transB: true }), ab);
  });
  it('alpha and beta; beta = 0 never reads out (NaN there does not leak)', () => {
    expectValues(matmul(a, b, { ...ref, alpha: 2, beta: 0.5, out: T([1, 2, 3, 4], [2, 2]) }), [116.5, 129, 279.5, 310]);
    expectValues(matmul(a, b, { ...ref, out: T([NaN, NaN, NaN, NaN], [2, 2]) }), ab);
  });
});

describe('conv2d', () => {
  it('1x1: a per-pixel matrix product plus bias', () => {
    const x = T([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 2]);
    const w = T([1, 0, 0, 1, 2, -1], [3, 2, 1, 1]);
    expectValues(conv2d(x, w, T([0.5, 0, -1], [3]), ref), [1.5, 2.5, 3.5, 4.5, 5, 6, 7, 8, -4, -3, -2, -1]);
  });
  it('3x3 with padding 1 counts the in-bounds taps (zero padding)', () => {
    const y = conv2d(Tensor.full([1, 1, 3, 3], 1), Tensor.full([1, 1, 3, 3], 1), null, { ...ref, padding: 1 });
    expectValues(y, [4, 6, 4, 6, 9, 6, 4, 6, 4]);
  });
  it('groups 2: each output channel sees only its group', () => {
    const y = conv2d(T([1, 2, 3, 4], [1, 4, 1, 1]), T([1, 1, 1, -1], [2, 2, 1, 1]), null, { ...ref, groups: 2 });
    expectValues(y, [3, -1]);
  });
  it('stride 2', () => {
    const y = conv2d(T(range(16), [1, 1, 4, 4]), Tensor.full([1, 1, 2, 2], 1), null, { ...ref, stride: 2 });
    expectValues(y, [10, 18, 42, 50]);
  });
  it("ceil rule: the last windows run past the bottom/right edge and read zeros there", () => {
    const x = T(range(25), [1, 1, 5, 5]), w = Tensor.full([1, 1, 3, 3], 1);
    expectValues(conv2d(x, w, null, { ...ref, stride: 3 }), [54]);
    const y = conv2d(x, w, null, { ...ref, stride: 3, sizeRule: 'ceil' });
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expectValues(y, [54, 3 + 4 + 8 + 9 + 13 + 14, 15 + 16 + 17 + 20 + 21 + 22, 18 + 19 + 23 + 24]);
  });
  it('output size rules: the paper\'s 224 input gives 55 under ceil, 54 under floor', () => {
    expect(windowOutputSize(224, 11, 4, 0, 'ceil')).toBe(55);
    expect(windowOutputSize(224, 11, 4, 0, 'floor')).toBe(54);
    expect(windowOutputSize(227, 11, 4, 0, 'floor')).toBe(55);
    // ceil never starts a window inside the padding: 5 + 2·1 − 2 = 5 → ceil(5/2) + 1 = 4 would start at 6 ≥ 5 + 1.
    expect(windowOutputSize(5, 2, 2, 1, 'ceil')).toBe(3);
  });
  it('backward by hand: 1x1 kernel', () => {
    const x = T([1, 1, 2, 2], [1, 1, 2, 2]), w = T([3], [1, 1, 1, 1]), dy = T([1, 2, 3, 4], [1, 1, 2, 2]);
    expectValues(conv2dBackwardInput(dy, w, [1, 1, 2, 2], ref), [3, 6, 9, 12]);
    expectValues(conv2dBackwardWeight(x, dy, [1, 1, 1, 1], ref), [17]);
    expectValues(conv2dBackwardBias(dy, ref), [10]);
  });
  it('backward by hand: 3x3 padding 1 on ones', () => {
    const ones = Tensor.full([1, 1, 3, 3], 1);
    expectValues(conv2dBackwardInput(ones, ones, [1, 1, 3, 3], { ...ref, padding: 1 }), [4, 6, 4, 6, 9, 6, 4, 6, 4]);
    expectValues(conv2dBackwardWeight(ones, ones, [1, 1, 3, 3], { ...ref, padding: 1 }), [4, 6, 4, 6, 9, 6, 4, 6, 4]);
  });
  it('backward kernels are the adjoints of the forward (groups, stride, padding, ceil)', () => {
    const cases: [number[], number[], Conv2dOptions][] = [
      [[2, 4, 9, 8], [6, 2, 3, 3], { stride: 2, padding: 1, groups: 2, sizeRule: 'ceil' }],
      [[1, 3, 15, 15], [4, 3, 5, 5], { stride: 4 }],
    ];
    for (const [xs, ws, opts] of cases) {
      const x = randn(xs), w = randn(ws), dy = randn(conv2d(x, w, null, { ...ref, ...opts }).shape as number[]);
      const y = conv2d(x, w, null, { ...ref, ...opts });
      const ydy = dot(y, dy);
      expect(dot(x, conv2dBackwardInput(dy, w, xs, { ...ref, ...opts }))).toBeCloseTo(ydy, 3);
      expect(dot(w, conv2dBackwardWeight(x, dy, ws, { ...ref, ...opts }))).toBeCloseTo(ydy, 3);
    }
  });
  it('bias gradient and bias add on [n, c] and in place', () => {
    expectValues(conv2dBackwardBias(T([1, 2, 3, 4], [2, 2]), ref), [4, 6]);
    const x = T(range(6), [2, 3]);
    expect(biasAdd(x, T([10, 20, 30], [3]), { ...ref, out: x })).toBe(x);
    expectValues(x, [10, 21, 32, 13, 24, 35]);
    expectValues(biasAdd(T(range(8), [1, 2, 2, 2]), T([1, -1], [2]), ref), [1, 2, 3, 4, 3, 4, 5, 6]);
  });
});

describe('max pooling', () => {
  it('2/2 on a 4x4 ramp', () => {
    expectValues(maxPool2d(T(range(16), [1, 1, 4, 4]), { ...ref, kernel: 2 }), [5, 7, 13, 15]);
  });
  it('floor vs ceil rule on 5x5', () => {
    const x = T(range(25), [1, 1, 5, 5]);
    expectValues(maxPool2d(x, { ...ref, kernel: 2, stride: 2 }), [6, 8, 16, 18]);
    const y = maxPool2d(x, { ...ref, kernel: 2, stride: 2, sizeRule: 'ceil' });
    expect(y.shape).toEqual([1, 1, 3, 3]);
    expectValues(y, [6, 8, 9, 16, 18, 19, 21, 23, 24]);
  });
  it('padding never wins, even over negative inputs', () => {
    const x = T(range(9).map((v) => -(v + 1)), [1, 1, 3, 3]);
    expectValues(maxPool2d(x, { ...ref, kernel: 3, stride: 2, padding: 1 }), [-1, -2, -4, -5]);
  });
  it('backward: ties go to the first maximum in scan order; overlapping windows sum', () => {
    const x = T([1, 5, 5, 5, 5, 5, 1, 1, 1], [1, 1, 3, 3]), dy = T([1, 2, 3, 4], [1, 1, 2, 2]);
    expectValues(maxPool2dBackward(x, dy, { ...ref, kernel: 2, stride: 1 }), [0, 3, 0, 3, 4, 0, 0, 0, 0]);
    const peak = T([0, 1, 0, 2, 9, 3, 0, 4, 0], [1, 1, 3, 3]);
    expectValues(maxPool2dBackward(peak, dy, { ...ref, kernel: 2, stride: 1 }), [0, 0, 0, 0, 10, 0, 0, 0, 0]);
  });
});

describe('average pooling', () => {
  it('padding: countIncludePad divides by the padded window, otherwise by the real cells', () => {
    const ones = Tensor.full([1, 1, 3, 3], 1);
    expectValues(avgPool2d(ones, { ...ref, kernel: 3, stride: 1, padding: 1 }), [4, 6, 4, 6, 9, 6, 4, 6, 4].map((v) => v / 9));
    expectValues(avgPool2d(ones, { ...ref, kernel: 3, stride: 1, padding: 1, countIncludePad: false }), new Array(9).fill(1));
  });
  it('ceil rule: a window past the padded edge is clipped to it (PyTorch)', () => {
    const ones = Tensor.full([1, 1, 6, 6], 1);
    const opts = { ...ref, kernel: 3, stride: 2, padding: 1, sizeRule: 'ceil' as const };
    const y = avgPool2d(ones, opts);
    expect(y.shape).toEqual([1, 1, 4, 4]);
    // rows/cols of window 0 span [-1, 2) (3 padded, 2 real); of window 3 span [5, 8) clipped to [5, 7) (2 padded, 1 real)
    expect(y.get(0, 0, 0, 0)).toBeCloseTo(4 / 9, 6);
    expect(y.get(0, 0, 0, 3)).toBeCloseTo(2 / 6, 6);
    expect(y.get(0, 0, 3, 3)).toBeCloseTo(1 / 4, 6);
    expect(y.get(0, 0, 1, 1)).toBeCloseTo(1, 6);
    expectValues(avgPool2d(ones, { ...opts, countIncludePad: false }), new Array(16).fill(1));
  });
  it('2/2 means and their backward', () => {
    expectValues(avgPool2d(T(range(16), [1, 1, 4, 4]), { ...ref, kernel: 2 }), [2.5, 4.5, 10.5, 12.5]);
    const dx = avgPool2dBackward(T([4, 8, 12, 16], [1, 1, 2, 2]), [1, 1, 4, 4], { ...ref, kernel: 2 });
    expectValues(dx, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });
  it('backward is the adjoint of the forward, both divisor rules', () => {
    const x = randn([2, 2, 7, 6]);
    for (const countIncludePad of [true, false]) {
      const opts = { ...ref, kernel: 3, stride: 2, padding: 1, sizeRule: 'ceil' as const, countIncludePad };
      const y = avgPool2d(x, opts), dy = randn(y.shape as number[]);
      expect(dot(x, avgPool2dBackward(dy, x.shape, opts))).toBeCloseTo(dot(y, dy), 4);
    }
  });
});

describe('adaptive average pooling (PyTorch windows)', () => {
  it('5 -> 3: windows [0,2), [1,4), [3,5)', () => {
    expectValues(adaptiveAvgPool2d(T([1, 2, 3, 4, 5], [1, 1, 1, 5]), [1, 3], ref), [1.5, 3, 4.5]);
    expectValues(adaptiveAvgPool2dBackward(T([1, 1, 1], [1, 1, 1, 3]), [1, 1, 1, 5], ref), [1 / 2, 1 / 2 + 1 / 3, 1 / 3, 1 / 3 + 1 / 2, 1 / 2]);
  });
  it('13 -> 6: windows [0,3), [2,5), [4,7), [6,9), [8,11), [10,13)', () => {
    expectValues(adaptiveAvgPool2d(T(range(13), [1, 1, 13, 1]), [6, 1], ref), [1, 3, 5, 7, 9, 11]);
  });
  it('same size is the identity; 1x1 is the global mean', () => {
    const x = randn([2, 3, 6, 6]);
    expectValues(adaptiveAvgPool2d(x, 6, ref), x.data);
    expectValues(adaptiveAvgPool2d(T(range(12), [1, 1, 3, 4]), 1, ref), [5.5]);
  });
});

describe('LRN', () => {
  const lrnByFormula = (x: Tensor, size: number, alpha: number, beta: number, k: number, mode: LrnAlphaMode) => {
    const [n, c, h, w] = x.shape, plane = h * w, a = mode === 'paper' ? alpha : alpha / size;
    const y = new Float64Array(x.size), s = new Float64Array(x.size);
    for (let b = 0; b < n; b++) for (let i = 0; i < c; i++) for (let p = 0; p < plane; p++) {
      let sum = 0;
      for (let j = i - Math.floor(size / 2); j <= i + Math.floor((size - 1) / 2); j++) if (j >= 0 && j < c) sum += x.data[(b * c + j) * plane + p] ** 2;
      const at = (b * c + i) * plane + p;
      s[at] = k + a * sum;
      y[at] = x.data[at] / s[at] ** beta;
    }
    return { y, s };
  };
  it('ones, size 3: window clipped at the channel ends, both alpha modes', () => {
    const x = Tensor.full([1, 3, 1, 1], 1);
    const byDivision = lrn(x, { ...ref, size: 3, alpha: 3, beta: 1, k: 1 });
    expectValues(byDivision.scale, [3, 4, 3]);
    expectValues(byDivision.y, [1 / 3, 1 / 4, 1 / 3]);
    const paper = lrn(x, { ...ref, size: 3, alpha: 1, beta: 1, k: 1, alphaMode: 'paper' });
    expectValues(paper.scale, [3, 4, 3]);
  });
  it('even size 4: window [i − 2, i + 1] (PyTorch)', () => {
    const { y, scale: s } = lrn(T([1, 2, 3], [1, 3, 1, 1]), { ...ref, size: 4, alpha: 4, beta: 1, k: 1 });
    expectValues(s, [6, 15, 15]);
    expectValues(y, [1 / 6, 2 / 15, 3 / 15]);
  });
  for (const mode of ['divide-by-size', 'paper'] as const) {
    it(`c = 7, size 5, ${mode}: matches the formula`, () => {
      const x = randn([2, 7, 3, 2], 2);
      const got = lrn(x, { ...ref, size: 5, alpha: 1e-2, beta: 0.75, k: 2, alphaMode: mode });
      const want = lrnByFormula(x, 5, 1e-2, 0.75, 2, mode);
      expectValues(got.scale, want.s, 1e-5);
      expectValues(got.y, want.y, 1e-6);
    });
  }
  it('backward with beta = 0 is the identity', () => {
    const x = randn([1, 5, 2, 2]), dy = randn([1, 5, 2, 2]);
    const opts = { ...ref, size: 3, alpha: 0.5, beta: 0, k: 1 };
    const { y, scale: s } = lrn(x, opts);
    expectValues(lrnBackward(x, y, s, dy, opts), dy.data);
  });
});

describe('activations', () => {
  const x = T([-2, -0.5, 0, 0.5, 2, 30], [6]);
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const cases: [ActivationFn, number[], number[]][] = [
    ['relu', [0, 0, 0, 0.5, 2, 30], [0, 0, 0, 1, 1, 1]],
    ['logistic', [sig(-2), sig(-0.5), 0.5, sig(0.5), sig(2), 1], [sig(-2) * sig(2), sig(-0.5) * sig(0.5), 0.25, sig(0.5) * sig(-0.5), sig(2) * sig(-2), 0]],
    ['tanh', [Math.tanh(-2), Math.tanh(-0.5), 0, Math.tanh(0.5), Math.tanh(2), 1], [1 - Math.tanh(2) ** 2, 1 - Math.tanh(0.5) ** 2, 1, 1 - Math.tanh(0.5) ** 2, 1 - Math.tanh(2) ** 2, 0]],
    ['abs', [2, 0.5, 0, 0.5, 2, 30], [-1, -1, 0, 1, 1, 1]],
    ['softplus', [Math.log1p(Math.exp(-2)), Math.log1p(Math.exp(-0.5)), Math.LN2, Math.log1p(Math.exp(0.5)), Math.log1p(Math.exp(2)), 30], [sig(-2), sig(-0.5), 0.5, sig(0.5), sig(2), 1]],
  ];
  for (const [fn, values, slopes] of cases) {
    it(`${fn}: values and derivatives (at 0: relu' = abs' = 0, as PyTorch)`, () => {
      const y = activation(x, fn, ref);
      expectValues(y, values);
      const dy = T([2, 2, 2, 2, 2, 2], [6]);
      expectValues(activationBackward(x, y, dy, fn, ref), slopes.map((s) => 2 * s));
    });
  }
  it('in place', () => {
    const v = T([-1, 3], [2]);
    expect(activation(v, 'relu', { ...ref, out: v })).toBe(v);
    expectValues(v, [0, 3]);
    const dy = T([5, 5], [2]);
    activationBackward(T([-1, 3], [2]), v, dy, 'relu', { ...ref, out: dy });
    expectValues(dy, [0, 5]);
  });
});

describe('dropout', () => {
  it('mask follows the integer rule on the Philox words; y = x ⊙ mask; the stream advances', () => {
    const n = 1000, p = 0.5, r = new Rng(42, 5);
    const x = randn([n]);
    const first = dropout(x, { ...ref, p, rng: r });
    expect(r.counter).toBe(n);
    const second = dropout(x, { ...ref, p, rng: r });
    for (const [offset, { y, mask }] of [[0, first], [n, second]] as const) {
      const words = new Uint32Array(n);
      randomWords(42, 5, offset, words);
      const t = keepThreshold(1 - p);
      expectValues(mask, Array.from(words, (wd) => (wd >>> 8 < t ? 2 : 0)), 0);
      expectValues(y, Array.from(x.data, (v, i) => v * mask.data[i]), 0);
    }
    expect(second.mask.toArray()).not.toEqual(first.mask.toArray());
  });
  it('mask is Rng.bernoulli(1 − p) at the stream position dropout took, times the scale', () => {
    const n = 777, p = 0.4, r = new Rng(11, 2, 5);
    const { mask } = dropout(randn([n]), { ...ref, p, rng: r });
    const keep = new Rng(11, 2, 5).bernoulli(n, 1 - p);
    expectValues(mask, Array.from(keep, (k) => k * Math.fround(1 / (1 - p))), 0);
  });
  it('same seed and stream give the same mask; another stream another', () => {
    const x = Tensor.full([500], 1);
    const a = dropout(x, { ...ref, p: 0.3, rng: new Rng(7, 1) }).mask.toArray();
    expect(dropout(x, { ...ref, p: 0.3, rng: new Rng(7, 1) }).mask.toArray()).toEqual(a);
    expect(dropout(x, { ...ref, p: 0.3, rng: new Rng(7, 2) }).mask.toArray()).not.toEqual(a);
  });
  it('kept fraction is close to 1 − p; scale 1/(1 − p) (inverted) or 1 (classic)', () => {
    const n = 100_000, x = Tensor.full([n], 1);
    const { mask } = dropout(x, { ...ref, p: 0.3, rng: new Rng(3) });
    const kept = mask.data.filter((m) => m !== 0);
    expect(Math.abs(kept.length / n - 0.7)).toBeLessThan(0.006);
    expect(kept.every((m) => m === Math.fround(1 / 0.7))).toBe(true);
    const classic = dropout(x, { ...ref, p: 0.3, mode: 'classic', rng: new Rng(3) }).mask;
    expectValues(classic, Array.from(mask.data, (m) => (m !== 0 ? 1 : 0)), 0);
  });
  it('p = 0 keeps everything; backward is dy ⊙ mask', () => {
    const x = randn([50]);
    const { y, mask } = dropout(x, { ...ref, p: 0, rng: new Rng(1) });
    expectValues(y, x.data, 0);
    expectValues(mul(T(range(4), [4]), T([0, 2, 2, 0], [4]), ref), [0, 2, 4, 0]);
    expect(mask.data.every((m) => m === 1)).toBe(true);
  });
});

describe('softmax and cross-entropy', () => {
  it('softmax rows sum to 1 and never overflow', () => {
    expectValues(softmax(T([0, Math.log(3), 1000, 1000, -1000, 0], [3, 2]), ref), [0.25, 0.75, 0.5, 0.5, 0, 1]);
  });
  it('uniform logits: loss = log(C), gradient (1/C − onehot)/n, every row a hit (ties favour the label)', () => {
    const n = 4, C = 10, labels = [0, 3, 9, 5];
    const r = softmaxCrossEntropy(Tensor.full([n, C], 0.7), labels, { ...ref, topk: 5 });
    expect(r.loss).toBeCloseTo(Math.log(C), 6);
    const want = new Array(n * C).fill(0.1 / n);
    labels.forEach((l, i) => { want[i * C + l] = (0.1 - 1) / n; });
    expectValues(r.dlogits, want);
    expect([r.top1Hits, r.topkHits]).toEqual([4, 4]);
  });
  it('loss by hand and from logsumexp (exact where the probability underflows)', () => {
    const r = softmaxCrossEntropy(T([1, 2, 3], [1, 3]), [2], ref);
    expect(r.loss).toBeCloseTo(Math.log(Math.E + Math.E ** 2 + Math.E ** 3) - 3, 6);
    expect(softmaxCrossEntropy(T([0, 1000], [1, 2]), [0], ref).loss).toBe(1000);
    expect(softmaxCrossEntropy(T([0, 1000], [1, 2]), [1], ref).loss).toBe(0);
  });
  it('top-k counts rows with fewer than k strictly larger logits', () => {
    const logits = T([0, 1, 2, 3, 4, 5, 1, 1, 1, 1], [2, 5]);
    expect(softmaxCrossEntropy(logits, [2, 0], { ...ref, topk: 3 })).toMatchObject({ top1Hits: 1, topkHits: 2 });
    expect(softmaxCrossEntropy(logits, [2, 0], { ...ref, topk: 2 })).toMatchObject({ top1Hits: 1, topkHits: 1 });
    expect(softmaxCrossEntropy(logits, [4, 3], { ...ref, topk: 1 })).toMatchObject({ top1Hits: 1, topkHits: 1 });
  });
});

describe('SGD', () => {
  const hp = { lr: 0.1, momentum: 0.9, weightDecay: 0.01 };
  /** Two steps from w = 1 with g = 0.5, v starting at v0; returns [w, v] after each step. */
  const twoSteps = (opts: Parameters<typeof sgdUpdate>[3], v0 = 0) => {
    const w = T([1], [1]), g = T([0.5], [1]), v = T([v0], [1]);
    sgdUpdate(w, g, v, { ...ref, ...opts, firstStep: opts.rule !== 'paper' });
    const after1 = [w.data[0], v.data[0]];
    sgdUpdate(w, g, v, { ...ref, ...opts, firstStep: false });
    return [after1, [w.data[0], v.data[0]]];
  };
  it("'pytorch': d = g + wd·w, v = d on the first step, then v = μv + d", () => {
    const [s1, s2] = twoSteps({ ...hp }, 7); // v0 = 7 is ignored: firstStep means no history
    expectValues(s1, [0.949, 0.51]);
    expectValues(s2, [0.852151, 0.96849]);
  });
  it("'pytorch' nesterov: w −= lr·(d + μv)", () => {
    const [s1, s2] = twoSteps({ ...hp, nesterov: true });
    expectValues(s1, [0.9031, 0.51]);
    expectValues(s2, [0.76507411, 0.968031]);
  });
  it("'pytorch' dampening applies from the second step on (and only then)", () => {
    const [s1, s2] = twoSteps({ ...hp, dampening: 0.5 });
    expectValues(s1, [0.949, 0.51]);
    expectValues(s2, [0.8776255, 0.713745]);
    // without firstStep, a zero buffer is damped on step one: v = 0.5 · 0.51
    const w = T([1], [1]), v = T([0], [1]);
    sgdUpdate(w, T([0.5], [1]), v, { ...ref, ...hp, dampening: 0.5 });
    expectValues(v, [0.255]);
  });
  it("'pytorch' without momentum leaves v alone", () => {
    const w = T([1], [1]), v = T([7], [1]);
    sgdUpdate(w, T([0.5], [1]), v, { ...ref, lr: 0.1, weightDecay: 0.01, firstStep: true });
    expectValues(w, [0.949]);
    expectValues(v, [7]);
  });
  it("'paper': v = μv − lr·wd·w − lr·g, w += v (same trajectory as 'pytorch' at constant lr)", () => {
    const [s1, s2] = twoSteps({ ...hp, rule: 'paper' });
    expectValues(s1, [0.949, -0.051]);
    expectValues(s2, [0.852151, -0.096849]);
  });
});

describe('element-wise', () => {
  it('add, mul, scale, axpy (in place)', () => {
    const a = T([1, 2, 3], [3]), b = T([4, 5, 6], [3]);
    expectValues(add(a, b, ref), [5, 7, 9]);
    expectValues(mul(a, b, ref), [4, 10, 18]);
    expectValues(scale(a, -2, ref), [-2, -4, -6]);
    expect(add(a, b, { ...ref, out: a })).toBe(a);
    expectValues(a, [5, 7, 9]);
    expectValues(axpy(0.5, b, a, ref), [7, 9.5, 12]);
  });
  it('sumAndSquares accumulates in float64', () => {
    // In float32, 1e8 + 1 rounds back to 1e8, so a float32 sum would be 0.
    const { sum, sumSquares } = sumAndSquares(T([1e8, 1, -1e8], [3]), ref);
    expect(sum).toBe(1);
    expect(sumSquares).toBe(Math.fround(2e16)); // the [2] output is float32
  });
});

describe('outputs are overwritten, never accumulated into (layers reuse their buffers)', () => {
  const junk = (shape: readonly number[]) => Tensor.full(shape, NaN);
  const same = (got: Tensor, want: Tensor) => expectValues(got, want.data, 0);
  it('conv2d and its three backward kernels', () => {
    const opts = { ...ref, stride: 2, padding: 1, groups: 2, sizeRule: 'ceil' as const };
    const x = randn([2, 4, 7, 6]), w = randn([6, 2, 3, 3]), b = randn([6]);
    const y = conv2d(x, w, b, opts), dy = randn(y.shape as number[]);
    same(conv2d(x, w, b, { ...opts, out: junk(y.shape) }), y);
    same(conv2dBackwardInput(dy, w, x.shape, { ...opts, out: junk(x.shape) }), conv2dBackwardInput(dy, w, x.shape, opts));
    same(conv2dBackwardWeight(x, dy, w.shape, { ...opts, out: junk(w.shape) }), conv2dBackwardWeight(x, dy, w.shape, opts));
    same(conv2dBackwardBias(dy, { ...ref, out: junk([6]) }), conv2dBackwardBias(dy, ref));
  });
  it('pooling and LRN backward kernels', () => {
    const x = randn([1, 3, 7, 7]);
    const p = { ...ref, kernel: 3, stride: 2, padding: 1, sizeRule: 'ceil' as const };
    const dy = randn(maxPool2d(x, p).shape as number[]);
    same(maxPool2dBackward(x, dy, { ...p, out: junk(x.shape) }), maxPool2dBackward(x, dy, p));
    same(avgPool2dBackward(dy, x.shape, { ...p, out: junk(x.shape) }), avgPool2dBackward(dy, x.shape, p));
    const ady = randn([1, 3, 3, 3]);
    same(adaptiveAvgPool2dBackward(ady, x.shape, { ...ref, out: junk(x.shape) }), adaptiveAvgPool2dBackward(ady, x.shape, ref));
    const { y, scale: s } = lrn(x, ref), ldy = randn([1, 3, 7, 7]);
    same(lrnBackward(x, y, s, ldy, { ...ref, out: junk(x.shape) }), lrnBackward(x, y, s, ldy, ref));
  });
});

describe('argument errors name the op and the argument', () => {
  /** Runs f, expecting an OpError from `op` about `arg` whose message contains every fragment. */
  function expectOpError(f: () => unknown, op: string, arg: string, ...fragments: string[]): void {
    let err: unknown;
    try { f(); } catch (e) { err = e; }
    expect(err, `${op} should have thrown`).toBeInstanceOf(OpError);
    const e = err as OpError;
    expect([e.op, e.argument]).toEqual([op, arg]);
    expect(e.message.startsWith(`${op}: argument '${arg}': expected `)).toBe(true);
    for (const fr of fragments) expect(e.message).toContain(fr);
  }
  const x = Tensor.zeros([2, 4, 6, 6]), w = Tensor.zeros([6, 2, 3, 3]);

  it('wrong rank', () => {
    expectOpError(() => conv2d(Tensor.zeros([4, 6, 6]), w, null, ref), 'conv2d', 'x', 'rank-4', '[4, 6, 6]');
    expectOpError(() => maxPool2d(Tensor.zeros([4, 6]), { ...ref, kernel: 2 }), 'maxPool2d', 'x', 'rank-4');
    expectOpError(() => matmul(Tensor.zeros([2, 3, 1]), Tensor.zeros([3, 2]), ref), 'matmul', 'a', 'rank-2');
    expectOpError(() => softmax(Tensor.zeros([5]), ref), 'softmax', 'x', 'rank-2');
  });
  it('mismatched shapes', () => {
    expectOpError(() => conv2d(x, w, Tensor.zeros([5]), { ...ref, groups: 2 }), 'conv2d', 'b', 'shape [6]', 'shape [5]');
    expectOpError(() => conv2d(x, Tensor.zeros([6, 3, 3, 3]), null, ref), 'conv2d', 'w', '[6, 3, 3, 3]');
    expectOpError(() => conv2dBackwardInput(Tensor.zeros([2, 6, 5, 5]), w, [2, 4, 6, 6], { ...ref, groups: 2 }), 'conv2dBackwardInput', 'dy', '[2, 6, 4, 4]');
    expectOpError(() => matmul(Tensor.zeros([2, 3]), Tensor.zeros([4, 2]), ref), 'matmul', 'b', '3');
    expectOpError(() => mul(Tensor.zeros([2, 3]), Tensor.zeros([3, 2]), ref), 'mul', 'b', 'shape [2, 3]', 'shape [3, 2]');
    const s = Tensor.zeros([1, 3, 2, 2]);
    expectOpError(() => lrnBackward(s, s, s, Tensor.zeros([1, 3, 2, 1]), ref), 'lrnBackward', 'dy', '[1, 3, 2, 2]');
    expectOpError(() => sgdUpdate(Tensor.zeros([3]), Tensor.zeros([3]), Tensor.zeros([4]), { ...ref, lr: 0.1 }), 'sgdUpdate', 'v', 'shape [3]');
    expectOpError(() => softmaxCrossEntropy(Tensor.zeros([2, 3]), [0, 3], ref), 'softmaxCrossEntropy', 'labels[1]', '[0, 3)');
    expectOpError(() => softmaxCrossEntropy(Tensor.zeros([2, 3]), [0], ref), 'softmaxCrossEntropy', 'labels', '2 labels');
    // 2^32 + 1 would wrap to class 1 in an Int32Array; 1.5 would truncate to 1
    expectOpError(() => softmaxCrossEntropy(Tensor.zeros([2, 3]), [0, 2 ** 32 + 1], ref), 'softmaxCrossEntropy', 'labels[1]', '4294967297');
    expectOpError(() => softmaxCrossEntropy(Tensor.zeros([2, 3]), [1.5, 0], ref), 'softmaxCrossEntropy', 'labels[0]', '1.5');
  });
  it('groups must divide the channels', () => {
    expectOpError(() => conv2d(Tensor.zeros([1, 3, 5, 5]), Tensor.zeros([4, 1, 3, 3]), null, { ...ref, groups: 2 }), 'conv2d', 'groups', 'input channels (3)');
    expectOpError(() => conv2d(x, Tensor.zeros([3, 2, 3, 3]), null, { ...ref, groups: 2 }), 'conv2d', 'groups', 'output channels (3)');
    expect(() => conv2dInfo('conv2d', [1, 4, 5, 5], [4, 2, 3, 3], { groups: 0 })).toThrow("conv2d: argument 'groups'");
  });
  it('non-float32 data', () => {
    const f64 = new Float64Array(2 * 4 * 6 * 6);
    expectOpError(() => conv2d(f64 as unknown as Tensor, w, null, ref), 'conv2d', 'x', 'float32', 'Float64Array');
    expectOpError(() => relu32(new Int32Array(4)), 'activation', 'x', 'Int32Array');
    expectOpError(() => new Tensor(f64 as unknown as Float32Array, [2, 4, 6, 6]), 'Tensor', 'data', 'Float32Array', 'Float64Array');
  });
  it('negative padding, zero stride, padding over half the window, kernel larger than the input', () => {
    expectOpError(() => conv2d(x, w, null, { ...ref, groups: 2, padding: -1 }), 'conv2d', 'padding[0]', '-1');
    expectOpError(() => maxPool2d(x, { ...ref, kernel: 3, padding: [1, -2] }), 'maxPool2d', 'padding[1]', '-2');
    expectOpError(() => avgPool2d(x, { ...ref, kernel: 3, stride: 0 }), 'avgPool2d', 'stride[0]', '0');
    expectOpError(() => maxPool2d(x, { ...ref, kernel: 3, padding: 2 }), 'maxPool2d', 'padding', 'half');
    expectOpError(() => conv2d(Tensor.zeros([1, 1, 2, 2]), Tensor.zeros([1, 1, 3, 3]), null, ref), 'conv2d', 'x', '3×3');
  });
  it('bad attributes', () => {
    expectOpError(() => activation(x, 'gelu' as ActivationFn, ref), 'activation', 'fn', "'relu'");
    expectOpError(() => dropout(x, { ...ref, p: 1, rng: new Rng(0) }), 'dropout', 'p', '[0, 1)');
    expectOpError(() => sgdUpdate(Tensor.zeros([3]), Tensor.zeros([3]), Tensor.zeros([3]), { ...ref, lr: 0.1, nesterov: true }), 'sgdUpdate', 'nesterov', 'momentum > 0');
    expectOpError(() => lrn(x, { ...ref, k: 0 }), 'lrn', 'k', 'positive');
  });
  it('a disposed tensor', () => {
    const t = Tensor.zeros([2, 2]);
    t.dispose();
    expectOpError(() => softmax(t, ref), 'softmax', 'x', 'a live Tensor');
  });
});

function relu32(v: unknown) {
  return activation(v as Tensor, 'relu', ref);
}
