#!/usr/bin/env node
// Runs every workspace package's tests (through turbo, after building) and ends with ONE line summed over all
// packages, the line CI reads:  tests: N passed, N failed, N skipped
// Before it, each skipped test is listed under its reason (the "(skipped: …)" part of its name).
//
//   node test/run-all.mjs [turbo args]         every package (what `pnpm test` runs)
//   node test/run-all.mjs --in DIR [files]     one package's tests (vitest in DIR, e.g. apps/trainer), or some files
//   node test/run-all.mjs --rerun-skipped      runs again the test files of kept reports with tests skipped (last
//                                              result) for a missing install (the reason names it), not a GPU
//   node test/run-all.mjs --summary            the line over every report kept in $CONVNET_TEST_REPORTS
//
// With CONVNET_TEST_REPORTS=DIR (set by .ci/run) each run also keeps its JSON reports there, numbered in run order,
// and prints the line over all of them: a test that ran again (after installing an optional part) counts once, with
// its last result.
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keepDir = process.env.CONVNET_TEST_REPORTS ? resolve(process.env.CONVNET_TEST_REPORTS) : null;
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', NO_COLOR: '1' };
const REPORT = '.vitest-report.json';

/** Every package directory with a test script. */
function testedPackages() {
  const dirs = [];
  for (const group of ['packages', 'apps']) {
    const base = join(root, group);
    if (existsSync(base)) for (const d of readdirSync(base).sort()) dirs.push(join(base, d));
  }
  dirs.push(join(root, 'native'), join(root, 'test'));
  return dirs
    .filter((d) => existsSync(join(d, 'package.json')))
    .map((d) => ({ dir: d, pkg: JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) }))
    .filter(({ pkg }) => pkg.scripts?.test);
}

/** Copies a package's report into the kept reports, numbered after those already there. */
function keep(dir, name) {
  if (!keepDir) return;
  mkdirSync(keepDir, { recursive: true });
  const n = readdirSync(keepDir).filter((f) => f.endsWith('.json')).length;
  const safe = name.replace(/[^A-Za-z0-9_-]+/g, '_');
  copyFileSync(join(dir, REPORT), join(keepDir, `${String(n).padStart(3, '0')}-${safe}.json`));
}

/** Where the balanced "( … )" group of `name` with `skipped` or `not run` in it starts and ends; null without one. */
function skipGroup(name) {
  const at = [name.indexOf('skipped'), name.indexOf('not run')].filter((i) => i >= 0).sort((x, y) => x - y)[0];
  if (at === undefined) return null;
  let start = -1;
  for (let i = at, depth = 0; i >= 0; i--) {
    if (name[i] === ')') depth++;
    else if (name[i] === '(' && depth-- === 0) { start = i; break; }
  }
  if (start < 0) return { start: at, end: name.length };
  let end = name.length;
  for (let i = start + 1, depth = 0; i < name.length; i++) {
    if (name[i] === '(') depth++;
    else if (name[i] === ')' && depth-- === 0) { end = i + 1; break; }
  }
  return { start, end };
}

/** The reason in a skipped test's name ("(skipped: why)", "(not run: why)", "(…; skipped when …)"), or null. */
function skipReason(name) {
  const g = skipGroup(name);
  return g && name.slice(g.start, g.end).replace(/^\(/, '').replace(/\)$/, '').replace(/^(skipped|not run):\s*/, '');
}

/** The name without its skip reason: the same test skipped in one run and run in the next has one key. */
function withoutReason(name) {
  const g = skipGroup(name);
  return g ? `${name.slice(0, g.start).trimEnd()} ${name.slice(g.end).trimStart()}`.trim() : name;
}

/**
 * Results of the given reports, by test (package, file and name without its skip reason), the last report
 * winning. A test file that failed before running any test counts as one failed test.
 */
function collect(reports) {
  const results = new Map();
  for (const { file, label } of reports) {
    const r = JSON.parse(readFileSync(file, 'utf8'));
    for (const f of r.testResults ?? []) {
      const path = relative(root, f.name);
      if (!f.assertionResults?.length) {
        const name = f.message?.split('\n')[0] || 'failed to run';
        if (f.status === 'failed') results.set(`${path} (file)`, { status: 'failed', path, name, label });
        continue;
      }
      for (const t of f.assertionResults) {
        const status = t.status === 'pending' || t.status === 'todo' || t.status === 'skipped' ? 'skipped' : t.status;
        const reason = status === 'skipped' ? skipReason(t.fullName) : null;
        const name = withoutReason(t.fullName);
        results.set(`${path} ${name}`, { status, path, name, reason, label });
      }
    }
  }
  return results;
}

const clip = (s, n) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Prints the skipped tests grouped by reason, then the one summed line; returns the failed count. */
function summarise(results, notes = []) {
  const count = { passed: 0, failed: 0, skipped: 0 };
  const byReason = new Map();
  const failed = [];
  for (const t of results.values()) {
    count[t.status === 'passed' ? 'passed' : t.status === 'skipped' ? 'skipped' : 'failed']++;
    if (t.status === 'skipped') {
      const reason = t.reason ?? 'no reason in its name';
      if (!byReason.has(reason)) byReason.set(reason, []);
      byReason.get(reason).push(t);
    } else if (t.status !== 'passed') failed.push(t);
  }
  if (byReason.size) {
    console.log(`skipped tests, by reason:`);
    for (const [reason, ts] of byReason) {
      console.log(`  ${clip(reason, 200)}: ${ts.length}`);
      for (const t of ts) console.log(`    ${clip(`${t.path}: ${t.name}`, 116)}`);
    }
  }
  for (const t of failed) console.log(`failed: ${clip(`${t.path}: ${t.name}`, 200)}`);
  for (const n of notes) console.log(n);
  count.failed += notes.length;
  console.log(`tests: ${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped`);
  return count.failed;
}

