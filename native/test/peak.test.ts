// fmaPeak: the register-only FMA loop behind the benchmarks' "% of peak" column.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const native = createRequire(import.meta.url)('../index.cjs');

describe('fmaPeak', () => {
  it('measures a positive rate on the widest vectors the CPU has', () => {
    const p = native.fmaPeak(0.02, 1);
    const isa = native.info().isa;
    expect(p.vectorFloats).toBe(isa === 'avx512' ? 16 : isa === 'avx2' ? 8 : 4);
    expect(p.threads).toBe(1);
    expect(p.rounds).toBeGreaterThanOrEqual(3);
    // any x86-64 core does more than 1 GFLOP/s in registers; no 2026 core 2000 on one thread
    expect(p.bestGflops).toBeGreaterThan(1);
    expect(p.bestGflops).toBeLessThan(2000);
    expect(p.medianGflops).toBeLessThanOrEqual(p.bestGflops);
  });
  it('caps threads at the pool size', () => {
    expect(native.fmaPeak(0, 1024).threads).toBe(native.info().threads);
  });
  it('rejects bad arguments with the argument named', () => {
    expect(() => native.fmaPeak(-1, 1)).toThrow(/fmaPeak.*seconds/);
    expect(() => native.fmaPeak(0.01, 0)).toThrow(/fmaPeak/);
    expect(() => native.fmaPeak('x', 1)).toThrow(/fmaPeak/);
  });
});
