#!/usr/bin/env node
// The oneDNN peer (onednn.cpp beside this file), built on demand from Debian's libdnnl-dev into test/.cache/ (git
// ignores it; rebuilt when the source is newer) and run as a process of its own. Used by alexnet.mjs and layers.mjs;
// run directly it prints the JSON line of one workload:
//   node apps/trainer/bench/onednn.mjs train|infer/paper|torchvision/BATCH [--steps N] [--threads T]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const source = join(here, 'onednn.cpp');
const binary = join(root, 'test/.cache/onednn-bench');
export const ONEDNN_INSTALL = 'apt-get install libdnnl-dev g++';

/** Builds the peer when needed: {binary} or {note} saying why it cannot run (with the install line). */
export function buildOnednn() {
  if (!existsSync('/usr/include/oneapi/dnnl/dnnl.hpp')) return { note: `skipped, not installed: ${ONEDNN_INSTALL}` };
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return { binary };
  mkdirSync(dirname(binary), { recursive: true });
  const tmp = `${binary}.${process.pid}.tmp`;
  process.stderr.write('building the oneDNN peer (test/.cache/onednn-bench) ...\n');
  const r = spawnSync('g++', ['-O2', '-std=c++17', '-fopenmp', source, '-o', tmp, '-ldnnl'], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error ? `${r.error.message} (${ONEDNN_INSTALL})` : (r.stderr ?? '').split('\n').find((l) => /error/.test(l)) ?? `exit ${r.status}`;
    return { note: `skipped: building onednn.cpp failed: ${why.slice(0, 200)}` };
  }
  renameSync(tmp, binary); // never a half-written binary under the final name
  return { binary };
}

/** Runs one workload in the peer: its JSON line, or {error}. */
export function runOnednn(bin, workload, { steps = 3, threads = 2 } = {}) {
  const r = spawnSync(bin, [workload, '--steps', String(steps)], {
    encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status === 0 && last.startsWith('{')) return JSON.parse(last);
  const why = (r.stderr ?? '').trim().split('\n').filter((l) => /error/i.test(l)).pop() ?? r.error?.message ?? `exit ${r.status}`;
  return { error: why.slice(0, 200) };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const opt = (k, d) => (args.includes(k) ? Number(args[args.indexOf(k) + 1]) : d);
  const built = buildOnednn();
  if (built.note) {
    console.error(`onednn.mjs: oneDNN peer ${built.note}`);
    process.exit(1);
  }
  const r = runOnednn(built.binary, args[0] ?? '', { steps: opt('--steps', 3), threads: opt('--threads', 2) });
  if (r.error) {
    console.error(`onednn.mjs: ${r.error}`);
    process.exit(1);
  }
  console.log(JSON.stringify(r));
}