/** Notes of packages whose tests did not start, kept beside the reports. */
function keptNotes() {
  const f = keepDir && join(keepDir, 'not-started.txt');
  return f && existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

function keptReports() {
  if (!keepDir || !existsSync(keepDir)) return [];
  const names = readdirSync(keepDir).filter((f) => f.endsWith('.json')).sort();
  return names.map((f) => ({ file: join(keepDir, f), label: f }));
}

const args = process.argv.slice(2);
if (args[0] === '--summary') {
  if (!keepDir) throw new Error('--summary needs CONVNET_TEST_REPORTS (the folder of kept reports)');
  const reports = keptReports();
  const notes = [...keptNotes(), ...(reports.length ? [] : [`no test reports in ${keepDir}`])];
  const failed = summarise(collect(reports), notes);
  process.exit(failed === 0 ? 0 : 1);
}

/** vitest on some files of one package; its report in the package's folder. Returns the exit status. */
function vitestIn(dir, files) {
  rmSync(join(dir, REPORT), { force: true });
  const vitest = ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${REPORT}`];
  return spawnSync('pnpm', [...vitest, ...files], { cwd: dir, stdio: 'inherit', env }).status;
}

/** Runs `runs` ([{dir, pkg, files}]) one package after another, keeps the reports, prints the line; exits. */
function runEach(runs) {
  let status = 0;
  const missing = [];
  const reports = [];
  for (const { dir, pkg, files } of runs) {
    if (vitestIn(dir, files) !== 0) status = 1;
    if (!existsSync(join(dir, REPORT))) {
      missing.push(`no test report from ${pkg.name} (its test run failed to start)`);
      continue;
    }
    reports.push({ file: join(dir, REPORT), label: pkg.name });
    keep(dir, pkg.name);
  }
  finish(status, reports, missing);
}

/** Keeps the notes of packages whose tests did not start, prints the summed line and exits. */
function finish(status, reports, missing) {
  // with kept reports, the line covers everything run so far (the README's `pnpm test`, then CI's later steps)
  if (keepDir && missing.length) {
    mkdirSync(keepDir, { recursive: true });
    appendFileSync(join(keepDir, 'not-started.txt'), missing.map((m) => `${m}\n`).join(''));
  }
  const failed = keepDir ? summarise(collect(keptReports()), keptNotes()) : summarise(collect(reports), missing);
  process.exit(status === 0 && failed === 0 ? 0 : 1);
}

if (args[0] === '--in') {
  const dir = resolve(root, args[1] ?? '');
  const pkg = testedPackages().find((p) => p.dir === dir);
  if (!pkg) throw new Error(`--in ${args[1]}: not a package with tests (packages/*, apps/*, native, test)`);
  runEach([{ ...pkg, files: args.slice(2) }]);
}

if (args[0] === '--rerun-skipped') {
  if (!keepDir) throw new Error('--rerun-skipped needs CONVNET_TEST_REPORTS (the folder of kept reports)');
  const packages = testedPackages().sort((a, b) => b.dir.length - a.dir.length);
  const byPackage = new Map();
  for (const t of collect(keptReports()).values()) {
    // skipped for something missing that can be installed (the reason says "install"), but not for a missing GPU
    if (t.status !== 'skipped' || !/install/i.test(t.reason ?? '') || /\b(CUDA|GPU)\b/i.test(t.reason)) continue;
    const pkg = packages.find((p) => join(root, t.path).startsWith(`${p.dir}/`));
    if (!pkg) continue;
    if (!byPackage.has(pkg)) byPackage.set(pkg, new Set());
    byPackage.get(pkg).add(relative(pkg.dir, join(root, t.path)));
  }
  const runs = [...byPackage].map(([pkg, files]) => ({ ...pkg, files: [...files].sort() }));
  for (const r of runs) console.log(`again: ${relative(root, r.dir) || '.'}: ${r.files.join(' ')}`);
  if (!runs.length) console.log('no test was skipped for a part that can be installed here');
  runEach(runs);
}

const ran = testedPackages();
for (const { dir } of ran) rmSync(join(dir, REPORT), { force: true });
const turbo = ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--continue', '--output-logs=full', ...args];
const status = spawnSync('pnpm', turbo, { cwd: root, stdio: 'inherit', env }).status;
const missing = [];
const reports = [];
for (const { dir, pkg } of ran) {
  // without a report: its test run failed to start, or (turbo succeeding) a --filter left the package out
  if (!existsSync(join(dir, REPORT)) && status === 0) continue;
  if (!existsSync(join(dir, REPORT))) {
    missing.push(`no test report from ${pkg.name} (its test run failed to start)`);
    continue;
  }
  reports.push({ file: join(dir, REPORT), label: pkg.name });
  keep(dir, pkg.name);
}
finish(status, reports, missing);
