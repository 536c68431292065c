import { describe, expect, it } from 'vitest';
import { OpError, Rng, Tensor, matmul, philox4x32, listBackends, defaultBackend, randomWords, seedKey } from '../src/index.js';

describe('Tensor', () => {
  it('has shape, strides, views and batch slices sharing memory', () => {
    const t = Tensor.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [3, 2, 2]);
    expect(t.strides).toEqual([4, 2, 1]);
    expect(t.get(2, 1, 0)).toBe(10);
    const v = t.reshape([6, -1]);
    expect(v.shape).toEqual([6, 2]);
    v.data[0] = 42;
    expect(t.data[0]).toBe(42);
    const b = t.batch(1, 3);
    expect(b.shape).toEqual([2, 2, 2]);
    expect(b.toArray()).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('rejects bad shapes and data with errors naming the argument', () => {
    expect(() => new Tensor(new Float32Array(5), [2, 3])).toThrow(/expected 6 elements for shape \[2, 3\], got 5/);
    expect(() => Tensor.zeros([2, -1])).toThrow(OpError);
    expect(() => new Tensor(new Float64Array(4) as unknown as Float32Array, [4])).toThrow(/Float32Array, got Float64Array/);
    expect(() => Tensor.zeros([4]).reshape([3])).toThrow(/4 elements/);
    expect(() => Tensor.zeros([4, 2]).batch(3, 5)).toThrow(/0 <= start <= end <= 4/);
  });

  it('is unusable after dispose', () => {
    const t = Tensor.zeros([2]);
    {
      using u = t;
      expect(u.size).toBe(2);
    }
    expect(t.disposed).toBe(true);
    expect(() => t.data).toThrow(/used after dispose/);
  });
});

describe('Philox4x32-10', () => {
  it('matches the Random123 known-answer vectors', () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect([...out].map((x) => x.toString(16).padStart(8, '0'))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8']);
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect([...out].map((x) => x.toString(16).padStart(8, '0'))).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd']);
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect([...out].map((x) => x.toString(16).padStart(8, '0'))).toEqual(['d16cfe09', '94fdcceb', '5001e420', '24126ea1']);
  });

  it('is counter-based: resuming from a saved state continues the same stream', () => {
    const a = new Rng(1234, 7);
    const first = a.normal(10);
    const saved = a.state();
    const rest = a.uniform(9);
    const b = Rng.fromState(saved);
    expect([...b.uniform(9)]).toEqual([...rest]);
    const c = new Rng(1234, 7);
    expect([...c.normal(10)]).toEqual([...first]);
    expect([...new Rng(1235, 7).normal(10)]).not.toEqual([...first]);
  });

  it('draws normals with the right moments', () => {
    const x = new Rng(5).normal(200_000, 1, 2);
    let s = 0, s2 = 0;
    for (const v of x) { s += v; s2 += v * v; }
    const mean = s / x.length, variance = s2 / x.length - mean * mean;
    expect(Math.abs(mean - 1)).toBeLessThan(0.02);
    expect(Math.abs(Math.sqrt(variance) - 2)).toBeLessThan(0.02);
  });
});

describe('randomWords (inlined block loop)', () => {
  it('equals philox4x32 word by word: partial first/last blocks, counters past 2^32 blocks, any stream and seed', () => {
    const blk = new Uint32Array(4);
    for (const [seed, stream, off, n] of [[1, 0, 0, 37], [2 ** 40 + 5, 7, 3, 50], [9, 0xffffffff, 2 ** 34 + 1, 21], [3, 5, 4 * 2 ** 32 - 2, 9], [0, 0, 1, 2], [5, 1, 0, 0]]) {
      const out = new Uint32Array(n);
      randomWords(seed, stream, off, out);
      const [k0, k1] = seedKey(seed);
      for (let i = 0; i < n; i++) {
        const j = off + i, b = Math.floor(j / 4);
        philox4x32(b % 0x100000000, Math.floor(b / 0x100000000), stream, 0, k0, k1, blk);
        expect(out[i], `seed ${seed} stream ${stream} word ${j}`).toBe(blk[j & 3]);
      }
    }
  });
});

describe('registry', () => {
  it('registers ref and cpu, with cpu as default', () => {
    expect(listBackends()).toEqual(expect.arrayContaining(['ref', 'cpu']));
    expect(defaultBackend()).toBe('cpu');
  });

  it('matmul agrees between ref and cpu and validates shapes', () => {
    const rng = new Rng(1);
    const a = new Tensor(rng.normal(6 * 5), [6, 5]);
    const b = new Tensor(rng.normal(5 * 4), [5, 4]);
    const r = matmul(a, b, { backend: 'ref' });
    const c = matmul(a, b, { backend: 'cpu' });
    for (let i = 0; i < r.size; i++) expect(c.data[i]).toBeCloseTo(r.data[i], 4);
    expect(() => matmul(a, a)).toThrow(/matmul: argument 'b': expected rows = 5/);
  });
});
