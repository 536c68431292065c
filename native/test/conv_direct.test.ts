// Direct convolution on channel-blocked layouts (native/src/cpu/conv_direct*.{h,cpp}), forward (any stride), input and
// weight gradients (stride 1), forced with CONVNET_CONV_ALGO=direct on odd shapes (channels that are not a multiple of
// the block, groups, padding, stride 2 and 4, the ceil rule, batch 1 split over output-channel tiles, fewer channels
// than a block with the row's taps folded into the channels), against float64 direct convolution; its error next to
// im2col + GEMM's on a conv2-sized layer; the AVX-512 blocking (16-channel blocks, 4×6 tiles) emulated on AVX2
// (CONVNET_GEMM_EMULATE_AVX512=1) and the portable path (CONVNET_ISA=generic, which has no direct kernels and falls
// back to im2col + GEMM) pass the same checks; 1 and 2 threads agree bit for bit (weight gradients: run to run); the
// rule picks it for AlexNet's conv2 (5×5) and not for conv1 (3 input channels: conv_first) or the 3×3 layers (Winograd).
import { describe, expect, it } from 'vitest';
import { inChild, addonPath, runSource } from './child';
import type { TestHelpers } from './child';

const native = (await import('node:module')).createRequire(import.meta.url)('../index.cjs');
const hasAvx2 = !!native.info().avx2;

