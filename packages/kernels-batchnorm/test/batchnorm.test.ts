// @convnet/kernels-batchnorm against its `ref` kernels (the published conformance suite, on cpu and the CUDA
// kernels' host emulator), against finite differences (float64) and against PyTorch 1.13 (test/make_fixture.py).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor, hasKernel, listBackends, registerBackend, resolveKernel, type Shape } from '@convnet/tensor';
import { describeConformance, expectClose, gradError, type ConformanceCase } from '@convnet/tensor/testing';
import { Conv2d, CrossEntropyLoss, Flatten, Linear, ReLU, Sequential } from '@convnet/layers';
import { SGD } from '@convnet/optim';
import { createCudaBackend } from '@convnet/cuda';
import {
  BatchNorm2d, batchNorm2d, batchNorm2dBackward, batchNorm2dInference, batchNormBackwardCore, batchNormInferenceCore,
  batchNormTrainCore, registerBatchNorm,
} from '../src/index.js';

registerBackend(createCudaBackend({ emulator: true }));
const registered = registerBatchNorm();
const KERNELS = ['batchNorm2d', 'batchNorm2dInference', 'batchNorm2dBackward'];

const rng = new Rng(5);
const randn = (shape: number[], s = 1, m = 0) => new Tensor(Float32Array.from(rng.normal(shape.reduce((a, b) => a * b, 1)), (v) => v * s + m), shape);

// ------------------------------------------------------------------ conformance (published suite) vs ref
const shapes: [string, number[]][] = [
  ['[4,3,5,7]', [4, 3, 5, 7]], ['batch 1 [1,6,4,4]', [1, 6, 4, 4]], ['1x1 planes [9,5,1,1]', [9, 5, 1, 1]],
  ['AlexNet conv2 size [2,64,13,13], mean 3', [2, 64, 13, 13]],
];
const cases: ConformanceCase[] = shapes.map(([name, shape]) => ({
  name: `batch norm train/eval/backward ${name}`,
  kernels: KERNELS,
  run: (backend) => {
    const c = shape[1];
    const x = randn(shape, 2, 3), w = randn([c]), b = randn([c]), dy = randn(shape);
    const rm = randn([c]), rv = new Tensor(Float32Array.from({ length: c }, (_, i) => 0.5 + i / c), [c]);
    const runs = ['ref', backend].map((be) => {
      const m = rm.clone(), v = rv.clone();
      const f = batchNorm2d(x, w, b, m, v, { backend: be, momentum: 0.2 });
      const g = batchNorm2dBackward(x, dy, w, f.saveMean, f.saveInvStd, { backend: be });
      const e = batchNorm2dInference(x, w, b, m, v, { backend: be, eps: 1e-3 });
      return { ...f, ...g, m, v, e };
    });
    const [want, got] = runs;
    for (const k of ['y', 'saveMean', 'saveInvStd', 'm', 'v', 'e', 'dx', 'dweight', 'dbias'] as const)
      expectClose(`${backend} ${k}`, got[k], want[k], 1e-5, 1e-5);
  },
}));
describeConformance({ backends: ['cpu', 'cuda-host'], builtins: false, cases, require: KERNELS });

describe('registration', () => {
  it('cpu and cuda-host run the kernels natively; a backend without them falls back to ref', () => {
    expect(registered.native).toEqual(expect.arrayContaining(['ref', 'cpu', 'cuda-host']));
    for (const b of ['cpu', 'cuda-host']) for (const k of KERNELS) expect(hasKernel(k, b)).toBe(true);
    registerBackend({ name: 'bare', kernels: {} });
    expect(resolveKernel('batchNorm2d', 'bare')?.backend).toBe('ref');
    expect(listBackends()).toContain('bare');
  });

  it('a CUDA backend registered later gets the kernels through the plugin hook (the trainer calls it for --device)', async () => {
    const { convnetPlugin } = await import('../src/index.js');
    registerBackend(createCudaBackend({ emulator: true, name: 'cuda-host-later' }));
    expect(hasKernel('batchNorm2d', 'cuda-host-later')).toBe(false);
    convnetPlugin.onBackend('cuda-host-later');
    for (const k of KERNELS) expect(hasKernel(k, 'cuda-host-later')).toBe(true);
    const x = randn([3, 4, 5, 5]), w = randn([4]), b = randn([4]);
    const ref = batchNorm2d(x, w, b, Tensor.zeros([4]), Tensor.zeros([4]), { backend: 'ref' }).y;
    expectClose('cuda-host-later', batchNorm2d(x, w, b, Tensor.zeros([4]), Tensor.zeros([4]), { backend: 'cuda-host-later' }).y, ref, 1e-5, 1e-5);
  });

  it('bad arguments are one-line errors naming the op and argument', () => {
    const x = randn([2, 3, 4, 4]);
    expect(() => batchNorm2d(x, randn([2]), randn([3]), randn([3]), randn([3]))).toThrow("batchNorm2d: argument 'weight': expected shape [3] (one value per channel of x), got shape [2]");
    expect(() => batchNorm2d(randn([2, 3, 4]), randn([3]), randn([3]), randn([3]), randn([3]))).toThrow("batchNorm2d: argument 'x': expected a rank-4 tensor [n, c, h, w], got shape [2, 3, 4]");
    expect(() => batchNorm2d(x, randn([3]), randn([3]), randn([3]), randn([3]), { momentum: 2 })).toThrow("batchNorm2d: argument 'momentum': expected a number in [0, 1], got 2");
    expect(() => new BatchNorm2d(3).forward(randn([2, 4, 3, 3]))).toThrow("BatchNorm2d: argument 'input': expected shape [n, 3, h, w], got [2, 4, 3, 3]");
  });
});

