// The bf16 matmul precision: sgemm against a float64 reference computed from bf16-rounded inputs, for every
// transpose combination, odd sizes, alpha/beta, K past one depth block, a few rows times a transposed B (direct dot
// products); on the engine this CPU picks
// (AVX512-BF16 hardware where present) and on the emulation (CONVNET_BF16_ENGINE=emulated, CONVNET_ISA=avx2
// and generic); the same digest for 1 and 2 threads; the switch and its errors.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { addonPath, inChild, runSource } from './child';

const native = createRequire(import.meta.url)('../index.cjs');

// Self-contained: also sent as source text to child processes.
const runChecks = (nat: any) => {
  nat.setMatmulPrecision('bf16');
  let state = 12345;
  const rand = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const bf16 = (x: number) => {
    f[0] = x;
    const b = u[0];
    u[0] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 0) & 0xffff0000;
    return f[0];
  };
  const failures: string[] = [];
  let hash = 0x811c9dc5, roundedSomewhere = false, cases = 0;
  // (M <= 4 with K >= 64: a linear layer's forward at batch <= 4, the direct dot products when B is transposed)
  const shapes = [[1, 1, 1], [7, 5, 3], [13, 33, 17], [25, 70, 129], [64, 40, 1100], [3, 200, 9], [130, 131, 2],
    [1, 37, 300], [2, 64, 64], [3, 5, 77], [4, 9, 1031]];
  for (const [M, N, K] of shapes)
    for (const ta of [false, true])
      for (const tb of [false, true])
        for (const [alpha, beta] of [[1, 0], [0.5, 2]]) {
          const lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
          const A = Float32Array.from({ length: (ta ? K : M) * lda }, rand);
          const B = Float32Array.from({ length: (tb ? N : K) * ldb }, rand);
          const C0 = Float32Array.from({ length: M * ldc }, rand);
          const C = C0.slice();
          nat.sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
          cases++;
          for (let i = 0; i < M; i++)
            for (let j = 0; j < N; j++) {
              let ref = 0, exact = 0, mag = 0;
              for (let k = 0; k < K; k++) {
                const a = ta ? A[k * lda + i] : A[i * lda + k], b = tb ? B[j * ldb + k] : B[k * ldb + j];
                ref += bf16(a) * bf16(b);
                exact += a * b;
                mag += Math.abs(bf16(a) * bf16(b));
              }
              const want = alpha * ref + beta * C0[i * ldc + j];
              const got = C[i * ldc + j];
              const tol = (K + 4) * 1.2e-7 * (Math.abs(alpha) * mag + Math.abs(beta * C0[i * ldc + j])) + 1e-7;
              if (!(Math.abs(got - want) <= tol) && failures.length < 5)
                failures.push(`${M}x${N}x${K} ta=${ta} tb=${tb} a=${alpha} b=${beta} [${i},${j}]: got ${got}, want ${want}`);
              if (Math.abs(got - (alpha * exact + beta * C0[i * ldc + j])) > 20 * tol) roundedSomewhere = true;
              f[0] = got;
              hash = Math.imul(hash ^ u[0], 16777619) >>> 0;
            }
        }
  return { cases, failures, roundedSomewhere, digest: hash.toString(16), engine: nat.matmulPrecision().bf16Engine };
};

const child = (env: Record<string, string>) => inChild(runChecks, env);

describe('bf16 matmul precision', () => {
  it('matches bf16-rounded inputs summed in float64 on this CPU\'s engine, and really rounds', () => {
    const r = child({});
    expect(r.failures).toEqual([]);
    expect(r.cases).toBe(88);
    expect(r.roundedSomewhere).toBe(true);
    const f = native.info();
    expect(r.engine).toBe(f.avx512bf16 ? 'avx512bf16-12x32' : f.avx2 ? 'avx2-bf16-emulated-4x16' : 'generic-bf16-emulated');
  });
  it('the emulations (AVX2, portable) give the same numbers within float32 rounding', () => {
    const envs: Record<string, string>[] = [{ CONVNET_BF16_ENGINE: 'emulated' }, { CONVNET_ISA: 'avx2' }, { CONVNET_ISA: 'generic' }];
    // the AVX-512 engine's 16-wide direct dot products, lowered to AVX2
    if (native.info().avx2 && !native.info().avx512) envs.push({ CONVNET_ISA: 'avx2', CONVNET_GEMM_EMULATE_AVX512: '1' });
    for (const env of envs) {
      const r = child(env);
      expect(r.failures, JSON.stringify(env)).toEqual([]);
      expect(r.roundedSomewhere).toBe(true);
    }
    if (native.info().avx2) expect(child({ CONVNET_BF16_ENGINE: 'emulated' }).engine).toBe('avx2-bf16-emulated-4x16');
  });
  it('results depend on nothing but the inputs: 1 and 2 threads agree bit for bit', () => {
    expect(child({ CONVNET_NUM_THREADS: '1' }).digest).toBe(child({ CONVNET_NUM_THREADS: '2' }).digest);
  });
  it('is opt-in: fp32 by default, CONVNET_MATMUL_PRECISION=bf16 or setMatmulPrecision turn it on', () => {
    const src = `const n = require(${JSON.stringify(addonPath)}); console.log(n.matmulPrecision().precision)`;
    const run = (env: Record<string, string>) => runSource(src, env).stdout.trim();
    expect(run({ CONVNET_MATMUL_PRECISION: '' })).toBe('fp32');
    expect(run({ CONVNET_MATMUL_PRECISION: 'bf16' })).toBe('bf16');
    const before = native.matmulPrecision().precision;
    try {
      native.setMatmulPrecision('bf16');
      expect(native.matmulPrecision().precision).toBe('bf16');
      native.setMatmulPrecision('fp32');
      expect(native.matmulPrecision().precision).toBe('fp32');
    } finally {
      native.setMatmulPrecision(before);
    }
    expect(() => native.setMatmulPrecision('fp16')).toThrow(/setMatmulPrecision.*'fp32' or 'bf16'/);
    expect(() => native.setMatmulPrecision()).toThrow(/setMatmulPrecision/);
  });
});
