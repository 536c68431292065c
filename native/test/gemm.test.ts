// sgemm against a float64 reference: all transpose combinations, alpha/beta values, beta = 0 with a
// NaN-filled C, padded leading dimensions, edge sizes and AlexNet's shapes; every ISA path this CPU
// can run (child processes with CONVNET_ISA set); thread-count independence; argument errors.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const addonPath = fileURLToPath(new URL('../index.cjs', import.meta.url));
const native = createRequire(import.meta.url)('../index.cjs');

interface CheckOptions {
  seed: number;
  /** Include the large fully-connected shapes (slow on the portable path). */
  big: boolean;
}
interface CheckResult {
  cases: number;
  failures: string[];
  /** FNV-1a hash of every result's bits, to compare runs with different thread counts. */
  digest: string;
}

// Self-contained (no imports or outer variables): it is also sent as source text to child processes.
const runChecks = (nat: any, opts: CheckOptions): CheckResult => {
  let state = opts.seed >>> 0;
  const rand = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const randArray = (n: number) => {
    const a = new Float32Array(n);
    // Large arrays repeat a block of a prime length (65521) that lines up with no tile or block.
    const fresh = Math.min(n, 65521);
    for (let i = 0; i < fresh; i++) a[i] = rand() * 2 - 1;
    for (let i = fresh; i < n; i += fresh) a.copyWithin(i, 0, Math.min(fresh, n - i));
    return a;
  };
  let hash = 0x811c9dc5;
  const hashArray = (a: Float32Array) => {
    const u = new Uint32Array(a.buffer, a.byteOffset, a.length);
    for (let i = 0; i < u.length; i++) hash = Math.imul(hash ^ u[i], 0x01000193) >>> 0;
  };
  const failures: string[] = [];
  let cases = 0;
  const SENTINEL = 12345.5;

  const check = (
    ta: boolean, tb: boolean, M: number, N: number, K: number, alpha: number, beta: number,
    pad: [number, number, number], sample: boolean,
  ) => {
    cases++;
    // Leading dimensions are at least 1 (as in BLAS), even for empty matrices.
    const lda = Math.max(1, (ta ? M : K) + pad[0]);
    const ldb = Math.max(1, (tb ? K : N) + pad[1]);
    const ldc = Math.max(1, N + pad[2]);
    const A = randArray((ta ? K : M) * lda);
    const B = randArray((tb ? N : K) * ldb);
    const C = new Float32Array(M * ldc);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < ldc; j++)
        C[i * ldc + j] = j >= N ? SENTINEL : beta === 0 ? NaN : rand() * 2 - 1;
    const C0 = C.slice();
    nat.sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    hashArray(C);

    // Rows and columns to check against the float64 reference (all of them unless sampling).
    const rows = new Set<number>();
    const cols = new Set<number>();
    if (sample) {
      for (const i of [0, 1, M >> 1, M - 2, M - 1]) if (i >= 0 && i < M) rows.add(i);
      for (let r = 0; r < 2; r++) rows.add(Math.floor(rand() * M));
      for (const j of [0, 1, N >> 1, N - 2, N - 1]) if (j >= 0 && j < N) cols.add(j);
      for (let r = 0; r < 2; r++) cols.add(Math.floor(rand() * N));
    } else {
      for (let i = 0; i < M; i++) rows.add(i);
    }
    const eps = 2 ** -24;
    let worst = 0;
    let worstAt = '';
    let bad = 0;
    const compare = (i: number, j: number, s: number, abs: number) => {
      const c0 = C0[i * ldc + j];
      const ref = alpha * s + (beta === 0 ? 0 : beta * c0);
      const refAbs = Math.abs(alpha) * abs + (beta === 0 ? 0 : Math.abs(beta * c0));
      // atol + rtol * |ref|, both growing with K (float32 summation error bound ~ K * eps * sum|ab|).
      const tol = 1e-6 + 2 * (K + 4) * eps * (refAbs + Math.abs(ref));
      const got = C[i * ldc + j];
      const err = Math.abs(got - ref);
      if (!(err <= tol)) {
        bad++;
        const rel = Number.isFinite(err) ? err / tol : Infinity;
        if (!(rel <= worst)) {
          worst = rel;
          worstAt = `C[${i},${j}] = ${got}, expected ${ref} (error ${err}, tolerance ${tol})`;
        }
      }
    };
    // Reference for a whole row i of C (float64 accumulation).
    const sum = new Float64Array(Math.max(M, N));
    const abs = new Float64Array(Math.max(M, N));
    const vec = new Float64Array(K);
    const checkRow = (i: number) => {
      for (let k = 0; k < K; k++) vec[k] = ta ? A[k * lda + i] : A[i * lda + k];
      sum.fill(0);
      abs.fill(0);
      if (!tb) {
        for (let k = 0; k < K; k++) {
          const a = vec[k];
          const o = k * ldb;
          for (let j = 0; j < N; j++) {
            const p = a * B[o + j];
            sum[j] += p;
            abs[j] += Math.abs(p);
          }
        }
      } else {
        for (let j = 0; j < N; j++) {
          const o = j * ldb;
          let s1 = 0;
          let s2 = 0;
          for (let k = 0; k < K; k++) {
            const p = vec[k] * B[o + k];
            s1 += p;
            s2 += Math.abs(p);
          }
          sum[j] = s1;
          abs[j] = s2;
        }
      }
      for (let j = 0; j < N; j++) compare(i, j, sum[j], abs[j]);
    };
    // ... and for a whole column j.
    const checkCol = (j: number) => {
      for (let k = 0; k < K; k++) vec[k] = tb ? B[j * ldb + k] : B[k * ldb + j];
      sum.fill(0);
      abs.fill(0);
      if (ta) {
        for (let k = 0; k < K; k++) {
          const b = vec[k];
          const o = k * lda;
          for (let i = 0; i < M; i++) {
            const p = b * A[o + i];
            sum[i] += p;
            abs[i] += Math.abs(p);
          }
        }
      } else {
        for (let i = 0; i < M; i++) {
          const o = i * lda;
          let s1 = 0;
          let s2 = 0;
          for (let k = 0; k < K; k++) {
            const p = vec[k] * A[o + k];
            s1 += p;
            s2 += Math.abs(p);
          }
          sum[i] = s1;
          abs[i] = s2;
        }
      }
      for (let i = 0; i < M; i++) if (!rows.has(i)) compare(i, j, sum[i], abs[i]);
    };
    for (const i of rows) checkRow(i);
    for (const j of cols) checkCol(j);
    // Padding columns of C must be untouched.
    let padTouched = 0;
    for (let i = 0; i < M; i++)
      for (let j = N; j < ldc; j++) if (C[i * ldc + j] !== SENTINEL) padTouched++;
    if (bad || padTouched) {
      failures.push(
        `sgemm(transA=${ta}, transB=${tb}, M=${M}, N=${N}, K=${K}, alpha=${alpha}, beta=${beta}, ` +
          `lda=${lda}, ldb=${ldb}, ldc=${ldc}): ${bad} wrong elements` +
          (bad ? `, largest error/tolerance ${worst.toPrecision(3)} at ${worstAt}` : '') +
          (padTouched ? `, ${padTouched} padding elements of C overwritten` : ''),
      );
    }
  };

  const sizes = [0, 1, 2, 3, 7, 13, 17, 31, 33, 65, 129];
  const ab: [number, number][] = [[1, 0], [1, 1], [-0.75, 0.5], [2, 0], [0.5, -1.25]];
  const flags = [false, true];
  let v = 0;
  for (const ta of flags)
    for (const tb of flags) {
      // Every M x N pair with a rotating K, alpha/beta and leading-dimension padding.
      for (const M of sizes)
        for (const N of sizes) {
          const K = sizes[(v * 7 + 3) % sizes.length];
          const [alpha, beta] = ab[v % ab.length];
          const pad: [number, number, number] = v % 3 === 0 ? [0, 0, 0] : [v % 5, (v * 3) % 7, v % 4];
          check(ta, tb, M, N, K, alpha, beta, pad, false);
          v++;
        }
      // Every K for a few M x N, including ones that are exact multiples of the tiles.
      for (const K of [...sizes, 256, 257, 300, 520])
        for (const [M, N] of [[6, 16], [12, 32], [13, 17], [65, 33]]) {
          const [alpha, beta] = ab[v % ab.length];
          check(ta, tb, M, N, K, alpha, beta, [v % 2, 1, 3], false);
          v++;
        }
      // A few rows times a transposed B (the direct dot-product path: M <= 4, K >= 64, no packing): each
      // column remainder of its 4-column steps and K tails, next to M = 5 (the packed path).
      for (const M of [1, 2, 3, 4, 5])
        for (const K of [64, 71, 1031])
          for (const N of [1, 6, 33]) {
            const [alpha, beta] = ab[v % ab.length];
            check(ta, tb, M, N, K, alpha, beta, [v % 3, (v * 5) % 4, v % 2], false);
            v++;
          }
      // Shapes that cross the cache blocks (MC, NC, several KC blocks).
      check(ta, tb, 300, 4100, 20, 1, 0.5, [1, 2, 3], true);
      check(ta, tb, 151, 45, 700, 1.5, 0, [0, 0, 0], false);
      check(ta, tb, 400, 70, 33, 1, 1, [2, 0, 1], true);
    }
  // AlexNet: convolutions as GEMMs (forward, and the transposed backward forms) and FC layers.
  const alex: [boolean, boolean, number, number, number][] = [
    [false, false, 96, 3025, 363],
    [false, false, 128, 729, 1200],
    [false, false, 384, 169, 2304],
    [false, false, 192, 169, 1728],
    [false, false, 128, 169, 1728],
    [true, false, 363, 3025, 96], // conv1 backward data: W^T * dY
    [false, true, 96, 363, 3025], // conv1 backward filter: dY * col^T
    [false, true, 128, 1200, 729],
    [true, false, 1200, 729, 128],
  ];
  if (opts.big) {
    alex.push([false, true, 128, 1000, 4096]); // FC forward: X * W^T
    alex.push([false, true, 128, 4096, 9216]);
    alex.push([false, false, 128, 9216, 4096]); // FC backward data: dY * W
    alex.push([true, false, 4096, 4096, 128]); // FC backward weights: dY^T * X
  }
  for (const [ta, tb, M, N, K] of alex) {
    const [alpha, beta] = ab[v % ab.length];
    check(ta, tb, M, N, K, alpha, beta, [0, 0, 0], true);
    v++;
  }
  return { cases, failures, digest: hash.toString(16) };
};

