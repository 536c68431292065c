import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, Tensor } from '@convnet/tensor';
import {
  AdaptiveAvgPool2d, AvgPool2d, Conv2d, CrossEntropyLoss, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d,
  Module, Parallel, ReLU, Sequential, Sigmoid, Softmax, Softplus, Tanh, Abs, loadStateDictFile, parseSafetensors,
  saveSafetensors, serializeSafetensors,
} from '../src/index.js';

const rng = new Rng(11);
const randn = (shape: number[], s = 1) => new Tensor(rng.normal(shape.reduce((a, b) => a * b, 1), 0, s), shape);

function close(a: Tensor, b: Tensor, rtol = 1e-4, atol = 1e-5): void {
  expect(a.shape).toEqual(b.shape);
  let worst = 0;
  for (let i = 0; i < a.size; i++) worst = Math.max(worst, Math.abs(a.data[i] - b.data[i]) - rtol * Math.abs(b.data[i]));
  expect(worst).toBeLessThan(atol);
}

/** A small net that uses every layer type, built twice with the same seed. */
function makeNet(seed: number): Sequential {
  const r = new Rng(seed);
  return new Sequential([
    new Conv2d(3, 6, 3, { padding: 1, rng: r }), new ReLU({ inplace: true }),
    new LocalResponseNorm(3, { alpha: 0.1, k: 1 }),
    new MaxPool2d(3, { stride: 2, sizeRule: 'ceil' }),
    new Parallel([new Conv2d(3, 4, 3, { padding: 1, rng: r }), new Conv2d(3, 4, 3, { padding: 1, rng: r })], { input: 'split' }),
    new Tanh(), new AvgPool2d(2), new AdaptiveAvgPool2d(2), new Flatten(),
    new Linear(32, 12, { rng: r }), new Sigmoid(), new Linear(12, 10, { rng: r }), new Abs(), new Softplus(),
  ]);
}

describe('layers on cpu agree with ref', () => {
  it('forward, input gradient and every parameter gradient of a net using every layer', () => {
    const a = makeNet(3).setBackend('cpu'), b = makeNet(3).setBackend('ref');
    const x = randn([2, 3, 9, 9]);
    const loss = new CrossEntropyLoss();
    const labels = Int32Array.from([1, 7]);
    const ya = a.forward(x.clone()), yb = b.forward(x.clone());
    close(ya, yb);
    loss.forward(ya, labels);
    const ga = a.backward(loss.backward().clone());
    const lossB = new CrossEntropyLoss();
    lossB.backend = 'ref';
    lossB.forward(yb, labels);
    const gb = b.backward(lossB.backward());
    close(ga, gb, 1e-3, 1e-6);
    const pa = a.namedParameters(), pb = b.namedParameters();
    expect(pa.map(([n]) => n)).toEqual(pb.map(([n]) => n));
    pa.forEach(([, p], i) => close(p.grad, pb[i][1].grad, 1e-3, 1e-6));
  });
});

describe('finite-difference gradient check through layers (ref backend)', () => {
  it('input and parameter gradients of the composite net', () => {
    const net = makeNet(5).setBackend('ref');
    const ce = new CrossEntropyLoss();
    ce.backend = 'ref';
    const labels = Int32Array.from([2, 4]);
    const x = randn([2, 3, 9, 9]);
    const lossAt = () => ce.forward(net.forward(x.clone()), labels).loss;
    lossAt();
    const dx = net.backward(ce.backward()).clone();
    const params = net.namedParameters().map(([n, p]) => [n, p.value, p.grad.clone()] as const);
    const r = new Rng(1);
    const probe = (t: Tensor, g: Tensor, what: string) => {
      for (let k = 0; k < 6; k++) {
        const i = r.int(t.size), keep = t.data[i], eps = 1e-2;
        t.data[i] = keep + eps; const up = lossAt();
        t.data[i] = keep - eps; const down = lossAt();
        t.data[i] = keep;
        const num = (up - down) / (2 * eps);
        const err = Math.abs(num - g.data[i]) / Math.max(1e-2, Math.abs(num), Math.abs(g.data[i]));
        expect(err, `${what}[${i}]: numeric ${num}, analytic ${g.data[i]}`).toBeLessThan(5e-2);
      }
    };
    probe(x, dx, 'input');
    for (const [n, v, g] of params) probe(v, g, n);
  });
});

