#!/usr/bin/env node
// SGEMM benchmark: our packed GEMM (2 threads and 1 thread) against OpenBLAS measured in the same run.
//
//   node bench/gemm.mjs            all shapes
//   node bench/gemm.mjs --quick    fewer runs per shape, skips 4096^3
//   node bench/gemm.mjs --only conv   shapes whose label contains "conv"
//   node bench/gemm.mjs --json out.json   also writes the raw figures
//   node bench/gemm.mjs --rounds 3   repeats the whole sequence (default 2, 1 with --quick) and
//                                    pools the runs: other load on the machine then hits every
//                                    implementation alike
//
// Each (implementation, thread count) runs in its own child process (the thread count is fixed at
// start-up with CONVNET_NUM_THREADS / OPENBLAS_NUM_THREADS). Per shape: one warm-up call, then
// several timed calls; best and median GFLOP/s are reported. The machine may be shared, so compare
// the best figures (capability) and ratios measured in the same run.
// OpenBLAS is called through a small C program compiled here with gcc -O2 -lopenblas (Debian:
// apt-get install -y libopenblas-dev).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : null;
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : quick ? 1 : 2;

// [label, transA, transB, M, N, K]
const ALL_SHAPES = [
  ['square 4096', false, false, 4096, 4096, 4096],
  ['square 2048', false, false, 2048, 2048, 2048],
  ['conv1 fwd', false, false, 96, 3025, 363],
  ['conv2 fwd (group)', false, false, 128, 729, 1200],
  ['conv3 fwd', false, false, 384, 169, 2304],
  ['conv4 fwd (group)', false, false, 192, 169, 1728],
  ['conv5 fwd (group)', false, false, 128, 169, 1728],
  ['fc6 fwd', false, true, 128, 4096, 9216],
  ['fc7 fwd', false, true, 128, 4096, 4096],
  ['fc8 fwd', false, true, 128, 1000, 4096],
  ['conv1 dW', false, true, 96, 363, 3025],
  ['conv1 dX', true, false, 363, 3025, 96],
  ['conv2 dW', false, true, 128, 1200, 729],
  ['conv2 dX', true, false, 1200, 729, 128],
  ['conv3 dW', false, true, 384, 2304, 169],
  ['conv3 dX', true, false, 2304, 169, 384],
  ['fc6 dX', false, false, 128, 9216, 4096],
  ['fc6 dW', true, false, 4096, 9216, 128],
];
const SHAPES = ALL_SHAPES.filter(
  ([label]) => (!quick || label !== 'square 4096') && (!only || label.includes(only)),
);
const TARGET_SECONDS = quick ? 0.4 : 1.2; // timed seconds per shape (runs: 3 to MAX_RUNS)
const MAX_RUNS = quick ? 7 : 15;