function runInChild(env: Record<string, string>, opts: CheckOptions): CheckResult & { isa: string } {
  const script =
    `const nat = require(${JSON.stringify(addonPath)});\n` +
    `const runChecks = ${runChecks.toString()};\n` +
    `const r = runChecks(nat, ${JSON.stringify(opts)});\n` +
    `process.stdout.write(JSON.stringify({ ...r, isa: nat.info().isa }));\n`;
  const res = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    maxBuffer: 1 << 26,
    timeout: 120_000,
  });
  if (res.status !== 0) {
    throw new Error(`child (${JSON.stringify(env)}) failed: status ${res.status}, signal ${res.signal}\n${res.stderr}`);
  }
  return JSON.parse(res.stdout);
}

const info = native.info();
// Every ISA path this CPU can run. CONVNET_GEMM_EMULATE_AVX512=1 (AVX2 CPUs only) runs the AVX-512
// engine's tile geometry and code with 16-wide vectors lowered to AVX2.
const paths: { name: string; env: Record<string, string>; isa: string }[] = [
  { name: 'generic', env: { CONVNET_ISA: 'generic' }, isa: 'generic' },
];
// (The active ISA's path is also covered in-process, with the large shapes.)
if (info.avx2) paths.push({ name: 'avx2', env: { CONVNET_ISA: 'avx2' }, isa: 'avx2' });
if (info.avx2 && !info.avx512)
  paths.push({
    name: 'avx512 geometry on avx2',
    env: { CONVNET_ISA: 'avx2', CONVNET_GEMM_EMULATE_AVX512: '1' },
    isa: 'avx2',
  });