// Self-contained (sent as source text to child processes): failures, measured errors, the algorithms the trace named.
const runChecks = (nat: any, withConv2 = false) => {
  const rand = ((globalThis as any).testHelpers as TestHelpers).seededRand(4242);
  const fill = (n: number, s = 1) => Float32Array.from({ length: n }, () => rand() * 2 * s);
  type G = { n: number; c: number; h: number; w: number; o: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; groups: number; oh: number; ow: number };
  // float64 correlation (forward) and its input gradient, any stride / padding / groups / output size
  const fwd64 = (g: G, x: Float32Array, w: Float32Array, b: Float32Array | null) => {
    const cg = g.c / g.groups, og = g.o / g.groups, y = new Float64Array(g.n * g.o * g.oh * g.ow);
    for (let i = 0; i < g.n; i++) for (let oc = 0; oc < g.o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
        let s = b ? b[oc] : 0;
        for (let ic = 0; ic < cg; ic++) for (let ky = 0; ky < g.kh; ky++) {
          const iy = oy * g.sh - g.ph + ky;
          if (iy < 0 || iy >= g.h) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const ix = ox * g.sw - g.pw + kx;
            if (ix < 0 || ix >= g.w) continue;
            s += x[((i * g.c + gi * cg + ic) * g.h + iy) * g.w + ix] * w[((oc * cg + ic) * g.kh + ky) * g.kw + kx];
          }
        }
        y[((i * g.o + oc) * g.oh + oy) * g.ow + ox] = s;
      }
    }
    return y;
  };
  const bwd64 = (g: G, dy: Float32Array, w: Float32Array) => {
    const cg = g.c / g.groups, og = g.o / g.groups, dx = new Float64Array(g.n * g.c * g.h * g.w);
    for (let i = 0; i < g.n; i++) for (let oc = 0; oc < g.o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
        const d = dy[((i * g.o + oc) * g.oh + oy) * g.ow + ox];
        for (let ic = 0; ic < cg; ic++) for (let ky = 0; ky < g.kh; ky++) {
          const iy = oy * g.sh - g.ph + ky;
          if (iy < 0 || iy >= g.h) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const ix = ox * g.sw - g.pw + kx;
            if (ix < 0 || ix >= g.w) continue;
            dx[((i * g.c + gi * cg + ic) * g.h + iy) * g.w + ix] += d * w[((oc * cg + ic) * g.kh + ky) * g.kw + kx];
          }
        }
      }
    }
    return dx;
  };
  const dw64 = (g: G, x: Float32Array, dy: Float32Array) => {
    const cg = g.c / g.groups, og = g.o / g.groups, dw = new Float64Array(g.o * cg * g.kh * g.kw);
    for (let i = 0; i < g.n; i++) for (let oc = 0; oc < g.o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
        const d = dy[((i * g.o + oc) * g.oh + oy) * g.ow + ox];
        for (let ic = 0; ic < cg; ic++) for (let ky = 0; ky < g.kh; ky++) {
          const iy = oy * g.sh - g.ph + ky;
          if (iy < 0 || iy >= g.h) continue;
          for (let kx = 0; kx < g.kw; kx++) {
            const ix = ox * g.sw - g.pw + kx;
            if (ix < 0 || ix >= g.w) continue;
            dw[((oc * cg + ic) * g.kh + ky) * g.kw + kx] += d * x[((i * g.c + gi * cg + ic) * g.h + iy) * g.w + ix];
          }
        }
      }
    }
    return dw;
  };
  const err = (got: Float32Array, want: Float64Array) => {
    let max = 0, scale = 0;
    for (let i = 0; i < got.length; i++) { max = Math.max(max, Math.abs(got[i] - want[i])); scale = Math.max(scale, Math.abs(want[i])); }
    return { max, rel: max / scale, scale };
  };
  const geom = (n: number, c: number, h: number, w: number, o: number, k: number, s: number, p: number, groups: number, ceil = false): G => {
    const size = (i: number) => (ceil ? Math.ceil : Math.floor)((i + 2 * p - k) / s) + 1;
    return { n, c, h, w, o, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, groups, oh: size(h), ow: size(w) };
  };
  const run = (algo: string, g: G, x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array, backward: boolean) => {
    process.env.CONVNET_CONV_ALGO = algo;
    const y = new Float32Array(g.n * g.o * g.oh * g.ow).fill(NaN), dx = new Float32Array(g.n * g.c * g.h * g.w).fill(NaN);
    nat.conv2d(g, x, w, b, y);
    const dw = new Float32Array(w.length).fill(NaN), dw2 = new Float32Array(w.length).fill(NaN);
    if (backward) {
      nat.conv2dBackwardInput(g, dy, w, dx);
      nat.conv2dBackwardWeight(g, x, dy, dw);
      nat.conv2dBackwardWeight(g, x, dy, dw2);
      for (let i = 0; i < dw.length; i++) if (!Object.is(dw[i], dw2[i])) { failures.push(`${algo} ${JSON.stringify(g)}: weight gradient differs between two runs`); break; }
    }
    delete process.env.CONVNET_CONV_ALGO;
    return { y, dx, dw };
  };
  const cases: [string, G, boolean][] = [
    ['batch 1, 5 channels, 3 outputs, 7x9, 3x3 pad 1', { ...geom(1, 5, 7, 9, 3, 3, 1, 1, 1), w: 9, ow: 9 }, true],
    ['3 images, 19 -> 21 channels, 5x5 pad 2, 11x10', { ...geom(3, 19, 11, 10, 21, 5, 1, 2, 1), w: 10, ow: 10 }, true],
    ['groups 2, 34 -> 40, 5x5 pad 2, 9x9', geom(2, 34, 9, 9, 40, 5, 1, 2, 2), true],
    ['batch 1, 16 -> 72 (output tiles split over tasks), 5x5 pad 0', geom(1, 16, 9, 9, 72, 5, 1, 0, 1), true],
    ['rectangular 3x2 kernel, pad (1, 0)', { n: 2, c: 9, h: 8, w: 7, o: 10, kh: 3, kw: 2, sh: 1, sw: 1, ph: 1, pw: 0, groups: 1, oh: 8, ow: 6 }, true],
    ['stride 2, 11 -> 17, 3x3 pad 1 (forward only)', geom(2, 11, 10, 10, 17, 3, 2, 1, 1), false],
    ['stride 2, ceil rule, 5x5 (forward only)', geom(1, 8, 12, 12, 8, 5, 2, 0, 1, true), false],
    ['stride 4, 11x11 (conv1-like: taps folded into channels, forward only)', geom(1, 3, 31, 31, 20, 11, 4, 2, 1), false],
    ['groups 2, 3 channels each, 4x4 stride 3 pad 1, ceil rule (folded, forward only)', geom(2, 6, 13, 13, 10, 4, 3, 1, 2, true), false],
  ];
  const failures: string[] = [];
  const digests: number[] = [];
  for (const [name, g, backward] of cases) {
    const K = (g.c / g.groups) * g.kh * g.kw;
    const x = fill(g.n * g.c * g.h * g.w), w = fill(g.o * K, 0.3), b = fill(g.o), dy = fill(g.n * g.o * g.oh * g.ow);
    const { y, dx, dw } = run('direct', g, x, w, b, dy, backward);
    const ey = err(y, fwd64(g, x, w, b));
    // the conformance suite's tolerances: atol 1e-5·√K (forward), 1e-4 (input gradient) plus rtol 1e-4
    if (!(ey.max <= 1e-5 * Math.sqrt(K) + 1e-4 * 3)) failures.push(`${name}: forward error ${ey.max}`);
    if (backward) {
      const ed = err(dx, bwd64(g, dy, w));
      if (!(ed.max <= 1e-4 + 1e-4 * 3)) failures.push(`${name}: input gradient error ${ed.max}`);
      // the conformance suite's weight-gradient tolerance: atol 1e-5·√(n·oh·ow) plus rtol 1e-4
      const ew = err(dw, dw64(g, x, dy));
      if (!(ew.max <= 1e-5 * Math.sqrt(g.n * g.oh * g.ow) + 1e-4 * ew.scale)) failures.push(`${name}: weight gradient error ${ew.max}`);
      for (const v of dw) if (!Number.isFinite(v)) { failures.push(`${name}: non-finite weight gradient`); break; }
      digests.push(dx.reduce((s, v, i) => s + v * ((i % 5) + 1), 0));
    }
    for (const v of backward ? [...y, ...dx] : y) if (!Number.isFinite(v)) { failures.push(`${name}: non-finite output`); break; }
    digests.push(y.reduce((s, v, i) => s + v * ((i % 7) + 1), 0));
  }
  if (!withConv2) return { failures, conv2: null, digest: digests.map((d) => d.toFixed(3)).join(',') };
  // conv2 of torchvision's AlexNet (64 -> 192, 5x5, 27x27) with 16 of its 192 outputs, batch 1: both algorithms vs float64
  const g2 = geom(1, 64, 27, 27, 16, 5, 1, 2, 1);
  const x2 = fill(64 * 729), w2 = fill(16 * 64 * 25, 0.03), b2 = fill(16), dy2 = fill(16 * 729);
  const y64 = fwd64(g2, x2, w2, b2), dx64 = bwd64(g2, dy2, w2);
  const dir = run('direct', g2, x2, w2, b2, dy2, true), gem = run('gemm', g2, x2, w2, b2, dy2, true);
  const w64 = dw64(g2, x2, dy2);
  const conv2 = { direct: { fwd: err(dir.y, y64), bwd: err(dir.dx, dx64), bww: err(dir.dw, w64) }, gemm: { fwd: err(gem.y, y64), bwd: err(gem.dx, dx64), bww: err(gem.dw, w64) } };
  return { failures, conv2, digest: digests.map((d) => d.toFixed(3)).join(',') };
};