// ---------------------------------------------------------------------------------------------
// Child: time our sgemm for every shape, print JSON.
if (args[0] === '--child-ours') {
  const native = createRequire(import.meta.url)('../index.cjs');
  const out = [];
  for (const [, ta, tb, M, N, K] of SHAPES) {
    const A = new Float32Array(M * K);
    const B = new Float32Array(K * N);
    const C = new Float32Array(M * N);
    for (let i = 0; i < A.length; i++) A[i] = ((i * 7919) % 1000) / 1000 - 0.5;
    for (let i = 0; i < B.length; i++) B[i] = ((i * 104729) % 1000) / 1000 - 0.5;
    const lda = ta ? M : K;
    const ldb = tb ? K : N;
    const call = () => native.sgemm(ta, tb, M, N, K, 1, A, lda, B, ldb, 0, C, N);
    let t0 = process.hrtime.bigint();
    call();
    const warm = Number(process.hrtime.bigint() - t0) / 1e9;
    const runs = Math.max(3, Math.min(MAX_RUNS, Math.ceil(TARGET_SECONDS / Math.max(warm, 1e-6))));
    const times = [];
    for (let r = 0; r < runs; r++) {
      t0 = process.hrtime.bigint();
      call();
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    out.push(times);
  }
  process.stdout.write(JSON.stringify({ info: native.info(), times: out }));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// OpenBLAS helper (C), compiled on the fly.
const OPENBLAS_C = String.raw`
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
/* argv: target_seconds max_runs then ta,tb,M,N,K per shape; prints {"config":..., "times":[[s,...],...]} */
int main(int argc, char** argv) {
  double target = atof(argv[1]); int max_runs = atoi(argv[2]);
  printf("{\"config\":\"%s\",\"times\":[", openblas_get_config());
  for (int s = 3; s < argc; ++s) {
    int ta, tb; long M, N, K;
    if (sscanf(argv[s], "%d,%d,%ld,%ld,%ld", &ta, &tb, &M, &N, &K) != 5) return 2;
    float* A = malloc(sizeof(float) * M * K); float* B = malloc(sizeof(float) * K * N);
    float* C = malloc(sizeof(float) * M * N);
    for (long i = 0; i < M * K; ++i) A[i] = (float)((i * 7919) % 1000) / 1000.f - 0.5f;
    for (long i = 0; i < K * N; ++i) B[i] = (float)((i * 104729) % 1000) / 1000.f - 0.5f;
    memset(C, 0, sizeof(float) * M * N);
    long lda = ta ? M : K, ldb = tb ? K : N;
#define CALL cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, \
                         M, N, K, 1.f, A, lda, B, ldb, 0.f, C, N)
    double t0 = now(); CALL; double warm = now() - t0;
    int runs = (int)(target / (warm > 1e-6 ? warm : 1e-6)) + 1;
    if (runs < 3) runs = 3; if (runs > max_runs) runs = max_runs;
    printf("%s[", s > 3 ? "," : "");
    for (int r = 0; r < runs; ++r) { t0 = now(); CALL; printf("%s%.9f", r ? "," : "", now() - t0); }
    printf("]");
    free(A); free(B); free(C);
  }
  printf("]}\n");
  return 0;
}
`;

function buildOpenblasHelper() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convnet-bench-'));
  const src = path.join(dir, 'openblas_sgemm.c');
  const exe = path.join(dir, 'openblas_sgemm');
  fs.writeFileSync(src, OPENBLAS_C);
  const incs = ['/usr/include/x86_64-linux-gnu/openblas-pthread', '/usr/include/openblas']
    .filter((d) => fs.existsSync(d))
    .map((d) => `-I${d}`);
  try {
    execFileSync('gcc', ['-O2', ...incs, src, '-o', exe, '-lopenblas'], { stdio: 'pipe' });
    return { exe, dir };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { error: String(e.stderr || e.message).split('\n')[0] };
  }
}

// ---------------------------------------------------------------------------------------------
function stats(times, [, , , M, N, K]) {
  if (!times.length) return null;
  const g = times.map((t) => (2 * M * N * K) / t / 1e9).sort((a, b) => a - b);
  const mid = g.length >> 1;
  return { best: g[g.length - 1], median: g.length % 2 ? g[mid] : (g[mid - 1] + g[mid]) / 2, runs: g.length };
}

function runOurs(threads) {
  const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child-ours', ...args], {
    env: { ...process.env, CONVNET_NUM_THREADS: String(threads) },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (res.status !== 0) throw new Error(`benchmark child failed (${res.status} ${res.signal}):\n${res.stderr}`);
  return JSON.parse(res.stdout); // { info, times: [[seconds, ...] per shape] }
}

function runOpenblas(helper, threads) {
  const shapeArgs = SHAPES.map(([, ta, tb, M, N, K]) => `${+ta},${+tb},${M},${N},${K}`);
  const res = spawnSync(helper.exe, [String(TARGET_SECONDS), String(MAX_RUNS), ...shapeArgs], {
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (res.status !== 0) throw new Error(`OpenBLAS helper failed (${res.status} ${res.signal}):\n${res.stderr}`);
  return JSON.parse(res.stdout); // { config, times }
}

const fmt = (s) => (s ? `${s.best.toFixed(1).padStart(6)} / ${s.median.toFixed(1).padStart(6)}` : '      skipped  ');
const ratio = (a, b) => (a && b ? `${(a.best / b.best).toFixed(2)}`.padStart(5) : '   - ');

const helper = buildOpenblasHelper();
const blasNote = helper.error ? `skipped: apt-get install libopenblas-dev (${helper.error})` : null;
const raw = {}; // name -> { info | config, times: per shape, all rounds pooled }
const pool = (name, r) => {
  if (!raw[name]) raw[name] = { ...r, times: r.times.map((t) => [...t]) };
  else r.times.forEach((t, i) => raw[name].times[i].push(...t));
};
for (let round = 0; round < rounds; round++) {
  for (const threads of [2, 1]) {
    pool(`ours${threads}`, runOurs(threads));
    if (!helper.error) pool(`blas${threads}`, runOpenblas(helper, threads));
  }
}
if (!helper.error) fs.rmSync(helper.dir, { recursive: true, force: true });
const results = {};
for (const [name, r] of Object.entries(raw)) {
  results[name] = { ...r, stats: r.times.map((t, i) => stats(t, SHAPES[i])) };
}

const info = results.ours1.info;
console.log(
  `convnet sgemm (isa ${info.isa}) vs OpenBLAS; GFLOP/s best / median over ${rounds} round(s); ` +
    'ratio = ours/OpenBLAS (best)',
);
console.log(`cpu: ${os.cpus()[0]?.model ?? 'unknown'}, ${os.cpus().length} cores`);
console.log(`OpenBLAS: ${blasNote ?? results.blas1.config}`);
const head = [
  'shape'.padEnd(18), 'transA/B', 'M x N x K'.padEnd(17),
  'ours 1T'.padEnd(15), 'BLAS 1T'.padEnd(15), 'ratio', ' ',
  'ours 2T'.padEnd(15), 'BLAS 2T'.padEnd(15), 'ratio',
].join(' | ');
console.log(head);
console.log('-'.repeat(head.length));
SHAPES.forEach((shape, i) => {
  const [label, ta, tb, M, N, K] = shape;
  const o1 = results.ours1.stats[i], o2 = results.ours2.stats[i];
  const b1 = results.blas1?.stats[i], b2 = results.blas2?.stats[i];
  console.log([
    label.padEnd(18), `${ta ? 'T' : 'N'}${tb ? 'T' : 'N'}`.padEnd(8), `${M}x${N}x${K}`.padEnd(17),
    fmt(o1), fmt(b1), ratio(o1, b1), ' ', fmt(o2), fmt(b2), ratio(o2, b2),
  ].join(' | '));
});
if (jsonOut) {
  fs.writeFileSync(jsonOut, JSON.stringify({ shapes: SHAPES, blas: blasNote ?? 'ok', results }, null, 2));
  console.log(`raw figures written to ${jsonOut}`);
}