if (info.avx512) paths.push({ name: 'avx512', env: {}, isa: 'avx512' });

describe('sgemm', () => {
  it(`matches the float64 reference (active isa: ${info.isa}, ${info.threads} threads)`, () => {
    const r = runChecks(native, { seed: 1, big: true });
    expect(r.cases).toBeGreaterThan(500);
    expect(r.failures, r.failures.slice(0, 5).join('\n')).toEqual([]);
  });

  for (const p of paths) {
    it(`matches the reference on the ${p.name} path (child process)`, () => {
      const r = runInChild(p.env, { seed: 2, big: false });
      expect(r.isa).toBe(p.isa);
      expect(r.failures, r.failures.slice(0, 5).join('\n')).toEqual([]);
    });
  }

  it('gives bit-identical results with 1 and 2 threads', () => {
    const opts = { seed: 3, big: false };
    const one = runInChild({ CONVNET_NUM_THREADS: '1' }, opts);
    const two = runInChild({ CONVNET_NUM_THREADS: '2' }, opts);
    expect(one.failures).toEqual([]);
    expect(two.failures).toEqual([]);
    expect(two.digest).toBe(one.digest);
  });

  it('throws on bad arguments instead of crashing', () => {
    const A = new Float32Array(6);
    const B = new Float32Array(6);
    const C = new Float32Array(4);
    const ok = () => native.sgemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
    expect(ok).not.toThrow();
    const bad: [string, () => void][] = [
      ['transA not a boolean', () => native.sgemm(0, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2)],
      ['M a string', () => native.sgemm(false, false, '2', 2, 3, 1, A, 3, B, 2, 0, C, 2)],
      ['negative N', () => native.sgemm(false, false, 2, -1, 3, 1, A, 3, B, 2, 0, C, 2)],
      ['fractional K', () => native.sgemm(false, false, 2, 2, 1.5, 1, A, 3, B, 2, 0, C, 2)],
      ['alpha missing', () => native.sgemm(false, false, 2, 2, 3, undefined, A, 3, B, 2, 0, C, 2)],
      ['A a Float64Array', () => native.sgemm(false, false, 2, 2, 3, 1, new Float64Array(6), 3, B, 2, 0, C, 2)],
      ['B a plain array', () => native.sgemm(false, false, 2, 2, 3, 1, A, 3, [1, 2, 3, 4, 5, 6], 2, 0, C, 2)],
      ['A too short', () => native.sgemm(false, false, 2, 2, 3, 1, A.subarray(1), 3, B, 2, 0, C, 2)],
      ['B too short', () => native.sgemm(false, false, 2, 2, 3, 1, A, 3, B.subarray(0, 5), 2, 0, C, 2)],
      ['C too short', () => native.sgemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C.subarray(1), 2)],
      ['lda too small', () => native.sgemm(false, false, 2, 2, 3, 1, A, 2, B, 2, 0, C, 2)],
      ['ldb too small (transB)', () => native.sgemm(false, true, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2)],
      ['ldc too small', () => native.sgemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0, C, 1)],
      ['lda too large for A', () => native.sgemm(false, false, 2, 2, 3, 1, A, 5, B, 2, 0, C, 2)],
      ['too few arguments', () => native.sgemm(false, false, 2, 2, 3, 1, A, 3, B, 2, 0)],
    ];
    for (const [what, fn] of bad) expect(fn, what).toThrow();
  });
});
