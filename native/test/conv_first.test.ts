// Direct first-layer convolution (native/src/cpu/conv_first*.{h,cpp}: few input channels, large kernel, any stride;
// forward and weight gradient), forced with CONVNET_CONV_ALGO=first on odd shapes (output channels that are not a
// multiple of the block, padding, stride 4 and others, unequal strides, the ceil rule, batch 1 split over row bands,
// tiles of 1-4 output blocks) against float64; its error next to im2col + GEMM's on a conv1-sized layer; the AVX2
// blocking, the AVX-512 blocking emulated on AVX2 (CONVNET_GEMM_EMULATE_AVX512=1) and the portable path
// (CONVNET_ISA=generic, which has no such kernels and runs im2col + GEMM) pass the same checks; the forward agrees bit
// for bit across 1, 2, 3 and 5 threads, the weight gradient from run to run at each; the rule picks it for both
// AlexNets' conv1 (forward and weight gradient) and for nothing else.
import { describe, expect, it } from 'vitest';
import { inChild, addonPath, runSource } from './child';
import type { TestHelpers } from './child';

const native = (await import('node:module')).createRequire(import.meta.url)('../index.cjs');
const hasAvx2 = !!native.info().avx2;

// Self-contained (sent as source text to child processes): failures, measured errors, a digest of the forward.
const runChecks = (nat: any, withConv1 = false) => {
  const rand = ((globalThis as any).testHelpers as TestHelpers).seededRand(777);
  const fill = (n: number, s = 1) => Float32Array.from({ length: n }, () => rand() * 2 * s);
  type G = {
    n: number; c: number; h: number; w: number; o: number; kh: number; kw: number; sh: number; sw: number;
    ph: number; pw: number; groups: number; oh: number; ow: number;
  };
  const fwd64 = (g: G, x: Float32Array, w: Float32Array, b: Float32Array | null) => {
    const y = new Float64Array(g.n * g.o * g.oh * g.ow);
    for (let i = 0; i < g.n; i++) for (let oc = 0; oc < g.o; oc++)
      for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
        let s = b ? b[oc] : 0;
        for (let ic = 0; ic < g.c; ic++) for (let ky = 0; ky < g.kh; ky++) {
          const iy = oy * g.sh - g.ph + ky;
          if (iy < 0 || iy >= g.h) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const ix = ox * g.sw - g.pw + kx;
            if (ix < 0 || ix >= g.w) continue;
            s += x[((i * g.c + ic) * g.h + iy) * g.w + ix] * w[((oc * g.c + ic) * g.kh + ky) * g.kw + kx];
          }
        }
        y[((i * g.o + oc) * g.oh + oy) * g.ow + ox] = s;
      }
    return y;
  };
  const dw64 = (g: G, x: Float32Array, dy: Float32Array) => {
    const dw = new Float64Array(g.o * g.c * g.kh * g.kw);
    for (let i = 0; i < g.n; i++) for (let oc = 0; oc < g.o; oc++)
      for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
        const d = dy[((i * g.o + oc) * g.oh + oy) * g.ow + ox];
        for (let ic = 0; ic < g.c; ic++) for (let ky = 0; ky < g.kh; ky++) {
          const iy = oy * g.sh - g.ph + ky;
          if (iy < 0 || iy >= g.h) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const ix = ox * g.sw - g.pw + kx;
            if (ix < 0 || ix >= g.w) continue;
            dw[((oc * g.c + ic) * g.kh + ky) * g.kw + kx] += d * x[((i * g.c + ic) * g.h + iy) * g.w + ix];
          }
        }
      }
    return dw;
  };
  const err = (got: Float32Array, want: Float64Array) => {
    let max = 0, scale = 0;
    for (let i = 0; i < got.length; i++) {
      max = Math.max(max, Math.abs(got[i] - want[i]));
      scale = Math.max(scale, Math.abs(want[i]));
    }
    return { max, rel: max / scale, scale };
  };
  const geom = (n: number, c: number, h: number, w: number, o: number, k: number, s: number, p: number,
    ceil = false): G => {
    const size = (i: number) => (ceil ? Math.ceil : Math.floor)((i + 2 * p - k) / s) + 1;
    return { n, c, h, w, o, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, groups: 1, oh: size(h), ow: size(w) };
  };
  const run = (algo: string, g: G, x: Float32Array, w: Float32Array, b: Float32Array | null, dy: Float32Array) => {
    process.env.CONVNET_CONV_ALGO = algo;
    const y = new Float32Array(g.n * g.o * g.oh * g.ow).fill(NaN);
    nat.conv2d(g, x, w, b, y);
    const dw = new Float32Array(w.length).fill(NaN), dw2 = new Float32Array(w.length).fill(NaN);
    nat.conv2dBackwardWeight(g, x, dy, dw);
    nat.conv2dBackwardWeight(g, x, dy, dw2);
    delete process.env.CONVNET_CONV_ALGO;
    const same = dw.every((v, i) => Object.is(v, dw2[i]));
    return { y, dw, same };
  };
  const cases: [string, G][] = [
    ['conv1-like, no padding (input read in place), 20 outputs', geom(2, 3, 31, 31, 20, 11, 4, 0)],
    ['conv1-like, pad 2 (padded copy), 3 images, 40 outputs', { ...geom(3, 3, 35, 33, 40, 11, 4, 2), w: 33, ow: 7 }],
    ['batch 1 split over row bands, 96 outputs (two tiles of 3 blocks)', geom(1, 3, 63, 63, 96, 11, 4, 2)],
    ['one channel, stride 2, ceil rule, 5x5 pad 1, 70 outputs', geom(2, 1, 17, 17, 70, 5, 2, 1, true)],
    ['4 channels, 7x5 kernel, stride (3, 2), pad (1, 3), wide rows',
      { n: 2, c: 4, h: 20, w: 61, o: 33, kh: 7, kw: 5, sh: 3, sw: 2, ph: 1, pw: 3, groups: 1, oh: 6, ow: 32 }],
    ['2 channels, stride 1, 6x6 pad 0, 16 outputs', geom(3, 2, 12, 12, 16, 6, 1, 0)],
    ['3 channels, stride 4, 8 outputs, no bias', geom(5, 3, 27, 27, 8, 11, 4, 1)],
  ];
  const failures: string[] = [];
  const digests: number[] = [];
  for (const [name, g] of cases) {
    const K = g.c * g.kh * g.kw;
    const x = fill(g.n * g.c * g.h * g.w), w = fill(g.o * K, 0.3), dy = fill(g.n * g.o * g.oh * g.ow);
    const b = name.includes('no bias') ? null : fill(g.o);
    const { y, dw, same } = run('first', g, x, w, b, dy);
    const ey = err(y, fwd64(g, x, w, b));
    // the conformance suite's tolerances: atol 1e-5·√K (forward) plus rtol 1e-4
    if (!(ey.max <= 1e-5 * Math.sqrt(K) + 1e-4 * ey.scale)) failures.push(`${name}: forward error ${ey.max}`);
    // weight gradient: atol 1e-5·√(n·oh·ow) plus rtol 1e-4
    const ew = err(dw, dw64(g, x, dy));
    const wtol = 1e-5 * Math.sqrt(g.n * g.oh * g.ow) + 1e-4 * ew.scale;
    if (!(ew.max <= wtol)) failures.push(`${name}: weight gradient error ${ew.max}`);
    if (!same) failures.push(`${name}: weight gradient differs between two runs`);
    for (const v of [...y, ...dw]) if (!Number.isFinite(v)) { failures.push(`${name}: non-finite output`); break; }
    digests.push(y.reduce((s, v, i) => s + v * ((i % 7) + 1), 0));
  }
  const digest = digests.map((d) => d.toFixed(4)).join(',');
  if (!withConv1) return { failures, conv1: null, digest };
  // torchvision's conv1 (3 -> 64, 11x11 stride 4 pad 2, 224x224) with 16 of its 64 outputs, batch 1: both algorithms
  const g1 = geom(1, 3, 224, 224, 16, 11, 4, 2);
  const x1 = fill(3 * 224 * 224), w1 = fill(16 * 363, 0.05), b1 = fill(16), dy1 = fill(16 * 55 * 55);
  const y64 = fwd64(g1, x1, w1, b1), w64 = dw64(g1, x1, dy1);
  const fir = run('first', g1, x1, w1, b1, dy1), gem = run('gemm', g1, x1, w1, b1, dy1);
  const conv1 = {
    first: { fwd: err(fir.y, y64), bww: err(fir.dw, w64) },
    gemm: { fwd: err(gem.y, y64), bww: err(gem.dw, w64) },
  };
  return { failures, conv1, digest };
};