// The algorithms the kernels name (CONVNET_CONV_TRACE) for a forward, an input-gradient and a weight-gradient call of g.
const trace = (g: number[], env: Record<string, string> = {}) => {
  const src = `const nat = require(${JSON.stringify(addonPath)}); nat.setNumThreads(2);
    const [n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow] = ${JSON.stringify(g)};
    const a = { n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow };
    nat.conv2d(a, new Float32Array(n*c*h*w), new Float32Array(o*(c/groups)*kh*kw), null, new Float32Array(n*o*oh*ow));
    nat.conv2dBackwardInput(a, new Float32Array(n*o*oh*ow), new Float32Array(o*(c/groups)*kh*kw), new Float32Array(n*c*h*w));
    nat.conv2dBackwardWeight(a, new Float32Array(n*c*h*w), new Float32Array(n*o*oh*ow), new Float32Array(o*(c/groups)*kh*kw));`;
  return runSource(src, { CONVNET_CONV_TRACE: '1', ...env }).stderr.trim().split('\n').map((l) => l.split(' -> ').pop());
};
const conv2 = [8, 64, 27, 27, 192, 5, 5, 1, 1, 2, 2, 1, 27, 27];

describe('direct convolution (blocked layouts)', () => {
  it('matches float64 on odd shapes (forward, input and weight gradients); error on conv2 near im2col + GEMM', () => {
    const r = runChecks(native, true);
    expect(r.failures).toEqual([]);
    const { direct, gemm } = r.conv2!;
    // one float32 sum per output over all K = cg·kh·kw terms (im2col + GEMM sums in depth blocks, or og terms then the
    // taps): a few times GEMM's error, ~1e-6 of max |y| (stated in ARCHITECTURE.md), far inside the conformance bounds
    expect(direct.fwd.rel).toBeLessThan(3e-6);
    expect(direct.bwd.rel).toBeLessThan(3e-6);
    expect(direct.fwd.max).toBeLessThan(Math.max(gemm.fwd.max, 1e-7) * 8);
    expect(direct.bwd.max).toBeLessThan(Math.max(gemm.bwd.max, 1e-7) * 8);
    expect(direct.bww.rel).toBeLessThan(3e-6);
    expect(direct.bww.max).toBeLessThan(Math.max(gemm.bww.max, 1e-7) * 8);
    console.log(`conv2-sized (64→16, 5×5, 27×27, batch 1) max |error| vs float64: direct fwd ${direct.fwd.max.toExponential(2)} ` +
      `(${direct.fwd.rel.toExponential(2)} of max |y|), bwd-data ${direct.bwd.max.toExponential(2)}, bwd-weights ` +
      `${direct.bww.max.toExponential(2)} (${direct.bww.rel.toExponential(2)} of max |dw|); im2col+gemm fwd ` +
      `${gemm.fwd.max.toExponential(2)}, bwd-data ${gemm.bwd.max.toExponential(2)}, bwd-weights ${gemm.bww.max.toExponential(2)}`);
  });

  it('the AVX-512 blocking (emulated on AVX2) and the portable path pass the same checks', () => {
    for (const env of [{ CONVNET_ISA: 'avx2', CONVNET_GEMM_EMULATE_AVX512: '1' }, { CONVNET_ISA: 'generic' }]) {
      expect(inChild(runChecks, env).failures, JSON.stringify(env)).toEqual([]);
    }
    if (hasAvx2) expect(trace(conv2, { CONVNET_GEMM_EMULATE_AVX512: '1', CONVNET_ISA: 'avx2' })).toEqual(Array(3).fill('direct nChw16c 4x6 (avx512 emulated on avx2)'));
    expect(trace(conv2, { CONVNET_ISA: 'generic' })).toEqual(['im2col+gemm', 'gemm+col2im', 'im2col+gemm']);
  });

  // (the weight gradient sums fixed per-thread ranges of images: identical from run to run for a given thread count,
  // checked in runChecks; its digest is not part of this one)
  it('forward and input gradient depend on nothing but the inputs: 1 and 2 threads agree bit for bit', () => {
    expect(inChild(runChecks, {}, 1).digest).toBe(inChild(runChecks, {}, 2).digest);
  });

  it.runIf(hasAvx2)('the rule: conv2 (5×5) and 3×3 forwards below 4 images get the direct kernels, conv1 and other 3×3 calls do not', () => {
    const isa = native.info().avx512 ? 'avx512' : 'avx2';
    const name = isa === 'avx512' ? 'direct nChw16c 4x6 (avx512)' : 'direct nChw8c 2x6 (avx2)';
    expect(trace(conv2)).toEqual([name, name, name]); // torchvision conv2
    expect(trace([8, 96, 27, 27, 256, 5, 5, 1, 1, 2, 2, 2, 27, 27])).toEqual([name, name, name]); // paper conv2, groups 2
    expect(trace([1, 64, 27, 27, 192, 5, 5, 1, 1, 2, 2, 1, 27, 27])).toEqual([name, name, name]); // batch 1
    expect(trace([2, 3, 224, 224, 64, 11, 11, 4, 4, 2, 2, 1, 55, 55])[0]).toMatch(/^direct first-layer/); // conv1 (conv_first)
    expect(trace([4, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 13, 13])[0]).toBe('winograd F(4x4,3x3)'); // conv3
    // conv3 forward below 4 images (batch-1/2 inference) goes direct; its gradients keep their rules
    expect(trace([1, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toEqual([name, 'gemm+col2im', 'im2col+gemm']);
    expect(trace([2, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toEqual([name, 'winograd F(4x4,3x3) (flipped filters)',
      'winograd F(4x4,3x3) (transformed-domain sums)']);
    expect(trace([4, 8, 27, 27, 8, 5, 5, 1, 1, 2, 2, 1, 27, 27])[0]).toBe('im2col+gemm'); // few channels
  });
});