describe('Parallel towers', () => {
  it('two split towers equal one grouped convolution with the same weights', () => {
    const t1 = new Conv2d(4, 3, 3, { padding: 1 }), t2 = new Conv2d(4, 3, 3, { padding: 1 });
    const towers = new Parallel([t1, t2], { input: 'split' });
    const grouped = new Conv2d(8, 6, 3, { padding: 1, groups: 2 });
    grouped.weight.value.data.set([...t1.weight.value.data, ...t2.weight.value.data]);
    grouped.bias!.value.data.set([...t1.bias!.value.data, ...t2.bias!.value.data]);
    const x = randn([2, 8, 5, 5]);
    close(towers.forward(x), grouped.forward(x));
    const dy = randn([2, 6, 5, 5]);
    close(towers.backward(dy), grouped.backward(dy));
    close(Tensor.from([...t1.weight.grad.data, ...t2.weight.grad.data], grouped.weight.grad.shape), grouped.weight.grad);
  });
});

describe('dropout', () => {
  it('inverted: identity in eval; classic: ×(1−p) in eval; same rng state, same mask', () => {
    const x = Tensor.full([1000], 1);
    const d = new Dropout(0.5, { rng: new Rng(3) });
    const y = d.forward(x).clone();
    const kept = y.toArray().filter((v) => v !== 0);
    expect(kept.every((v) => v === 2)).toBe(true);
    expect(kept.length).toBeGreaterThan(430);
    expect(kept.length).toBeLessThan(570);
    const again = new Dropout(0.5, { rng: new Rng(3) }).forward(x);
    expect(again.toArray()).toEqual(y.toArray());
    d.eval();
    expect(d.forward(x)).toBe(x);
    const c = new Dropout(0.25, { mode: 'classic' }).eval();
    expect(c.forward(x).data[0]).toBeCloseTo(0.75, 6);
  });
});

describe('learning', () => {
  it('a small MLP learns a two-class spiral to >= 98% on the cpu backend', () => {
    const n = 400, x = Tensor.zeros([n, 2]), labels = new Int32Array(n), r = new Rng(8);
    const noise = r.normal(n, 0, 0.1);
    for (let i = 0; i < n; i++) {
      const c = i % 2, t = (i / n) * 3 * Math.PI + noise[i];
      const rad = 0.2 + (i / n) * 2;
      x.data[2 * i] = rad * Math.cos(t + c * Math.PI);
      x.data[2 * i + 1] = rad * Math.sin(t + c * Math.PI);
      labels[i] = c;
    }
    const net = new Sequential([new Linear(2, 64, { rng: r }), new Tanh(), new Linear(64, 64, { rng: r }), new ReLU(), new Linear(64, 2, { rng: r })]);
    const ce = new CrossEntropyLoss();
    const vel = net.parameters().map((p) => new Float32Array(p.value.size));
    let acc = 0;
    for (let step = 0; step < 1500; step++) {
      const out = ce.forward(net.forward(x), labels);
      acc = out.top1Hits / n;
      net.backward(ce.backward());
      net.parameters().forEach((p, k) => {
        for (let i = 0; i < p.value.size; i++) {
          vel[k][i] = 0.9 * vel[k][i] + p.grad.data[i];
          p.value.data[i] -= 0.1 * vel[k][i];
        }
      });
    }
    expect(acc).toBeGreaterThanOrEqual(0.98);
  });

  it('2,000 training steps of a small conv net grow RSS by less than 20 MB', () => {
    const r = new Rng(4);
    const net = new Sequential([
      new Conv2d(1, 8, 3, { padding: 1, rng: r }), new ReLU({ inplace: true }), new MaxPool2d(2),
      new Flatten(), new Linear(8 * 6 * 6, 10, { rng: r }), new Dropout(0.5, { rng: r }),
    ]);
    const ce = new CrossEntropyLoss();
    const x = randn([16, 1, 12, 12]), labels = Int32Array.from({ length: 16 }, (_, i) => i % 10);
    const step = () => {
      ce.forward(net.forward(x), labels);
      net.backward(ce.backward());
      for (const p of net.parameters()) for (let i = 0; i < p.value.size; i++) p.value.data[i] -= 0.01 * p.grad.data[i];
    };
    for (let i = 0; i < 200; i++) step();
    const gc = (globalThis as { gc?: () => void }).gc;
    expect(typeof gc, 'vitest.config.ts passes --expose-gc').toBe('function');
    gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 2000; i++) step();
    gc?.();
    const grown = (process.memoryUsage().rss - before) / 2 ** 20;
    console.log(`RSS growth over 2,000 steps: ${grown.toFixed(2)} MB`);
    expect(grown).toBeLessThan(20);
  });
});

