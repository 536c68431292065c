// Max pooling (native/src/cpu/pool.cpp) against a per-window reference written here: the maximum, and for the input
// gradient the first maximum in scan order (NaN wins, the first NaN in scan order), on 2×2 stride-2 windows (the
// VGG-style fast path: vector loops over 4 windows, odd last row / column in no window) and on overlapping 3×3
// stride-2 windows (the general loops), with ties, −0/+0, −Infinity and NaN; the gradient bit for bit.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { seededRand } from './child';

const native = createRequire(import.meta.url)('../index.cjs');

const rand = seededRand(99);

interface Geom { n: number; c: number; h: number; w: number; kh: number; kw: number; sh: number; sw: number; ph: number; pw: number; oh: number; ow: number }
const geom = (n: number, c: number, h: number, w: number, k: number, s: number): Geom =>
  ({ n, c, h, w, kh: k, kw: k, sh: s, sw: s, ph: 0, pw: 0, oh: Math.floor((h - k) / s) + 1, ow: Math.floor((w - k) / s) + 1 });

// per window: the argmax in scan order (strictly greater replaces; a NaN replaces a non-NaN)
const argmax = (x: Float32Array, g: Geom, p: number, oy: number, ox: number) => {
  let best = -1, m = 0;
  for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
    const i = p * g.h * g.w + (oy * g.sh + ky) * g.w + ox * g.sw + kx, v = x[i];
    if (best < 0 || (!Number.isNaN(m) && (v > m || Number.isNaN(v)))) best = i, m = v;
  }
  return best;
};

const check = (g: Geom, x: Float32Array) => {
  const planes = g.n * g.c, y = new Float32Array(planes * g.oh * g.ow).fill(7), dx = new Float32Array(x.length).fill(7);
  const dy = Float32Array.from(y, () => Math.round(rand() * 8) / 4);  // includes −0 and +0
  dy[0] = -0;
  native.maxPool2d(g, x, y);
  native.maxPool2dBackward(g, x, dy, dx);
  const want = new Float32Array(x.length);
  const bad: string[] = [];
  for (let p = 0; p < planes; p++) for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
    const o = (p * g.oh + oy) * g.ow + ox, a = argmax(x, g, p, oy, ox);
    const ok = Number.isNaN(x[a]) ? Number.isNaN(y[o]) : y[o] === x[a];
    if (!ok && bad.length < 5) bad.push(`y[${o}] = ${y[o]}, want ${x[a]}`);
    want[a] += dy[o];
  }
  for (let i = 0; i < x.length; i++) if (!Object.is(dx[i], want[i]) && bad.length < 10) bad.push(`dx[${i}] = ${dx[i]}, want ${want[i]}`);
  return bad;
};

describe('max pooling', () => {
  const shapes: [string, Geom][] = [
    ['2x2/2, 28x28 (32 channels)', geom(2, 32, 28, 28, 2, 2)],
    ['2x2/2, 14x14', geom(3, 5, 14, 14, 2, 2)],
    ['2x2/2, odd 9x11 (last row and column in no window)', geom(2, 3, 9, 11, 2, 2)],
    ['2x2/2, 2x2', geom(1, 2, 2, 2, 2, 2)],
    ['3x3/2 overlapping, 13x13', geom(2, 3, 13, 13, 3, 2)],
  ];
  for (const [name, g] of shapes) {
    it(`${name}: random values`, () => {
      const x = Float32Array.from({ length: g.n * g.c * g.h * g.w }, () => rand() * 4);
      expect(check(g, x)).toEqual([]);
    });
    it(`${name}: ties, -0/+0, -Infinity, NaN`, () => {
      const x = Float32Array.from({ length: g.n * g.c * g.h * g.w }, () => Math.max(0, Math.round(rand() * 3)));  // ReLU-like: many zeros
      for (let i = 0; i < x.length; i += 5) x[i] = -0;
      x[3] = -Infinity;
      const plane = g.h * g.w;
      x[plane + 1] = NaN;  // NaN in the second plane (general loop there), others keep the fast path
      x[plane + 2] = NaN;
      x[x.length - 1] = NaN;
      expect(check(g, x)).toEqual([]);
    });
  }
});