// The algorithms the kernels name (CONVNET_CONV_TRACE) for a forward, an input-gradient and a weight-gradient call
// of g.
const trace = (g: number[], env: Record<string, string> = {}) => {
  const src = `const nat = require(${JSON.stringify(addonPath)}); nat.setNumThreads(2);
    const [n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow] = ${JSON.stringify(g)};
    const a = { n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow };
    nat.conv2d(a, new Float32Array(n*c*h*w), new Float32Array(o*(c/groups)*kh*kw), null, new Float32Array(n*o*oh*ow));
    const wn = o * (c / groups) * kh * kw;
    nat.conv2dBackwardInput(a, new Float32Array(n*o*oh*ow), new Float32Array(wn), new Float32Array(n*c*h*w));
    nat.conv2dBackwardWeight(a, new Float32Array(n*c*h*w), new Float32Array(n*o*oh*ow), new Float32Array(wn));`;
  const lines = runSource(src, { CONVNET_CONV_TRACE: '1', ...env }).stderr.trim().split('\n');
  return lines.map((l) => l.split(' -> ').pop());
};
const conv1tv = [2, 3, 224, 224, 64, 11, 11, 4, 4, 2, 2, 1, 55, 55];
const conv1paper = [2, 3, 227, 227, 96, 11, 11, 4, 4, 0, 0, 1, 55, 55];