// ------------------------------------------------------------------ gradients by finite differences (float64)
describe('gradient check of the ref kernels (float64 central differences)', () => {
  for (const shape of [[3, 2, 3, 2], [1, 3, 2, 2], [4, 1, 1, 1]]) {
    it(`batchNorm2dBackward on [${shape}]: dx through the batch statistics, dweight, dbias`, () => {
      const [n, c, h, w] = shape, d = { n, c, plane: h * w }, size = n * c * h * w;
      const f64 = (k: number, s = 1) => Float64Array.from(rng.normal(k), (v) => v * s);
      const x = f64(size, 2), weight = f64(c), bias = f64(c);
      const mean = new Float64Array(c), inv = new Float64Array(c);
      const fwd = (xx: Float64Array, ww: Float64Array, bb: Float64Array, y: Float64Array) =>
        batchNormTrainCore(xx, ww, bb, y, new Float64Array(c), new Float64Array(c), d, 1e-5);
      batchNormTrainCore(x, weight, bias, new Float64Array(size), mean, inv, d, 1e-5);
      const back = (r: Float64Array) => {
        const dx = new Float64Array(size), dw = new Float64Array(c), db = new Float64Array(c);
        batchNormBackwardCore(x, r, weight, mean, inv, dx, dw, db, d);
        return { dx, dw, db };
      };
      expect(gradError('dx', x, size, (xx, y) => fwd(xx, weight, bias, y), (r, dx) => dx.set(back(r).dx))).toBeLessThan(1e-6);
      expect(gradError('dweight', weight, size, (ww, y) => fwd(x, ww, bias, y), (r, dw) => dw.set(back(r).dw))).toBeLessThan(1e-6);
      expect(gradError('dbias', bias, size, (bb, y) => fwd(x, weight, bb, y), (r, db) => db.set(back(r).db))).toBeLessThan(1e-6);
      // inference is affine in x: d/dx = weight / √(var + eps)
      const rm = f64(c), rv = Float64Array.from(f64(c), (v) => 1 + v * v);
      expect(gradError('inference dx', x, size, (xx, y) => batchNormInferenceCore(xx, weight, bias, rm, rv, y, d, 1e-5), (r, dx) => {
        for (let i = 0; i < size; i++) { const ch = Math.floor(i / (h * w)) % c; dx[i] = r[i] * weight[ch] / Math.sqrt(rv[ch] + 1e-5); }
      })).toBeLessThan(1e-6);
    });
  }
});

// ------------------------------------------------------------------ PyTorch fixture
type Fx = { shape: number[]; data: number[] };
interface BnCase {
  name: string; momentum: number; eps: number; init: { weight: Fx; bias: Fx };
  train: { x: Fx; dy: Fx; y: Fx; dx: Fx; dweight: Fx; dbias: Fx; running_mean: Fx; running_var: Fx }[];
  eval: { x: Fx; y: Fx }; state_dict_keys: string[];
}
const fixture: { torch: string; cases: BnCase[] } = JSON.parse(readFileSync(new URL('./fixtures/batchnorm.json', import.meta.url), 'utf8'));
const T = (f: Fx) => Tensor.from(f.data, f.shape as Shape);

describe(`PyTorch ${fixture.torch} BatchNorm2d`, () => {
  for (const backend of ['ref', 'cpu', 'cuda-host']) {
    for (const c of fixture.cases) {
      it(`${backend}: ${c.name}: two training steps (y, gradients, running stats), then eval`, () => {
        const bn = new BatchNorm2d(c.init.weight.shape[0], { eps: c.eps, momentum: c.momentum });
        bn.backend = backend;
        bn.weight.value.copyFrom(T(c.init.weight));
        bn.bias.value.copyFrom(T(c.init.bias));
        for (const [i, s] of c.train.entries()) {
          expectClose(`step ${i} y`, bn.forward(T(s.x)), T(s.y), 1e-4, 1e-5);
          expectClose(`step ${i} running_mean`, bn.runningMean, T(s.running_mean), 1e-5, 1e-6);
          expectClose(`step ${i} running_var`, bn.runningVar, T(s.running_var), 1e-5, 1e-6);
          expectClose(`step ${i} dx`, bn.backward(T(s.dy)), T(s.dx), 1e-4, 1e-4);
          expectClose(`step ${i} dweight`, bn.weight.grad, T(s.dweight), 1e-4, 1e-4);
          expectClose(`step ${i} dbias`, bn.bias.grad, T(s.dbias), 1e-4, 1e-5);
        }
        bn.eval();
        expectClose('eval y', bn.forward(T(c.eval.x)), T(c.eval.y), 1e-4, 1e-5);
        expect(() => bn.backward(T(c.eval.x))).toThrow('BatchNorm2d.backward in eval mode is not supported');
        // PyTorch's state dict, less num_batches_tracked (PyTorch fills it in when loading a dict without it)
        expect([...bn.stateDict().keys()].sort()).toEqual(c.state_dict_keys.filter((k) => k !== 'num_batches_tracked'));
      });
    }
  }
});

