// Contract C3 (memory belongs to the backend), checked with a fake device backend: its `alloc` makes a Tensor
// subclass and its kernels (the cpu ones underneath) refuse any tensor that alloc did not make. A training step
// of a net with towers, LRN, dropout and a softmax head then proves that layers' parameters, gradients and
// buffers, the loss gradient, containers' buffers and SGD/Adam state all come from the backend, and gives the
// cpu backend's numbers.
import { afterAll, describe, expect, it } from 'vitest';
import {
  KERNEL_NAMES, Rng, Tensor, alloc, isTensor, getBackend, memoryFor, memoryOf, registerBackend, reuseOrAlloc, setDefaultBackend,
  defaultBackend, type KernelTable,
} from '@convnet/tensor';
import {
  Conv2d, CrossEntropyLoss, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d, Parallel, ReLU, Sequential, type Module,
} from '@convnet/layers';
import { Adam, SGD } from '../src/index.js';

// views of device memory are device tensors (as CudaTensor's are)
class DevTensor extends Tensor {
  override reshape(shape: readonly number[]): DevTensor {
    const v = super.reshape(shape);
    return new DevTensor(v.data, v.shape);
  }

  override batch(start: number, end?: number): DevTensor {
    const v = super.batch(start, end);
    return new DevTensor(v.data, v.shape);
  }
}
const seen: string[] = [];
const cpu = getBackend('cpu');
const kernels: KernelTable = {};
for (const k of KERNEL_NAMES) {
  const impl = cpu.kernels[k] as ((i: object, a: object, o: object) => void) | undefined;
  if (!impl) continue;
  (kernels as Record<string, unknown>)[k] = (inputs: Record<string, unknown>, attrs: object, outputs: Record<string, unknown>) => {
    const scalarOut = k === 'softmaxCrossEntropy' || k === 'sumAndSquares';
    for (const [n, t] of Object.entries(inputs))
      if (isTensor(t) && !(t instanceof DevTensor)) seen.push(`${k}.${n}`);
    for (const [n, t] of Object.entries(outputs))
      if (isTensor(t) && !(t instanceof DevTensor) && !(scalarOut && n !== 'dlogits')) seen.push(`${k}.${n}`);
    impl(inputs, attrs, outputs);
  };
}
registerBackend({ name: 'fakedev', kernels, alloc: (shape) => new DevTensor(new Float32Array(shape.reduce((a, d) => a * d, 1)), shape) });
const before = defaultBackend();
afterAll(() => setDefaultBackend(before));

function net(backend: string): Module {
  const rng = new Rng(7);
  const tower = () => new Sequential([new Conv2d(2, 3, 3, { padding: 1, rng }), new ReLU({ inplace: true }), new LocalResponseNorm(3)]);
  const m = new Sequential([
    new Conv2d(3, 4, 3, { padding: 1, rng }), new ReLU(),
    new Parallel([tower(), tower()], { input: 'split' }), new MaxPool2d(2),
    new Flatten(), new Dropout(0.5, { rng: new Rng(3) }), new Linear(6 * 2 * 2, 5, { rng }),
  ]);
  m.backend = backend;
  return m;
}

function run(backend: string, opt: 'sgd' | 'adam'): { losses: number[]; w: number[] } {
  const m = net(backend);
  const o = opt === 'sgd'
    ? new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, backend })
    : new Adam(m.parameters(), { lr: 0.01, weightDecay: 1e-3, backend });
  const ce = new CrossEntropyLoss();
  ce.backend = backend;
  const data = new Rng(11).normal(4 * 3 * 4 * 4, 0, 1);
  const x = alloc([4, 3, 4, 4], backend).copyFrom(new Tensor(data, [4, 3, 4, 4]));
  const labels = Int32Array.from([0, 3, 1, 4]);
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) {
    const r = ce.forward(m.forward(x), labels);
    losses.push(r.loss);
    m.backward(ce.backward());
    o.step();
  }
  return { losses, w: Array.from(m.parameters()[0].value.data) };
}

describe('memory contract (C3)', () => {
  it('alloc uses the backend\'s allocator (zero-filled) and tags it; cpu gets plain host tensors', () => {
    const t = alloc([2, 3], 'fakedev');
    expect(t).toBeInstanceOf(DevTensor);
    expect(Array.from(t.data)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(memoryOf(t)).toBe('fakedev');
    expect(memoryFor('fakedev')).toBe('fakedev');
    const h = alloc([2], 'cpu');
    expect(Object.getPrototypeOf(h)).toBe(Tensor.prototype);
    expect(memoryOf(h)).toBe('host');
    expect(memoryFor('cpu')).toBe('host');
    expect(memoryFor('ref')).toBe('host');
    // a host buffer of the right shape is not reused for a device backend, and vice versa
    expect(reuseOrAlloc(h, [2], 'fakedev')).toBeInstanceOf(DevTensor);
    expect(reuseOrAlloc(h, [2], 'cpu')).toBe(h);
    expect(reuseOrAlloc(t, [2, 3], 'fakedev')).toBe(t);
  });

  for (const opt of ['sgd', 'adam'] as const) {
    it(`a training step with ${opt} hands the kernels only backend memory and equals cpu`, () => {
      seen.length = 0;
      const dev = run('fakedev', opt);
      expect([...new Set(seen)]).toEqual([]);
      const ref = run('cpu', opt);
      expect(dev.losses).toEqual(ref.losses);
      expect(dev.w).toEqual(ref.w);
      expect(new Set(ref.losses).size).toBe(3);  // the steps moved the weights
    });
  }

  it('parameters move with the backend; stateDict gives values, load writes into backend memory', () => {
    const m = net('cpu');
    const w0 = Array.from(m.parameters()[0].value.data);
    m.backend = 'fakedev';
    for (const p of m.parameters()) {
      expect(p.value).toBeInstanceOf(DevTensor);
      expect(p.grad).toBeInstanceOf(DevTensor);
    }
    expect(Array.from(m.parameters()[0].value.data)).toEqual(w0);
    const sd = m.stateDict();
    const m2 = net('fakedev');
    m2.loadStateDict(sd);
    expect(m2.parameters()[0].value).toBeInstanceOf(DevTensor);
    expect(Array.from(m2.parameters()[0].value.data)).toEqual(w0);
  });
});
