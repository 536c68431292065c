// Runs a self-contained check in a fresh Node process, so that environment switches read once per process
// (CONVNET_ISA, CONVNET_GEMM_EMULATE_AVX512, CONVNET_BF16_ENGINE, CONVNET_CONV_TRACE, the thread count) take effect.
// `fn` is sent as source text: it must use nothing but its argument (the addon) and globals.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const addonPath = fileURLToPath(new URL('../index.cjs', import.meta.url));

/**
 * A seeded generator of uniform numbers in [-0.5, 0.5) (mulberry32) for test inputs. Self-contained, so the
 * functions sent to child processes can carry a copy of the same few lines.
 */
export function seededRand(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

/** Convolution geometry as the addon takes it (Conv2dInfo). */
export interface ConvGeom {
  n: number; c: number; h: number; w: number; o: number; kh: number; kw: number; sh: number; sw: number;
  ph: number; pw: number; groups: number; oh: number; ow: number;
}

/** float64 correlation: its output, input gradient and weight gradient for `dy` (any stride, padding, groups). */
export function conv64(g: ConvGeom, x: Float32Array, w: Float32Array, dy: Float32Array) {
  const cg = g.c / g.groups, og = g.o / g.groups;
  const y = new Float64Array(g.n * g.o * g.oh * g.ow), dx = new Float64Array(x.length), dw = new Float64Array(w.length);
  for (let i = 0; i < g.n; i++) for (let oc = 0; oc < g.o; oc++) {
    const gi = Math.floor(oc / og);
    for (let oy = 0; oy < g.oh; oy++) for (let ox = 0; ox < g.ow; ox++) {
      const yi = ((i * g.o + oc) * g.oh + oy) * g.ow + ox;
      for (let ic = 0; ic < cg; ic++) for (let ky = 0; ky < g.kh; ky++) {
        const iy = oy * g.sh - g.ph + ky;
        if (iy < 0 || iy >= g.h) continue;
        for (let kx = 0; kx < g.kw; kx++) {
          const ix = ox * g.sw - g.pw + kx;
          if (ix < 0 || ix >= g.w) continue;
          const xi = ((i * g.c + gi * cg + ic) * g.h + iy) * g.w + ix, wi = ((oc * cg + ic) * g.kh + ky) * g.kw + kx;
          y[yi] += x[xi] * w[wi];
          dx[xi] += dy[yi] * w[wi];
          dw[wi] += dy[yi] * x[xi];
        }
      }
    }
  }
  return { y, dx, dw };
}

/** Largest |got − want| over the largest |want| (Infinity where got has a NaN). */
export function relErr(got: Float32Array, want: Float64Array): number {
  let max = 0, scale = 1e-30;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    max = Number.isNaN(d) ? Infinity : Math.max(max, d);
    scale = Math.max(scale, Math.abs(want[i]));
  }
  return max / scale;
}

/** The helpers above, as `globalThis.testHelpers` in every child process that `inChild` starts. */
export interface TestHelpers {
  seededRand: typeof seededRand;
  conv64: typeof conv64;
  relErr: typeof relErr;
}
// (this process has them too, for checks that also run in the test process itself)
(globalThis as { testHelpers?: TestHelpers }).testHelpers = { seededRand, conv64, relErr };
const helperSource = `globalThis.testHelpers = { seededRand: ${seededRand.toString()}, conv64: ${conv64.toString()},
  relErr: ${relErr.toString()} };`;

/** Node's stdout and stderr after running `src` (source text) in a child process with `env` added. */
export function runSource(src: string, env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', src], { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`child process failed (${JSON.stringify(env)}): ${r.stderr}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

/**
 * fn(addon) in a child process with `env` added (and setNumThreads(threads) first when given); its JSON result. The
 * child has the helpers above as `globalThis.testHelpers` (fn is sent as source text, so it cannot import them).
 */
export function inChild<T>(fn: (nat: any) => T, env: Record<string, string> = {}, threads?: number): T {
  const src = `${helperSource} const nat = require(${JSON.stringify(addonPath)});
    ${threads ? `nat.setNumThreads(${threads});` : ''}
    const fn = ${fn.toString()}; console.log(JSON.stringify(fn(nat)));`;
  return JSON.parse(runSource(src, env).stdout.trim().split('\n').pop()!);
}
