// The built-in kernels' conformance cases: each runs a kernel on `backend` and on `ref` for seeded random
// inputs (odd sizes, groups, stride, padding, batch 1, ties, NaN) and compares within atol + rtol·|ref|
// (tolerances grow with the reduction length).
import { expect } from 'vitest';
import {
  Rng, Tensor, activation, activationBackward, adaptiveAvgPool2d, adaptiveAvgPool2dBackward, add,
  avgPool2d, avgPool2dBackward, axpy, biasAdd, conv2d, conv2dBackwardBias, conv2dBackwardInput,
  conv2dBackwardWeight, dropout, lrn, lrnBackward, matmul, maxPool2d, maxPool2dBackward,
  mul, scale, sgdUpdate, softmax, softmaxCrossEntropy, sumAndSquares, softmaxBackward, adamUpdate, type ActivationFn, type KernelName,
} from '../index.js';
import { expectClose, type ConformanceCase } from './compare.js';

/** The cases for every built-in kernel; inputs are drawn in order from one Rng(seed) as the cases run. */
export function builtinConformanceCases(seed = 77): ConformanceCase[] {
  const rng = new Rng(seed);
  const randn = (shape: number[], s = 1) => new Tensor(rng.normal(shape.reduce((a, b) => a * b, 1), 0, s), shape);
  const cases: ConformanceCase[] = [];
  const it = (name: string, kernels: KernelName[], run: (backend: string) => void) => cases.push({ name, kernels, run });

  it('gemm: all transposes, beta != 0, odd sizes', ['gemm'], (backend) => {
    for (const [M, N, K] of [[1, 1, 1], [3, 7, 13], [27, 55, 13], [64, 33, 129], [7, 1, 300]]) {
      for (const transA of [false, true]) for (const transB of [false, true]) {
        const a = randn(transA ? [K, M] : [M, K]), b = randn(transB ? [N, K] : [K, N]);
        const c0 = randn([M, N]);
        const opts = { transA, transB, alpha: 0.7, beta: 0.3 };
        const want = matmul(a, b, { ...opts, out: c0.clone(), backend: 'ref' });
        const got = matmul(a, b, { ...opts, out: c0.clone(), backend });
        expectClose(`gemm ${M}x${N}x${K} tA=${transA} tB=${transB}`, got, want, 1e-4, 1e-5 * Math.sqrt(K));
      }
    }
  });

  const convCases: [string, number[], number[], Parameters<typeof conv2d>[3]][] = [
    ['1x1', [2, 3, 5, 5], [4, 3, 1, 1], {}],
    ['3x3 pad 1 odd', [1, 7, 13, 13], [5, 7, 3, 3], { padding: 1 }],
    ['11x11 stride 4 (conv1)', [2, 3, 55, 55], [8, 3, 11, 11], { stride: 4 }],
    ['5x5 pad 2 groups 2 (conv2)', [3, 8, 27, 27], [6, 4, 5, 5], { padding: 2, groups: 2 }],
    ['stride 2 ceil rule', [1, 2, 7, 9], [3, 2, 3, 3], { stride: 2, sizeRule: 'ceil' }],
    ['batch 1, rectangular, stride [2,1]', [1, 3, 13, 7], [2, 3, 3, 2], { stride: [2, 1], padding: [1, 0] }],
    // conv1's geometry at full size: the one-image-per-thread path does im2col in blocks of output rows
    ['conv1 227x227 11x11/4, column blocks', [2, 3, 227, 227], [4, 3, 11, 11], { stride: 4 }],
    ['11x11/4 pad 2 ceil rule, 3 images (2 per thread + 1 on all threads)', [3, 3, 30, 27], [5, 3, 11, 11], { stride: 4, padding: 2, sizeRule: 'ceil' }],
    ['padding wider than the input (1x1 input, 3x3 pad 2)', [2, 2, 1, 1], [3, 2, 3, 3], { padding: 2 }],
    ['1x1 groups 2 (pointwise, GEMM straight on x)', [3, 4, 7, 5], [6, 2, 1, 1], { groups: 2 }],
    ['1x1 stride 2 groups 2, batch 1', [1, 4, 7, 7], [2, 2, 1, 1], { stride: 2, groups: 2 }],
  ];
  for (const [name, xs, ws, opts] of convCases) {
    it(`conv2d forward/backward: ${name}`, ['conv2d', 'conv2dBackwardInput', 'conv2dBackwardWeight', 'conv2dBackwardBias'], (backend) => {
      const x = randn(xs), w = randn(ws, 0.2), b = randn([ws[0]]);
      const K = ws[1] * ws[2] * ws[3];
      const y = conv2d(x, w, b, { ...opts, backend: 'ref' });
      expectClose('conv2d', conv2d(x, w, b, { ...opts, backend }), y, 1e-4, 1e-5 * Math.sqrt(K));
      expectClose('conv2d no bias', conv2d(x, w, null, { ...opts, backend }), conv2d(x, w, null, { ...opts, backend: 'ref' }), 1e-4, 1e-5 * Math.sqrt(K));
      const dy = randn(y.shape as number[]);
      expectClose('conv2dBackwardInput', conv2dBackwardInput(dy, w, xs, { ...opts, backend }), conv2dBackwardInput(dy, w, xs, { ...opts, backend: 'ref' }), 1e-4, 1e-4);
      const P = y.shape[0] * y.shape[2] * y.shape[3];
      expectClose('conv2dBackwardWeight', conv2dBackwardWeight(x, dy, ws, { ...opts, backend }), conv2dBackwardWeight(x, dy, ws, { ...opts, backend: 'ref' }), 1e-4, 1e-5 * Math.sqrt(P));
      expectClose('conv2dBackwardBias', conv2dBackwardBias(dy, { backend }), conv2dBackwardBias(dy, { backend: 'ref' }), 1e-4, 1e-5 * Math.sqrt(P));
    });
  }

  it('biasAdd on [n, c] and [n, c, h, w], in place', ['biasAdd'], (backend) => {
    for (const shape of [[5, 7], [2, 3, 4, 5]]) {
      const x = randn(shape), b = randn([shape[1]]);
      expectClose('biasAdd', biasAdd(x, b, { backend }), biasAdd(x, b, { backend: 'ref' }));
      const x2 = x.clone();
      biasAdd(x2, b, { backend, out: x2 });
      expectClose('biasAdd in place', x2, biasAdd(x, b, { backend: 'ref' }));
    }
  });

  const poolCases: [string, number[], Parameters<typeof maxPool2d>[1]][] = [
    ['3/2 (AlexNet) 55', [2, 3, 55, 55], { kernel: 3, stride: 2 }],
    ['3/2 ceil 28', [1, 4, 28, 28], { kernel: 3, stride: 2, sizeRule: 'ceil' }],
    ['3/2 pad 1 odd', [1, 2, 13, 7], { kernel: 3, stride: 2, padding: 1 }],
    ['2x2/2', [3, 1, 7, 7], { kernel: 2 }],
    ['batch 1, 1x1 input', [1, 5, 1, 1], { kernel: 1 }],
  ];
  for (const [name, xs, opts] of poolCases) {
    it(`pooling: ${name}`, ['maxPool2d', 'maxPool2dBackward', 'avgPool2d', 'avgPool2dBackward'], (backend) => {
      const x = randn(xs);
      const y = maxPool2d(x, { ...opts, backend: 'ref' });
      expectClose('maxPool2d', maxPool2d(x, { ...opts, backend }), y, 0, 0);
      const dy = randn(y.shape as number[]);
      expectClose('maxPool2dBackward', maxPool2dBackward(x, dy, { ...opts, backend }), maxPool2dBackward(x, dy, { ...opts, backend: 'ref' }));
      for (const countIncludePad of [true, false]) {
        const o = { ...opts, countIncludePad };
        expectClose('avgPool2d', avgPool2d(x, { ...o, backend }), avgPool2d(x, { ...o, backend: 'ref' }));
        expectClose('avgPool2dBackward', avgPool2dBackward(dy, xs, { ...o, backend }), avgPool2dBackward(dy, xs, { ...o, backend: 'ref' }));
      }
    });
  }

  it('max pooling with ties, -0/+0, -Infinity and NaN (first maximum in scan order; NaN wins)', ['maxPool2d', 'maxPool2dBackward'], (backend) => {
    for (const [xs, opts] of [
      [[2, 3, 13, 11], { kernel: 3, stride: 2 }],
      [[1, 2, 9, 9], { kernel: 3, stride: 2, padding: 1, sizeRule: 'ceil' }],
      [[1, 1, 6, 6], { kernel: [2, 3], stride: [1, 2] }],
    ] as [number[], Parameters<typeof maxPool2d>[1]][]) {
      const x = randn(xs);
      for (let i = 0; i < x.size; i++) x.data[i] = Math.round(x.data[i] * 1.5);  // many equal values
      x.data[1] = -0;
      x.data[4] = -Infinity;
      const planes = xs[0] * xs[1], plane = xs[2] * xs[3];
      x.data[plane * (planes - 1) + 7] = NaN;  // one NaN in the last plane
      x.data[plane * (planes - 1) + 9] = NaN;
      const y = maxPool2d(x, { ...opts, backend: 'ref' });
      expectClose('maxPool2d ties', maxPool2d(x, { ...opts, backend }), y, 0, 0);
      const dy = randn(y.shape as number[]);
      expectClose('maxPool2dBackward ties', maxPool2dBackward(x, dy, { ...opts, backend }),
        maxPool2dBackward(x, dy, { ...opts, backend: 'ref' }), 1e-6, 1e-7);
    }
  });

  it('adaptive average pooling: 13->6, 6->6, 5->3, 7->1', ['adaptiveAvgPool2d', 'adaptiveAvgPool2dBackward'], (backend) => {
    for (const [h, o] of [[13, 6], [6, 6], [5, 3], [7, 1]]) {
      const x = randn([2, 3, h, h]);
      const y = adaptiveAvgPool2d(x, o, { backend: 'ref' });
      expectClose('adaptiveAvgPool2d', adaptiveAvgPool2d(x, o, { backend }), y);
      const dy = randn(y.shape as number[]);
      expectClose('adaptiveAvgPool2dBackward', adaptiveAvgPool2dBackward(dy, x.shape, { backend }), adaptiveAvgPool2dBackward(dy, x.shape, { backend: 'ref' }));
    }
  });

  for (const [name, xs, o] of [
    ['size 5 divide-by-size, 96 channels', [2, 96, 7, 5], { size: 5, alpha: 1e-2, beta: 0.75, k: 2, alphaMode: 'divide-by-size' }],
    ['size 5 paper, 27 channels', [1, 27, 3, 3], { size: 5, alpha: 1e-3, beta: 0.75, k: 2, alphaMode: 'paper' }],
    ['size 3, beta 0.6, 7 channels', [3, 7, 13, 1], { size: 3, alpha: 0.5, beta: 0.6, k: 1, alphaMode: 'divide-by-size' }],
    ['size 4 (even), 1 channel', [1, 1, 5, 5], { size: 4, alpha: 0.5, beta: 0.75, k: 1, alphaMode: 'paper' }],
    ['size 7 paper (AlexNet 55x55 plane), 40 channels', [1, 40, 55, 55], { size: 7, alpha: 1e-4, beta: 0.75, k: 2, alphaMode: 'paper' }],
    ['size 5 wider than 3 channels, beta 1', [2, 3, 3, 1], { size: 5, alpha: 0.3, beta: 1, k: 0.5, alphaMode: 'divide-by-size' }],
  ] as const) {
    it(`lrn: ${name}`, ['lrn', 'lrnBackward'], (backend) => {
      const x = randn([...xs], 3);
      const r = lrn(x, { ...o, backend: 'ref' }), c = lrn(x, { ...o, backend });
      expectClose('lrn y', c.y, r.y);
      expectClose('lrn scale', c.scale, r.scale);
      const dy = randn([...xs]);
      expectClose('lrnBackward', lrnBackward(x, r.y, r.scale, dy, { ...o, backend }), lrnBackward(x, r.y, r.scale, dy, { ...o, backend: 'ref' }), 1e-4, 1e-5);
    });
  }

  it('activations forward/backward, in place', ['activation', 'activationBackward'], (backend) => {
    for (const fn of ['relu', 'logistic', 'tanh', 'abs', 'softplus'] as ActivationFn[]) {
      const x = randn([3, 1001], 8);
      const y = activation(x, fn, { backend: 'ref' });
      expectClose(fn, activation(x, fn, { backend }), y, 1e-5, 1e-6);
      const dy = randn([3, 1001]);
      expectClose(`${fn} backward`, activationBackward(x, y, dy, fn, { backend }), activationBackward(x, y, dy, fn, { backend: 'ref' }), 1e-5, 1e-6);
      const inPlace = x.clone();
      activation(inPlace, fn, { backend, out: inPlace });
      expectClose(`${fn} in place`, inPlace, y, 1e-5, 1e-6);
    }
  });

  it('relu propagates NaN forward and passes its gradient, as PyTorch', ['activation', 'activationBackward'], (backend) => {
    const x = Tensor.from([NaN, -1, 2, 0]);
    const y = activation(x, 'relu', { backend });
    expect(Array.from(y.data)).toEqual([NaN, 0, 2, 0]);
    expect(Array.from(activationBackward(x, y, Tensor.from([1, 1, 1, 1]), 'relu', { backend }).data)).toEqual([1, 0, 1, 0]);
  });

  it('dropout: the mask is bit-identical to ref for the same seed and offset (large tensors too)', ['dropout', 'mul'], (backend) => {
    for (const [p, mode, n] of [[0.5, 'inverted', 100_003], [0.2, 'classic', 77]] as const) {
      const x = randn([n]);
      const r = dropout(x, { p, mode, rng: new Rng(9, 3, 5), backend: 'ref' });
      const c = dropout(x, { p, mode, rng: new Rng(9, 3, 5), backend });
      expect(c.mask.data).toEqual(r.mask.data);
      expect(c.y.data).toEqual(r.y.data);
      const dy = randn([n]);
      expectClose('mul (dropout backward)', mul(dy, c.mask, { backend }), mul(dy, r.mask, { backend: 'ref' }), 0, 0);
    }
  });

  it('softmax and softmax cross-entropy with top-1/top-5 hits', ['softmax', 'softmaxCrossEntropy'], (backend) => {
    for (const [n, classes] of [[1, 10], [7, 13], [128, 1000]]) {
      const x = randn([n, classes], 3);
      expectClose('softmax', softmax(x, { backend }), softmax(x, { backend: 'ref' }), 1e-4, 1e-7);
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % classes);
      const r = softmaxCrossEntropy(x, labels, { backend: 'ref' }), c = softmaxCrossEntropy(x, labels, { backend });
      expect(Math.abs(c.loss - r.loss)).toBeLessThan(1e-5 * Math.max(1, r.loss));
      expect([c.top1Hits, c.topkHits]).toEqual([r.top1Hits, r.topkHits]);
      expectClose('dlogits', c.dlogits, r.dlogits, 1e-4, 1e-7);
    }
  });

  it('sgdUpdate: both rules, nesterov, first step', ['sgdUpdate'], (backend) => {
    const cases = [
      { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, rule: 'pytorch' as const, firstStep: true },
      { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, rule: 'pytorch' as const },
      { lr: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true },
      { lr: 0.1, momentum: 0, weightDecay: 0 },
      { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, rule: 'paper' as const },
      { lr: 0.05, momentum: 0.5, dampening: 0.1 },
    ];
    for (const o of cases) {
      const w = randn([1003]), g = randn([1003]), v = randn([1003]);
      const wr = w.clone(), vr = v.clone();
      sgdUpdate(w, g, v, { ...o, backend });
      sgdUpdate(wr, g, vr, { ...o, backend: 'ref' });
      // float32 vs float64 on terms of order 1 that may cancel: the error scales with the terms, not the result
      expectClose(`sgd w ${JSON.stringify(o)}`, w, wr, 1e-6, 1e-6);
      expectClose(`sgd v ${JSON.stringify(o)}`, v, vr, 1e-6, 1e-6);
    }
  });

  it('softmaxBackward: odd class counts, batch 1', ['softmaxBackward'], (backend) => {
    for (const [n, c] of [[1, 1], [3, 10], [17, 1000]]) {
      const y = softmax(randn([n, c], 3), { backend: 'ref' }), dy = randn([n, c]);
      expectClose(`softmaxBackward ${n}x${c}`, softmaxBackward(y, dy, { backend }), softmaxBackward(y, dy, { backend: 'ref' }), 1e-6, 1e-5);
    }
  });

  it('adamUpdate: Adam and AdamW, first and later steps', ['adamUpdate'], (backend) => {
    const cases = [
      { lr: 1e-3, weightDecay: 0, step: 1 },
      { lr: 1e-2, weightDecay: 1e-2, step: 7 },
      { lr: 1e-3, beta1: 0.5, beta2: 0.99, eps: 1e-6, weightDecay: 1e-2, decoupled: true, step: 3 },
    ];
    for (const o of cases) {
      const w = randn([1003]), g = randn([1003]), m = randn([1003], 0.1);
      const v = new Tensor(randn([1003], 0.1).data.map((x) => x * x), [1003]);
      const [wr, mr, vr] = [w.clone(), m.clone(), v.clone()];
      adamUpdate(w, g, m, v, { ...o, backend });
      adamUpdate(wr, g, mr, vr, { ...o, backend: 'ref' });
      expectClose(`adam w ${JSON.stringify(o)}`, w, wr, 1e-6, 1e-6);
      expectClose(`adam m ${JSON.stringify(o)}`, m, mr, 1e-6, 1e-6);
      expectClose(`adam v ${JSON.stringify(o)}`, v, vr, 1e-6, 1e-6);
    }
  });

  it('add, scale, axpy, sumAndSquares', ['add', 'scale', 'axpy', 'sumAndSquares'], (backend) => {
    const a = randn([40_001]), b = randn([40_001]);
    expectClose('add', add(a, b, { backend }), add(a, b, { backend: 'ref' }), 0, 0);
    expectClose('scale', scale(a, -0.3, { backend }), scale(a, -0.3, { backend: 'ref' }), 1e-6, 0);
    const y1 = b.clone(), y2 = b.clone();
    axpy(0.25, a, y1, { backend });
    axpy(0.25, a, y2, { backend: 'ref' });
    expectClose('axpy', y1, y2, 1e-7, 1e-7);
    const s = sumAndSquares(a, { backend }), r = sumAndSquares(a, { backend: 'ref' });
    expect(s.sum).toBeCloseTo(r.sum, 2);
    expect(s.sumSquares / r.sumSquares).toBeCloseTo(1, 5);
  });

  it('results do not change from run to run (same thread count): conv gradients, LRN, sums', ['conv2dBackwardWeight', 'conv2dBackwardInput', 'conv2dBackwardBias', 'sumAndSquares'], (backend) => {
    const x = randn([5, 6, 15, 15]), w = randn([8, 3, 3, 3], 0.2);
    const opts = { padding: 1, groups: 2, backend };
    const dy = randn([5, 8, 15, 15]);
    const dw1 = conv2dBackwardWeight(x, dy, w.shape, opts), dw2 = conv2dBackwardWeight(x, dy, w.shape, opts);
    expect(dw2.data).toEqual(dw1.data);
    const dx1 = conv2dBackwardInput(dy, w, x.shape, opts), dx2 = conv2dBackwardInput(dy, w, x.shape, opts);
    expect(dx2.data).toEqual(dx1.data);
    const db1 = conv2dBackwardBias(dy, { backend }), db2 = conv2dBackwardBias(dy, { backend });
    expect(db2.data).toEqual(db1.data);
    const big = randn([300_001]);
    expect(sumAndSquares(big, { backend })).toEqual(sumAndSquares(big, { backend }));
  });

  return cases;
}
