// Data parallelism over Open MPI on loopback: 2 ranks at a global batch of B end K SGD steps with the
// weights 1 process gets at batch B; collectives against hand-computed results.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { mpiSkipReason, mpirunArgs, mpirunPath, rankEnv } from './mpi-env.js';

const worker = (name: string) => fileURLToPath(new URL(`./workers/${name}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'convnet-dist-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Result { size: number; losses: number[]; sync: string | null; buckets: number; launchedDuringBackward: number; params: Record<string, number[]> }

function run(np: number, args: string[]): Result {
  const out = join(dir, `train-${np}.json`);
  const cmd = np === 0 ? [process.execPath, [worker('train-steps.mjs'), ...args, '--out', out]] as const
    : [mpirunPath!, [...mpirunArgs(np), process.execPath, worker('train-steps.mjs'), ...args, '--out', out]] as const;
  const r = spawnSync(cmd[0], cmd[1], { env: rankEnv, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(readFileSync(out, 'utf8'));
}

describe.skipIf(mpiSkipReason !== null)(`Open MPI on loopback${mpiSkipReason ? ` (skipped: ${mpiSkipReason})` : ''}`, () => {
  it('collectives: sum, avg, max, min, broadcast from rank 1, barrier, non-blocking overlap', () => {
    const r = spawnSync(mpirunPath!, [...mpirunArgs(2), process.execPath, worker('collectives.mjs')], { env: rankEnv, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    expect(lines.length).toBe(2);
    for (const l of lines) expect(l.failures).toEqual([]);
  });

  it('2 ranks × 8 images = 1 process × 16 images: same weights after 4 SGD steps (dropout masks sharded)', () => {
    const args = ['--steps', '4', '--batch', '16'];
    const one = run(0, args);
    const two = run(2, args);
    expect(one.size).toBe(1);
    expect(two.size).toBe(2);
    expect(two.sync).toBeNull(); // every rank holds bit-identical weights
    expect(two.buckets).toBeGreaterThan(1);
    // the buckets of every parameter a Sequential runs were reduced during backward
    expect(two.launchedDuringBackward).toBe(4 * two.buckets);
    for (let i = 0; i < one.losses.length; i++) expect(Math.abs(two.losses[i] - one.losses[i])).toBeLessThan(1e-5);
    // Tolerance: the two runs sum the batch's gradient in a different order (two halves, then their
    // average), so float32 rounding differs by ~1e-7 relative per step; over 4 steps with momentum the
    // largest difference stays below 1e-5 of the layer's largest weight (measured 2.5e-7).
    let worst = 0;
    for (const [name, w1] of Object.entries(one.params)) {
      const w2 = two.params[name];
      const scale = w1.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      for (let i = 0; i < w1.length; i++) worst = Math.max(worst, Math.abs(w1[i] - w2[i]) / scale);
    }
    expect(worst).toBeLessThan(1e-5); // measured: 2.5e-7
    console.log(`2 ranks vs 1 process: largest weight difference ${worst.toExponential(2)} of the layer's largest weight`);
  });

  // A failing rank ends the whole job within a bound, non-zero, with a message naming it.
  const fail = (mode: string) => {
    const t0 = performance.now();
    const r = spawnSync(mpirunPath!, [...mpirunArgs(2), process.execPath, worker('fail.mjs'), '--mode', mode, '--timeout', '3'], { env: rankEnv, encoding: 'utf8', timeout: 40_000 });
    return { status: r.status, signal: r.signal, seconds: (performance.now() - t0) / 1000, output: r.stdout + r.stderr };
  };

  it('a rank killed mid-run (SIGKILL) ends the job non-zero within 15 s, naming the rank', () => {
    const r = fail('kill');
    expect(r.signal).toBeNull(); // mpirun itself ended (not our 40 s guard)
    expect(r.status).not.toBe(0);
    expect(r.seconds).toBeLessThan(15);
    expect(r.output).toMatch(/process rank 1 .*exited on signal 9/);
  });

  it('a hung rank (spinning in JS) ends the job non-zero after the 3 s collective timeout, naming the rank', () => {
    const r = fail('hang');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(3);
    expect(r.seconds).toBeLessThan(15);
    expect(r.output).toContain("rank 0 (");
    expect(r.output).toMatch(/allreduce 'iteration 5' \(collective #6\) did not complete within 3 s; rank 1 never started it/);
  });

  it('a rank that throws aborts the job at once instead of leaving the others waiting', () => {
    const r = fail('throw');
    expect(r.signal).toBeNull();
    expect(r.status).toBe(1);
    expect(r.seconds).toBeLessThan(10);
    expect(r.output).toContain('rank 1 (');
    expect(r.output).toContain('exited with code 1: Error: a failure in rank 1; ending every rank of the job');
  });
});
