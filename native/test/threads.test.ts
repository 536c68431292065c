// Thread counts above the core count (1, 3, 5 and 8 threads on any machine): every convolution algorithm (direct,
// Winograd, the first-layer kernel, im2col + GEMM, forced with CONVNET_CONV_ALGO), GEMM, pooling and LRN on batches smaller than the pool
// (2 ≤ tasks < threads, where a kernel that indexes its per-thread scratch by pool thread rather than by task slot
// writes past the end), in exact-size scratch mode (CONVNET_EXACT_ALLOC=1: a guard after every scratch block,
// checked when it is given up; a write past the end aborts the child). Each result matches float64 within the
// conformance bounds, and repeated calls at one thread count give the same bits (results are deterministic per
// thread count; forward and input-gradient results are the same bits at every thread count).
import { describe, expect, it } from 'vitest';
import { inChild, type ConvGeom, type TestHelpers } from './child';

const native = (await import('node:module')).createRequire(import.meta.url)('../index.cjs');

// Self-contained (sent as source text to child processes).
const checks = (nat: any) => {
  const { seededRand, conv64, relErr } = (globalThis as any).testHelpers as TestHelpers;
  const rand = seededRand(777);
  const fill = (n: number) => Float32Array.from({ length: n }, rand);
  const digest = (a: Float32Array) => {
    let h = 2166136261;
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u[i], 16777619) >>> 0;
    return h;
  };
  type G = ConvGeom;
  const geom = (n: number, c: number, hw: number, o: number, k: number, s: number, p: number, groups = 1): G => {
    const out = Math.floor((hw + 2 * p - k) / s) + 1;
    return { n, c, h: hw, w: hw, o, kh: k, kw: k, sh: s, sw: s, ph: p, pw: p, groups, oh: out, ow: out };
  };
  // float64 forward, input gradient and weight gradient of a correlation
  const ref = conv64;
  const failures: string[] = [];
  const digests: Record<string, number[]> = {};
  const cases: [string, string, G, boolean][] = [
    ['direct', '5x5 pad 2, 2 images', geom(2, 19, 11, 21, 5, 1, 2), true],
    ['direct', 'groups 2, 2 images', geom(2, 34, 9, 40, 5, 1, 2, 2), true],
    ['direct', '11x11 stride 4 (folded taps), 2 images', geom(2, 3, 31, 20, 11, 4, 2), false],
    ['winograd', '3x3 pad 1, 2 images', geom(2, 16, 12, 24, 3, 1, 1), true],
    ['winograd', '3x3 pad 1, 1 image', geom(1, 24, 10, 16, 3, 1, 1), true],
    ['first', '11x11 stride 4 (conv1 kernel), 2 images', geom(2, 3, 35, 20, 11, 4, 2), true],
    ['first', '11x11 stride 4 (conv1 kernel), 1 image', geom(1, 3, 35, 20, 11, 4, 2), true],
    ['gemm', '3x3 pad 1, 2 images', geom(2, 16, 12, 24, 3, 1, 1), true],
    ['gemm', '11x11 stride 4, 2 images', geom(2, 3, 31, 20, 11, 4, 2), true],
  ];
  for (const [algo, name, g, backward] of cases) {
    const K = (g.c / g.groups) * g.kh * g.kw;
    const x = fill(g.n * g.c * g.h * g.w), w = fill(g.o * K), dy = fill(g.n * g.o * g.oh * g.ow);
    const want = ref(g, x, w, dy);
    process.env.CONVNET_CONV_ALGO = algo;
    const seen: number[] = [];
    for (let rep = 0; rep < 4; rep++) {
      const y = new Float32Array(want.y.length).fill(NaN), dx = new Float32Array(x.length).fill(NaN);
      const dw = new Float32Array(w.length).fill(NaN);
      nat.conv2d(g, x, w, null, y);
      if (backward) {
        nat.conv2dBackwardInput(g, dy, w, dx);
        nat.conv2dBackwardWeight(g, x, dy, dw);
      }
      const e = [relErr(y, want.y), backward ? relErr(dx, want.dx) : 0, backward ? relErr(dw, want.dw) : 0];
      if (!(Math.max(...e) < 1e-5)) failures.push(`${algo} ${name}: relative errors ${e.join(' ')}`);
      const d = [digest(y), backward ? digest(dx) : 0, backward ? digest(dw) : 0];
      if (rep === 0) seen.push(...d);
      else if (d.some((v, i) => v !== seen[i])) failures.push(`${algo} ${name}: call ${rep} differs from call 0`);
    }
    delete process.env.CONVNET_CONV_ALGO;
    digests[`${algo} ${name}`] = seen;
  }
  // GEMM with fewer row and column blocks than threads, pooling and LRN over 2 images
  for (const [m, n, k] of [[7, 5, 33], [40, 300, 70], [1, 4096, 256]]) {
    const a = fill(m * k), b = fill(k * n), c = new Float32Array(m * n);
    nat.sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n);
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += a[i * k + q] * b[q * n + j];
      want[i * n + j] = s;
    }
    const e = relErr(c, want);
    if (!(e < 1e-5)) failures.push(`sgemm ${m}x${n}x${k}: relative error ${e}`);
    digests[`sgemm ${m}x${n}x${k}`] = [digest(c)];
  }
  const pg = { n: 2, c: 3, h: 13, w: 13, kh: 3, kw: 3, sh: 2, sw: 2, ph: 0, pw: 0, oh: 6, ow: 6 };
  const px = fill(2 * 3 * 13 * 13), py = new Float32Array(2 * 3 * 36);
  nat.maxPool2d(pg, px, py);
  for (let p = 0; p < 6; p++) for (let oy = 0; oy < 6; oy++) for (let ox = 0; ox < 6; ox++) {
    let m = -Infinity;
    for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) m = Math.max(m, px[p * 169 + (oy * 2 + ky) * 13 + ox * 2 + kx]);
    if (py[p * 36 + oy * 6 + ox] !== m) { failures.push(`maxPool2d: output ${p},${oy},${ox}`); break; }
  }
  const lx = fill(2 * 7 * 5 * 5), ly = new Float32Array(lx.length), scale = new Float32Array(lx.length);
  nat.lrn({ n: 2, c: 7, plane: 25, size: 5, alpha: 1e-4, beta: 0.75, k: 2, alphaMode: 'paper' }, lx, ly, scale);
  digests.lrn = [digest(ly)];
  return { failures, digests, threads: nat.info().threads };
};

const isas = ['generic', ...(native.info().avx2 ? ['avx2'] : []), ...(native.info().avx512 ? ['avx512'] : [])];

describe('thread counts above the core count, exact-size scratch', () => {
  for (const isa of isas) {
    it(`${isa}: 1, 3, 5 and 8 threads match float64 and repeat bit for bit; forward results equal across counts`, () => {
      const runs = [1, 3, 5, 8].map((t) => ({
        t,
        ...inChild(checks, { CONVNET_ISA: isa, CONVNET_EXACT_ALLOC: '1', CONVNET_NUM_THREADS: String(t) }),
      }));
      for (const r of runs) {
        expect(r.threads).toBe(r.t);
        expect(r.failures, `${r.t} threads`).toEqual([]);
      }
      // forward outputs and input gradients: each output is one task's sum, whatever the thread count
      for (const key of Object.keys(runs[0].digests)) {
        if (key.startsWith('sgemm') || key === 'lrn') continue;
        for (const r of runs) expect(r.digests[key].slice(0, 2), `${key} at ${r.t} threads`).toEqual(runs[0].digests[key].slice(0, 2));
      }
    }, 120_000);
  }
});
