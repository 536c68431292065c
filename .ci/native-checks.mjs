#!/usr/bin/env node
// CI's native checks, after the README's test command (run from the repository root, after `pnpm build`):
//   1. thread counts above the core count: the native tests and the tensor conformance suite at
//      CONVNET_NUM_THREADS=1, 3 and 5 (results are deterministic per thread count, and tested so);
//   2. the sanitizer build (native/scripts/sanitize.mjs: AddressSanitizer + UndefinedBehaviorSanitizer on every
//      addon, exact-size scratch): the native tests (which include 1, 3, 5 and 8 threads on every ISA), the tensor
//      conformance suite on each ISA at 3 threads, the batch-norm kernels and the CUDA host emulator's conformance,
//      and a short training (with its test pass) of every built-in net at 3 threads.
// Ends with one line: `native checks: N passed, N failed, N skipped` (vitest tests plus one per training run). With
// CONVNET_TEST_REPORTS=DIR (set by .ci/run) every report is also kept there, each test file's name followed by the
// run's label (`native/test/gemm.test.ts [3 threads]`), so that CI's summed line counts every run of a test, and each
// training run as a report of one test. Options: --skip-sanitizer, --skip-threads.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const work = mkdtempSync(join(tmpdir(), 'convnet-native-checks-'));
const totals = { passed: 0, failed: 0, skipped: 0 };
const failures = [];
let seq = 0;

function run(label, cmd, argv, { cwd = root, env = {} } = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { cwd, stdio: 'inherit', env: { ...process.env, NO_COLOR: '1', ...env } });
  console.log(`native-checks: ${label}: exit ${r.status} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return r.status === 0;
}

// Keeps a vitest-format report in $CONVNET_TEST_REPORTS under the run's label (see the header).
function keep(report, label) {
  const dir = process.env.CONVNET_TEST_REPORTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  for (const f of report.testResults ?? []) f.name = `${f.name} [${label}]`;
  const n = readdirSync(dir).filter((f) => f.endsWith('.json')).length;
  writeFileSync(join(dir, `${String(n).padStart(3, '0')}-native-checks-${label.replace(/[^A-Za-z0-9_-]+/g, '_')}.json`),
    JSON.stringify(report));
}

function vitest(label, pkgDir, files, env, sanitize) {
  const out = join(work, `${++seq}.json`);
  const argv = ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...files];
  const ok = sanitize
    ? run(label, 'node', [join(root, 'native/scripts/sanitize.mjs'), 'run', '--', 'pnpm', ...argv], { cwd: join(root, pkgDir), env })
    : run(label, 'pnpm', argv, { cwd: join(root, pkgDir), env });
  if (!existsSync(out)) {
    totals.failed += 1;
    failures.push(`${label}: no report (the run died)`);
    return;
  }
  const r = JSON.parse(readFileSync(out, 'utf8'));
  keep(r, label);
  totals.passed += r.numPassedTests ?? 0;
  totals.failed += r.numFailedTests ?? 0;
  totals.skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
  if ((r.numFailedTests ?? 0) > 0 || !ok) failures.push(label);
}

function training(label, argv, env) {
  const dir = join(work, `run-${++seq}`);
  const ok = run(label, 'node', [join(root, 'native/scripts/sanitize.mjs'), 'run', '--', 'node',
    join(root, 'apps/trainer/dist/cli.js'), 'train', '--data', 'synthetic', '--run', dir, ...argv], { env });
  keep({ testResults: [{ name: join(root, '.ci/native-checks.mjs'), status: ok ? 'passed' : 'failed',
    assertionResults: [{ status: ok ? 'passed' : 'failed', fullName: label }] }] }, 'training');
  if (ok) totals.passed += 1;
  else {
    totals.failed += 1;
    failures.push(label);
  }
}

const isas = (() => {
  const info = JSON.parse(spawnSync('node', ['-p', "JSON.stringify(require('./native/index.cjs').info())"],
    { cwd: root, encoding: 'utf8' }).stdout);
  return ['generic', ...(info.avx2 ? ['avx2'] : []), ...(info.avx512 ? ['avx512'] : [])];
})();

try {
  if (!args.has('--skip-threads')) {
    for (const t of ['1', '3', '5']) {
      const env = { CONVNET_NUM_THREADS: t };
      vitest(`native tests, ${t} threads`, 'native', [], env, false);
      vitest(`tensor conformance, ${t} threads`, 'packages/tensor', ['test/conformance.test.ts'], env, false);
    }
  }
  if (!args.has('--skip-sanitizer')) {
    if (!run('sanitizer build', 'node', [join(root, 'native/scripts/sanitize.mjs'), 'build'])) {
      totals.failed += 1;
      failures.push('sanitizer build');
    } else {
      vitest('native tests, sanitized', 'native', [], {}, true);
      for (const isa of isas)
        vitest(`tensor conformance, sanitized, ${isa}, 3 threads`, 'packages/tensor', ['test/conformance.test.ts'],
          { CONVNET_ISA: isa, CONVNET_NUM_THREADS: '3' }, true);
      vitest('batch-norm kernels, sanitized, 3 threads', 'packages/kernels-batchnorm', [], { CONVNET_NUM_THREADS: '3' }, true);
      vitest('CUDA host emulator conformance, sanitized', 'packages/cuda', ['test/conformance.test.ts'], {}, true);
      const small = ['--epochs', '1', '--limit-train', '24', '--limit-test', '8', '--batch-size', '8', '--threads', '3'];
      for (const model of ['small-bn', 'small', 'cifar-18pct', 'cifar-80sec'])
        training(`train ${model}, sanitized, 3 threads`, ['--model', model, ...small]);
      const big = ['--max-steps', '2', '--batch-size', '4', '--threads', '3', '--limit-test', '4'];
      for (const model of ['paper', 'torchvision'])
        training(`train ${model}, sanitized, 3 threads`, ['--model', model, ...big]);
      for (const isa of isas.filter((i) => i !== isas[isas.length - 1]))
        training(`train paper, sanitized, ${isa}, 5 threads`, ['--model', 'paper', '--max-steps', '1', '--batch-size', '2',
          '--threads', '5'], { CONVNET_ISA: isa });
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (failures.length) console.log(`native-checks: failed: ${failures.join('; ')}`);
console.log(`native checks: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failures.length ? 1 : 0);
