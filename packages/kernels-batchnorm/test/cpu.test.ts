// The CPU addon's parallel, vectorised kernels: the same bits at every thread count and on both instruction-set
// builds (baseline x86-64 and AVX2), the float64 `ref` kernels' numbers where the pool really splits the channels,
// and on data whose mean dwarfs its spread (the one-pass statistics are shifted by the channel's first value).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@convnet/tensor';
import { expectClose } from '@convnet/tensor/testing';
import { batchNormBackwardCore, batchNormInferenceCore, batchNormTrainCore, updateRunningCore } from '../src/index.js';

const require = createRequire(import.meta.url);
const script = fileURLToPath(new URL('./cpu-digest.cjs', import.meta.url));
const { SHAPE, inputs, digest, load } = require(script) as {
  SHAPE: { n: number; c: number; plane: number };
  inputs(): { len: number; x: Float32Array; dy: Float32Array; w: Float32Array; b: Float32Array; rm: Float32Array; rv: Float32Array };
  digest(addon: unknown, threads: number): string;
  load(): CpuAddon;
};
type F = Float32Array;
interface CpuAddon {
  batchNorm2d(a: object, x: F, w: F, b: F, y: F, mean: F, inv: F, rm: F, rv: F): void;
  batchNorm2dInference(a: object, x: F, w: F, b: F, rm: F, rv: F, y: F): void;
  batchNorm2dBackward(a: object, x: F, dy: F, w: F, mean: F, inv: F, dx: F, dw: F, db: F): void;
  info(): { isa: string; threads: number };
}
const addon = load();

describe('CPU kernels: threads and instruction sets', () => {
  it('give bit-identical results on 1, 2, 3 and 7 threads (7 channels, 529-value planes)', () => {
    const one = digest(addon, 1);
    for (const t of [2, 3, 7]) expect(digest(addon, t), `${t} threads`).toBe(one);
  });

  it('give bit-identical results on the baseline build (CONVNET_ISA=generic, a child process) and this one', () => {
    expect(['avx2', 'generic']).toContain(addon.info().isa);
    const child = JSON.parse(execFileSync(process.execPath, [script, '2'], { env: { ...process.env, CONVNET_ISA: 'generic' }, encoding: 'utf8' }));
    expect(child.isa).toBe('generic');
    expect(child.digest).toBe(digest(addon, 2));
  });

  it("run on @convnet/native's pool: info().threads follows setNumThreads (no pool of its own)", () => {
    const nat = require('@convnet/native');
    for (const t of [1, 5, 2]) {
      nat.setNumThreads(t);
      expect(addon.info().threads).toBe(t);
    }
  });

  it('without the runtime, a call is a one-line error saying what to do; a wrong value is refused by its tag', () => {
    // a fresh addon instance in a child process, never given the runtime
    const src = `const a = require(${JSON.stringify(require.resolve('../build/Release/convnet_batchnorm.node'))});
      const r = [];
      try { a.info(); } catch (e) { r.push(e.message); }
      try { a.useRuntime({}); } catch (e) { r.push(e.message); }
      try { a.useRuntime(require('@convnet/native').info()); } catch (e) { r.push(e.message); }
      console.log(JSON.stringify(r));`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', src], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) }));
    expect(out).toHaveLength(3);
    expect(out[0]).toBe("batchnorm: no runtime: call useRuntime(require('@convnet/native').runtime()) first");
    expect(out[1]).toMatch(/^useRuntime: expected require\('@convnet\/native'\).runtime\(\)/);
    expect(out[2]).toMatch(/^useRuntime: expected/);
  });
});

describe('CPU kernels against the float64 ref kernels', () => {
  const check = (what: string, x: F, dy: F, w: F, b: F, rm0: F, rv0: F, threads: number) => {
    const { n, c, plane } = SHAPE, len = x.length, d = { n, c, plane };
    const T = (a: ArrayLike<number>, shape = [c]) => new Tensor(Float32Array.from(a), shape);
    // native
    const y = new Float32Array(len), mean = new Float32Array(c), inv = new Float32Array(c), rm = Float32Array.from(rm0), rv = Float32Array.from(rv0);
    require('@convnet/native').setNumThreads(threads);
    addon.batchNorm2d({ ...d, eps: 1e-5, momentum: 0.1 }, x, w, b, y, mean, inv, rm, rv);
    const dx = new Float32Array(len), dw = new Float32Array(c), db = new Float32Array(c);
    addon.batchNorm2dBackward({ ...d }, x, dy, w, mean, inv, dx, dw, db);
    const e = new Float32Array(len);
    addon.batchNorm2dInference({ ...d, eps: 1e-5 }, x, w, b, rm0, rv0, e);
    // ref, float64 throughout
    const x64 = Float64Array.from(x), y64 = new Float64Array(len), m64 = new Float64Array(c), i64 = new Float64Array(c);
    batchNormTrainCore(x64, Float64Array.from(w), Float64Array.from(b), y64, m64, i64, d, 1e-5);
    const rm64 = Float64Array.from(rm0), rv64 = Float64Array.from(rv0);
    updateRunningCore(x64, rm64, rv64, d, 0.1);
    const dx64 = new Float64Array(len), dw64 = new Float64Array(c), db64 = new Float64Array(c);
    batchNormBackwardCore(x64, Float64Array.from(dy), Float64Array.from(w), Float64Array.from(mean), Float64Array.from(inv), dx64, dw64, db64, d);
    const e64 = new Float64Array(len);
    batchNormInferenceCore(x64, Float64Array.from(w), Float64Array.from(b), Float64Array.from(rm0), Float64Array.from(rv0), e64, d, 1e-5);
    const shape = [n, c, plane, 1];
    expectClose(`${what} y`, T(y, shape), T(y64, shape), 1e-5, 1e-5);
    expectClose(`${what} saveMean`, T(mean), T(m64), 1e-6, 1e-6);
    expectClose(`${what} saveInvStd`, T(inv), T(i64), 1e-6, 0);
    expectClose(`${what} runningMean`, T(rm), T(rm64), 1e-6, 1e-6);
    expectClose(`${what} runningVar`, T(rv), T(rv64), 1e-6, 1e-6);
    expectClose(`${what} dx`, T(dx, shape), T(dx64, shape), 1e-5, 1e-6);
    expectClose(`${what} dweight`, T(dw), T(dw64), 1e-5, 1e-5);
    expectClose(`${what} dbias`, T(db), T(db64), 1e-5, 1e-5);
    expectClose(`${what} inference y`, T(e, shape), T(e64, shape), 1e-5, 1e-5);
  };

  it('match ref where the channels are split over 3 threads', () => {
    const i = inputs();
    check('[64,7,23,23]', i.x, i.dy, i.w, i.b, i.rm, i.rv, 3);
  });

  it('match ref on data with mean 10000 and std 0.5 (the one-pass variance does not cancel)', () => {
    const i = inputs();
    const x = Float32Array.from(i.x, (v) => 1e4 + (v - 2.5) / 3);
    const rm = Float32Array.from(i.rm, (v) => 1e4 + v);
    check('mean 1e4', x, i.dy, i.w, i.b, rm, i.rv, 2);
  });
});