describe('state dicts and safetensors', () => {
  it('names follow PyTorch (features.0.weight) and loading reports missing, unexpected and mismatched names', () => {
    const net = new Sequential({ features: new Sequential([new Conv2d(3, 4, 3), new ReLU()]), classifier: new Sequential([new Flatten(), new Linear(4, 2)]) });
    expect([...net.stateDict().keys()]).toEqual(['features.0.weight', 'features.0.bias', 'classifier.1.weight', 'classifier.1.bias']);
    const sd = net.stateDict();
    const bad = new Map(sd);
    bad.delete('features.0.bias');
    bad.set('extra.weight', Tensor.zeros([1]));
    bad.set('classifier.1.weight', Tensor.zeros([3, 4]));
    expect(() => net.loadStateDict(bad)).toThrow(
      "loadStateDict: shape mismatch: classifier.1.weight: expected [2, 4], got [3, 4] | missing: features.0.bias | unexpected: extra.weight",
    );
  });

  it('round-trips through a safetensors file exactly, written atomically', () => {
    const dir = mkdtempSync(join(tmpdir(), 'convnet-st-'));
    const a = makeNet(1), b = makeNet(2);
    const file = join(dir, 'model.safetensors');
    saveSafetensors(file, a.stateDict(), { format: 'pt' });
    const { stateDict, metadata } = loadStateDictFile(file);
    expect(metadata).toEqual({ format: 'pt' });
    b.loadStateDict(stateDict);
    for (const [k, v] of a.stateDict()) expect(b.stateDict().get(k)!.toArray()).toEqual(v.toArray());
    const buf = readFileSync(file);
    expect(Number(buf.readBigUInt64LE(0)) % 8).toBe(0);
  });

  it('malformed files give clear errors naming the file', () => {
    const good = Buffer.concat(serializeSafetensors(new Map([['w', Tensor.from([1, 2, 3, 4], [2, 2])]])));
    const f = 'x.safetensors';
    expect(() => parseSafetensors(good.subarray(0, 5), f)).toThrow(/x.safetensors: .*only 5 bytes/);
    expect(() => parseSafetensors(good.subarray(0, good.length - 4), f)).toThrow(/ends at byte 16 of a 12-byte data section: truncated/);
    const withHeader = (h: string) => {
      const head = Buffer.alloc(8);
      head.writeBigUInt64LE(BigInt(Buffer.byteLength(h)));
      return Buffer.concat([head, Buffer.from(h), Buffer.alloc(16)]);
    };
    expect(() => parseSafetensors(withHeader('{"w": '), f)).toThrow(/header is not valid JSON/);
    expect(() => parseSafetensors(withHeader('{"w":{"dtype":"Q8","shape":[2],"data_offsets":[0,2]}}'), f)).toThrow(/unknown dtype "Q8"/);
    expect(() => parseSafetensors(withHeader('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,12]}}'), f)).toThrow(/needs 8 bytes, its offsets span 12/);
    expect(() => parseSafetensors(withHeader('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}'), f)).toThrow(/overlap/);
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(10_000n);
    expect(() => parseSafetensors(huge, f)).toThrow(/header length 10000 exceeds the file/);
    const dir = mkdtempSync(join(tmpdir(), 'convnet-st-'));
    writeFileSync(join(dir, 'empty.safetensors'), '');
    expect(() => loadStateDictFile(join(dir, 'empty.safetensors'))).toThrow(/empty.safetensors: not a valid safetensors file/);
    expect(() => loadStateDictFile(join(dir, 'missing.safetensors'))).toThrow(/missing.safetensors: cannot read \(ENOENT\)/);
  });

  it('Softmax backward matches its Jacobian', () => {
    const s = new Softmax();
    const x = randn([2, 5]);
    const y = s.forward(x).clone();
    const dy = randn([2, 5]);
    const dx = s.backward(dy);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 5; j++) {
        let want = 0;
        for (let k = 0; k < 5; k++) want += dy.data[i * 5 + k] * y.data[i * 5 + k] * ((k === j ? 1 : 0) - y.data[i * 5 + j]);
        expect(dx.data[i * 5 + j]).toBeCloseTo(want, 6);
      }
  });

  it('Module is the common base', () => {
    expect(new ReLU()).toBeInstanceOf(Module);
  });
});