// ------------------------------------------------------------------ the layer's buffers
describe('BatchNorm2d buffers', () => {
  it('reuses its output, statistics and input-gradient tensors from step to step (no per-step allocation)', () => {
    const bn = new BatchNorm2d(4);
    const x = randn([3, 4, 5, 5]), dy = randn([3, 4, 5, 5]);
    const y1 = bn.forward(x), dx1 = bn.backward(dy);
    const g1 = bn.weight.grad, y2 = bn.forward(randn([3, 4, 5, 5])), dx2 = bn.backward(dy);
    expect(y2).toBe(y1);
    expect(dx2).toBe(dx1);
    expect(bn.weight.grad).toBe(g1);
    bn.eval();
    expect(bn.forward(x)).toBe(y1);
  });
});

// ------------------------------------------------------------------ the layer in a net
describe('BatchNorm2d in a small conv net', () => {
  it('state dict round trip carries the running statistics; a short SGD run decreases the loss', () => {
    const make = () => new Sequential([
      new Conv2d(1, 8, 3, { padding: 1, rng: new Rng(1) }), new BatchNorm2d(8), new ReLU({ inplace: true }),
      new Flatten(), new Linear(8 * 6 * 6, 3, { rng: new Rng(2) }),
    ]);
    const net = make();
    const data = new Rng(3);
    const x = new Tensor(Float32Array.from(data.normal(24 * 36)), [24, 1, 6, 6]);
    const labels = Int32Array.from({ length: 24 }, (_, i) => i % 3);
    for (let i = 0; i < 24; i++) for (let k = 0; k < 36; k++) x.data[i * 36 + k] += (labels[i] - 1) * (k % 6) * 0.3;
    const loss = new CrossEntropyLoss();
    const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      const r = loss.forward(net.forward(x), labels);
      losses.push(r.loss);
      net.backward(loss.backward());
      opt.step();
    }
    expect(losses[29]).toBeLessThan(0.5 * losses[0]);
    const sd = net.stateDict();
    expect([...sd.keys()]).toEqual(['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '4.bias', '1.running_mean', '1.running_var']);
    const copy = make();
    copy.loadStateDict(sd);
    net.eval();
    copy.eval();
    expectClose('eval outputs of the reloaded net', copy.forward(x), net.forward(x), 0, 0);
  });
});

// ------------------------------------------------------------------ alexnet-bn vs the matching PyTorch module
describe('alexnet-bn (the trainer plugin) against PyTorch AlexNetBN', () => {
  const fx = (fixture as unknown as { alexnet_bn: { state_dict: [string, number[]][]; x: Fx; logits: Fx } }).alexnet_bn;

  it('has the PyTorch state dict (names and shapes, less num_batches_tracked) and computes the same logits in eval mode', async () => {
    const { createModel, registerModel } = await import('@convnet/alexnet');
    const { convnetPlugin } = await import('../src/index.js');
    expect(convnetPlugin.register({ registerModel }).models).toEqual(['alexnet-bn', 'small-bn']);
    const net = createModel('alexnet-bn', { channels: 1, imageSize: 28, numClasses: 10, seed: 1 });
    const sd = net.stateDict();
    const want = fx.state_dict.filter(([k]) => !k.endsWith('num_batches_tracked'));
    expect(new Map([...sd].map(([k, v]) => [k, [...v.shape]]))).toEqual(new Map(want));
    // the fixture's weights: value_i = sin(0.7·i + 1.3·k), k = the key's index in sorted order (make_fixture.py)
    const keys = [...sd.keys()].sort();
    const filled = new Map<string, Tensor>();
    keys.forEach((key, k) => {
      const t = sd.get(key)!;
      const n = t.size, fan = n / t.shape[0];
      const v = Float32Array.from({ length: n }, (_, i) => {
        const b = Math.sin(0.7 * i + 1.3 * k);
        if (key.endsWith('running_var')) return 1 + 0.5 * Math.abs(b);
        if (key.endsWith('running_mean') || key.endsWith('bias')) return 0.1 * b;
        if (t.rank === 1) return 1 + 0.1 * b;
        return b / Math.sqrt(fan);
      });
      filled.set(key, new Tensor(v, t.shape));
    });
    net.loadStateDict(filled);  // strict: every name present, none extra, shapes equal
    net.eval();
    expectClose('alexnet-bn logits', net.forward(T(fx.x)), T(fx.logits), 1e-3, 1e-4);
  });
});
