#!/usr/bin/env node
// Runs every workspace package's tests (through turbo, after building) and ends with ONE line summed
// over all packages, the line CI reads:  tests: N passed, N failed, N skipped
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = [];
for (const group of ['packages', 'apps']) {
  const base = join(root, group);
  if (!existsSync(base)) continue;
  for (const d of readdirSync(base)) dirs.push(join(base, d));
}
dirs.push(join(root, 'native'), join(root, 'test'));
const reportOf = (d) => join(d, '.vitest-report.json');
for (const d of dirs) rmSync(reportOf(d), { force: true });

const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', NO_COLOR: '1' };
const turbo = spawnSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--continue', '--output-logs=full', ...process.argv.slice(2)],
  { cwd: root, stdio: 'inherit', env },
);

let passed = 0, failed = 0, skipped = 0;
const missing = [];
for (const d of dirs) {
  if (!existsSync(join(d, 'package.json'))) continue;
  const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
  if (!pkg.scripts?.test) continue;
  if (!existsSync(reportOf(d))) { missing.push(pkg.name); continue; }
  const r = JSON.parse(readFileSync(reportOf(d), 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
if (missing.length) console.log(`no test report from: ${missing.join(', ')} (their test run failed to start)`);
const ok = turbo.status === 0 && failed === 0 && missing.length === 0;
console.log(`tests: ${passed} passed, ${failed + missing.length} failed, ${skipped} skipped`);
process.exit(ok ? 0 : 1);
