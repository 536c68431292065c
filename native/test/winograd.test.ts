// Winograd F(4×4, 3×3) (native/src/cpu/conv_winograd.cpp), forward, input and weight gradients, forced with
// CONVNET_CONV_ALGO=winograd on odd shapes (batch 1, odd sizes, groups, padding 0/1/2, more images than threads and
// not a multiple of them), against float64 direct convolution; its error next to im2col + GEMM's on a conv3-sized
// layer (stated in ARCHITECTURE.md); the same checks on the portable engine (CONVNET_ISA=generic) and the AVX-512
// GEMM geometry (CONVNET_GEMM_EMULATE_AVX512=1); bit-identical forward / input gradient for 1 and 2 threads, and
// weight gradients identical from run to run; the rule picks it
// for AlexNet's conv3-5 and layers with 8 or more channels each way, not for fewer channels or fewer images than threads.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { addonPath, inChild, runSource } from './child';

const native = createRequire(import.meta.url)('../index.cjs');

// Self-contained: also sent as source text to child processes. Returns failures and measured errors.
const runChecks = (nat: any) => {
  let state = 777;
  const rand = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const fill = (n: number, s = 1) => Float32Array.from({ length: n }, () => rand() * 2 * s);
  // float64 direct correlation (forward) and its input gradient
  const fwd64 = (g: number[], x: Float32Array, w: Float32Array, b: Float32Array | null) => {
    const [n, c, h, wd, o, kh, kw, , , ph, pw, G, oh, ow] = g, cg = c / G, og = o / G;
    const y = new Float64Array(n * o * oh * ow);
    for (let i = 0; i < n; i++) for (let oc = 0; oc < o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
        let s = b ? b[oc] : 0;
        for (let ic = 0; ic < cg; ic++) for (let ky = 0; ky < kh; ky++) {
          const iy = oy - ph + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox - pw + kx;
            if (ix < 0 || ix >= wd) continue;
            s += x[((i * c + gi * cg + ic) * h + iy) * wd + ix] * w[((oc * cg + ic) * kh + ky) * kw + kx];
          }
        }
        y[((i * o + oc) * oh + oy) * ow + ox] = s;
      }
    }
    return y;
  };
  const bwd64 = (g: number[], dy: Float32Array, w: Float32Array) => {
    const [n, c, h, wd, o, kh, kw, , , ph, pw, G, oh, ow] = g, cg = c / G, og = o / G;
    const dx = new Float64Array(n * c * h * wd);
    for (let i = 0; i < n; i++) for (let oc = 0; oc < o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
        const d = dy[((i * o + oc) * oh + oy) * ow + ox];
        for (let ic = 0; ic < cg; ic++) for (let ky = 0; ky < kh; ky++) {
          const iy = oy - ph + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox - pw + kx;
            if (ix < 0 || ix >= wd) continue;
            dx[((i * c + gi * cg + ic) * h + iy) * wd + ix] += d * w[((oc * cg + ic) * kh + ky) * kw + kx];
          }
        }
      }
    }
    return dx;
  };
  // weight gradient: dw[oc][ic][ky][kx] = Σ over images and outputs of dy · x
  const dw64 = (g: number[], x: Float32Array, dy: Float32Array) => {
    const [n, c, h, wd, o, kh, kw, , , ph, pw, G, oh, ow] = g, cg = c / G, og = o / G;
    const dw = new Float64Array(o * cg * kh * kw);
    for (let i = 0; i < n; i++) for (let oc = 0; oc < o; oc++) {
      const gi = Math.floor(oc / og);
      for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
        const d = dy[((i * o + oc) * oh + oy) * ow + ox];
        for (let ic = 0; ic < cg; ic++) for (let ky = 0; ky < kh; ky++) {
          const iy = oy - ph + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox - pw + kx;
            if (ix < 0 || ix >= wd) continue;
            dw[((oc * cg + ic) * kh + ky) * kw + kx] += d * x[((i * c + gi * cg + ic) * h + iy) * wd + ix];
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
  const geom = (n: number, c: number, h: number, w: number, o: number, p: number, G: number) => [n, c, h, w, o, 3, 3, 1, 1, p, p, G, h + 2 * p - 2, w + 2 * p - 2];
  const failures: string[] = [];
  const attrs = (g: number[]) => {
    const [n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow] = g;
    return { n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups, oh, ow };
  };
  const run = (algo: string, g: number[], x: Float32Array, w: Float32Array, b: Float32Array, dy: Float32Array) => {
    process.env.CONVNET_CONV_ALGO = algo;
    const [n, c, h, wd, o, , , , , , , , oh, ow] = g;
    const y = new Float32Array(n * o * oh * ow).fill(NaN), dx = new Float32Array(n * c * h * wd).fill(NaN);
    nat.conv2d(attrs(g), x, w, b, y);
    nat.conv2dBackwardInput(attrs(g), dy, w, dx);
    const dw = new Float32Array(w.length).fill(NaN), dw2 = new Float32Array(w.length).fill(NaN);
    nat.conv2dBackwardWeight(attrs(g), x, dy, dw);
    nat.conv2dBackwardWeight(attrs(g), x, dy, dw2);
    for (let i = 0; i < dw.length; i++) if (!Object.is(dw[i], dw2[i])) { failures.push(`${algo} ${g}: weight gradient differs between two runs`); break; }
    delete process.env.CONVNET_CONV_ALGO;
    return { y, dx, dw };
  };
  const cases: [string, number[]][] = [
    ['batch 1, 7x9, pad 1', geom(1, 5, 7, 9, 3, 1, 1)],
    ['3 images, 13x13, pad 1', geom(3, 8, 13, 13, 6, 1, 1)],
    ['groups 2, 6x5, pad 1', geom(2, 6, 6, 5, 4, 1, 2)],
    ['pad 0, 10x11', geom(2, 4, 10, 11, 5, 0, 1)],
    ['pad 2, 3x4', geom(1, 3, 3, 4, 2, 2, 1)],
    ['5 images, 1x1 input, pad 1', geom(5, 2, 1, 1, 3, 1, 1)],
    ['groups 3, 9 images, 8x8', geom(9, 9, 8, 8, 6, 1, 3)],
    // whole 8-tile groups over several tile rows (49 and 16 tiles per plane: the small-image VGG net's sizes)
    ['3 images, 28x28, pad 1', geom(3, 3, 28, 28, 2, 1, 1)],
    ['2 images, 14x14, pad 1', geom(2, 4, 14, 14, 3, 1, 1)],
    ['2 images, 17x21, pad 2', geom(2, 2, 17, 21, 2, 2, 1)],
  ];
  const digests: number[] = [];
  for (const [name, g] of cases) {
    const [n, c, h, wd, o, , , , , , , G, oh, ow] = g;
    const x = fill(n * c * h * wd), w = fill(o * (c / G) * 9, 0.3), b = fill(o), dy = fill(n * o * oh * ow);
    const { y, dx, dw } = run('winograd', g, x, w, b, dy);
    // the conformance suite's weight-gradient tolerance: atol 1e-5·√(n·oh·ow) plus rtol 1e-4
    const ew = err(dw, dw64(g, x, dy));
    if (!(ew.max <= 1e-5 * Math.sqrt(n * oh * ow) + 1e-4 * ew.scale)) failures.push(`${name}: weight gradient error ${ew.max}`);
    for (const v of dw) if (!Number.isFinite(v)) { failures.push(`${name}: non-finite weight gradient`); break; }
    const K = (c / G) * 9;
    const ey = err(y, fwd64(g, x, w, b)), ed = err(dx, bwd64(g, dy, w));
    // the conformance suite's tolerances: atol 1e-5·√K (forward), 1e-4 (input gradient) plus rtol 1e-4
    if (!(ey.max <= 1e-5 * Math.sqrt(K) + 1e-4 * 3)) failures.push(`${name}: forward error ${ey.max}`);
    if (!(ed.max <= 1e-4 + 1e-4 * 3)) failures.push(`${name}: input gradient error ${ed.max}`);
    for (const v of [...y, ...dx]) if (!Number.isFinite(v)) { failures.push(`${name}: non-finite output`); break; }
    digests.push(y.reduce((s, v, i) => s + v * ((i % 7) + 1), 0), dx.reduce((s, v, i) => s + v * ((i % 5) + 1), 0));
  }
  // conv3 of torchvision's AlexNet at batch 2 with 64 of its 384 output channels: error of both algorithms vs float64
  const g3 = geom(2, 192, 13, 13, 64, 1, 1);
  const x3 = fill(2 * 192 * 169), w3 = fill(64 * 192 * 9, 0.05), b3 = fill(64), dy3 = fill(2 * 64 * 169);
  const y64 = fwd64(g3, x3, w3, b3), dx64 = bwd64(g3, dy3, w3);
  const win = run('winograd', g3, x3, w3, b3, dy3), gem = run('gemm', g3, x3, w3, b3, dy3);
  const w64 = dw64(g3, x3, dy3);
  const conv3 = { winograd: { fwd: err(win.y, y64), bwd: err(win.dx, dx64), bww: err(win.dw, w64) }, gemm: { fwd: err(gem.y, y64), bwd: err(gem.dx, dx64), bww: err(gem.dw, w64) } };
  if (!(conv3.winograd.fwd.rel < 1e-5 && conv3.winograd.bwd.rel < 1e-5 && conv3.winograd.bww.rel < 1e-5)) failures.push(`conv3: relative error ${JSON.stringify(conv3.winograd)}`);
  return { failures, conv3, digest: digests.map((d) => d.toFixed(3)).join(',') };
};

describe('Winograd F(4x4,3x3) convolution', () => {
  it('matches float64 on odd shapes (forward, input and weight gradients), error near im2col + GEMM on conv3', () => {
    const r = runChecks(native);
    expect(r.failures).toEqual([]);
    const { winograd, gemm } = r.conv3;
    // stated in ARCHITECTURE.md: Winograd F(4x4,3x3) errs ~20-30× more than im2col + GEMM (both far below 1e-5 of max |y|)
    expect(winograd.fwd.max).toBeLessThan(Math.max(gemm.fwd.max, 1e-7) * 64);
    expect(winograd.bwd.max).toBeLessThan(Math.max(gemm.bwd.max, 1e-7) * 64);
    expect(winograd.bww.max).toBeLessThan(Math.max(gemm.bww.max, 1e-7) * 64);
    console.log(`conv3-sized (192→64, 13×13, batch 2) max |error| vs float64: winograd fwd ${winograd.fwd.max.toExponential(2)} ` +
      `(${winograd.fwd.rel.toExponential(2)} of max |y|), bwd-data ${winograd.bwd.max.toExponential(2)}, bwd-weights ` +
      `${winograd.bww.max.toExponential(2)} (${winograd.bww.rel.toExponential(2)} of max |dw|); im2col+gemm fwd ` +
      `${gemm.fwd.max.toExponential(2)}, bwd-data ${gemm.bwd.max.toExponential(2)}, bwd-weights ${gemm.bww.max.toExponential(2)}`);
  });

  it('the portable engine and the AVX-512 GEMM geometry pass the same checks', () => {
    for (const env of [{ CONVNET_ISA: 'generic' }, { CONVNET_ISA: 'avx2', CONVNET_GEMM_EMULATE_AVX512: '1' }]) {
      expect(inChild(runChecks, env).failures, JSON.stringify(env)).toEqual([]);
    }
  });

  // (the weight gradient sums fixed per-thread ranges of images: the same for a given thread count, checked in runChecks)
  it('forward and input gradient depend on nothing but the inputs: 1 and 2 threads agree bit for bit', () => {
    expect(inChild(runChecks, {}, 1).digest).toBe(inChild(runChecks, {}, 2).digest);
  });

  it('the rule: conv3-5 shapes get Winograd, few channels or fewer images than threads do not', () => {
    const trace = (g: number[]) => {
      const src = `const nat = require(${JSON.stringify(addonPath)}); nat.setNumThreads(2); const g = ${JSON.stringify(g)};
        const [n, c, h, w, o, kh, kw, , , , , G, oh, ow] = g;
        const [, , , , , , , sh, sw, ph, pw] = g;
        const a = { n, c, h, w, o, kh, kw, sh, sw, ph, pw, groups: G, oh, ow };
        nat.conv2d(a, new Float32Array(n*c*h*w), new Float32Array(o*(c/G)*kh*kw), null, new Float32Array(n*o*oh*ow));
        nat.conv2dBackwardWeight(a, new Float32Array(n*c*h*w), new Float32Array(n*o*oh*ow), new Float32Array(o*(c/G)*kh*kw));`;
      return runSource(src, { CONVNET_CONV_TRACE: '1' }).stderr.trim();
    };
    expect(trace([4, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toContain('-> winograd');
    expect(trace([4, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toMatch(/bwd-weights .* -> winograd/);
    expect(trace([1, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toMatch(/bwd-weights .* -> im2col\+gemm/);
    expect(trace([4, 384, 13, 13, 384, 3, 3, 1, 1, 1, 1, 2, 13, 13])).toContain('-> winograd');
    // ≥ 8 channels each way with the AVX2 transforms
    expect(trace([4, 8, 13, 13, 8, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toContain(native.info().avx2 ? '-> winograd' : '-> im2col+gemm');
    expect(trace([4, 4, 13, 13, 16, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toContain('-> im2col+gemm');
    expect(trace([4, 16, 13, 13, 4, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toContain('-> im2col+gemm');
    // the portable transforms keep the bound of 32 channels
    expect(runSource(`const nat = require(${JSON.stringify(addonPath)}); nat.setNumThreads(2);
      const a = { n: 4, c: 16, h: 13, w: 13, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, groups: 1, oh: 13, ow: 13 };
      nat.conv2d(a, new Float32Array(4*16*169), new Float32Array(16*16*9), null, new Float32Array(4*16*169));`,
    { CONVNET_CONV_TRACE: '1', CONVNET_ISA: 'generic' }).stderr).toContain('-> im2col+gemm');
    expect(trace([1, 192, 13, 13, 384, 3, 3, 1, 1, 1, 1, 1, 13, 13])).toContain('-> im2col+gemm');
    expect(trace([4, 64, 27, 27, 192, 5, 5, 1, 1, 2, 2, 1, 27, 27])).not.toContain('-> winograd');
  });
});