describe('direct first-layer convolution', () => {
  it('matches float64 on odd shapes (forward, weight gradient); error on conv1 near im2col + GEMM', () => {
    const r = runChecks(native, true);
    expect(r.failures).toEqual([]);
    const { first, gemm } = r.conv1!;
    // one float32 sum per output over K = 363 terms (forward) / 3025 pixels (weight gradient)
    expect(first.fwd.rel).toBeLessThan(3e-6);
    expect(first.fwd.max).toBeLessThan(Math.max(gemm.fwd.max, 1e-7) * 8);
    expect(first.bww.rel).toBeLessThan(3e-6);
    expect(first.bww.max).toBeLessThan(Math.max(gemm.bww.max, 1e-7) * 8);
    console.log(`conv1-sized (3→16, 11×11/4, 224×224, batch 1) max |error| vs float64: first fwd ` +
      `${first.fwd.max.toExponential(2)} (${first.fwd.rel.toExponential(2)} of max |y|), bwd-weights ` +
      `${first.bww.max.toExponential(2)} (${first.bww.rel.toExponential(2)} of max |dw|); im2col+gemm fwd ` +
      `${gemm.fwd.max.toExponential(2)}, bwd-weights ${gemm.bww.max.toExponential(2)}`);
  });

  it.runIf(hasAvx2)('the AVX2 blocking, the AVX-512 one emulated on AVX2 and the portable path pass the checks', () => {
    const envs = [
      { CONVNET_ISA: 'avx2' }, { CONVNET_ISA: 'avx2', CONVNET_GEMM_EMULATE_AVX512: '1' }, { CONVNET_ISA: 'generic' },
    ];
    for (const env of envs) {
      expect(inChild(runChecks, env).failures, JSON.stringify(env)).toEqual([]);
    }
    const avx2 = 'direct first-layer 8c (avx2)';
    expect(trace(conv1tv, { CONVNET_ISA: 'avx2' })).toEqual([avx2, 'gemm+col2im', avx2]);
    const emu = 'direct first-layer 16c (avx512 emulated on avx2)';
    expect(trace(conv1tv, { CONVNET_GEMM_EMULATE_AVX512: '1', CONVNET_ISA: 'avx2' }))
      .toEqual([emu, 'gemm+col2im', emu]);
    expect(trace(conv1tv, { CONVNET_ISA: 'generic' })).toEqual(['im2col+gemm', 'gemm+col2im', 'im2col+gemm']);
  });

  it('the forward is the same at 1, 2, 3 and 5 threads; every thread count passes the checks', () => {
    const r = [1, 2, 3, 5].map((t) => inChild(runChecks, {}, t));
    for (const x of r) expect(x.failures).toEqual([]);
    for (const x of r.slice(1)) expect(x.digest).toBe(r[0].digest);
  });

  it.runIf(hasAvx2)('the rule: both AlexNets\' conv1 get it (forward, weight gradient), other layers do not', () => {
    const name = native.info().avx512 ? 'direct first-layer 16c (avx512)' : 'direct first-layer 8c (avx2)';
    expect(trace(conv1tv)).toEqual([name, 'gemm+col2im', name]);
    expect(trace(conv1paper)).toEqual([name, 'gemm+col2im', name]);
    expect(trace([1, 3, 227, 227, 96, 11, 11, 4, 4, 0, 0, 1, 55, 55])[0]).toBe(name); // batch 1 inference
    expect(trace(conv1tv, { CONVNET_CONV_ALGO: 'gemm' })[0]).toBe('im2col+gemm');
    expect(trace([4, 8, 27, 27, 8, 5, 5, 1, 1, 2, 2, 1, 27, 27])[0]).toBe('im2col+gemm'); // 8 channels
    expect(trace([2, 3, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 9, 9])[0]).not.toMatch(/first-layer/); // 3x3: few taps
  });
});
