// Stopping `convnet train` on in-memory data: SIGINT, SIGTERM and SIGHUP stop at the next step (or, during the
// per-epoch test pass, after the current test batch) with a checkpoint and exit 128 + the signal number; a second
// signal exits at once; every resume gives the uninterrupted run's per-step losses and epoch lines, and
// metrics.jsonl has exactly one line per step after any of it.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../src/checkpoint.js';
import { epochNumbers, interrupt, metricsWithoutTimes, noiseIdx, runCli, stepLosses, tempRoot } from './helpers.js';

const root = tempRoot('signals');
const data = join(root, 'noise');
beforeAll(() => noiseIdx(data, 1024, 4096, 7));

const args = ['train', '--data', data, '--batch-size', '32', '--lr', '0.01', '--seed', '2', '--log-every', '1', '--epochs', '2', '--limit-test', '128'];
const afterSteps = (dir: string, n: number) => () => existsSync(join(dir, 'metrics.jsonl')) && stepLosses(dir).length >= n;

describe('signals on in-memory data', () => {
  const ref = join(root, 'ref');
  beforeAll(() => {
    const r = runCli([...args, '--run', ref]);
    expect(r.status, r.stderr).toBe(0);
  });

  it.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('%s stops at the next step with a checkpoint, exits %i; resume = the uninterrupted losses', async (signal, code) => {
    const dir = join(root, signal);
    const r = await interrupt([...args, '--run', dir], [signal], afterSteps(dir, 5));
    expect(r.code, r.stderr).toBe(code);
    const m = /stopped by \w+ at epoch (\d+), step (\d+)\/32 \(global step (\d+)\); checkpoint (.*last\.safetensors); continue with: convnet train --resume (.*)$/m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const done = Number(m![3]);
    expect(done).toBeGreaterThanOrEqual(5);
    expect(done).toBeLessThan(32);
    expect(stepLosses(dir)).toHaveLength(done);
    const again = runCli(['train', '--resume', dir, '--max-steps', '36']);
    expect(again.status, again.stderr).toBe(0);
    expect(stepLosses(dir)).toEqual(stepLosses(ref).slice(0, 36));
    expect(epochNumbers(dir)).toEqual([1]);
  });

  it('a signal during the test pass stops after the current test batch with a checkpoint of the whole epoch; resume evaluates it', async () => {
    // 4096 test images in batches of 128: the signal arrives after step 32/32, while the pass runs
    const dir = join(root, 'eval');
    const r = await interrupt([...args, '--limit-test', '0', '--run', dir], ['SIGTERM'], (e) => / step 32\/32 /.test(e));
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/stopped by SIGTERM during the test pass after epoch 1 \(global step 32\); checkpoint .*last\.safetensors/);
    // the pass did not finish: no epoch line; the checkpoint has all 32 steps of epoch 1
    expect(epochNumbers(dir)).toEqual([]);
    const st = loadCheckpoint(join(dir, 'checkpoints', 'last.safetensors')).state;
    expect([st.epoch, st.stepInEpoch, st.globalStep]).toEqual([1, 32, 32]);
    const again = runCli(['train', '--resume', dir, '--limit-test', '128']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming .* at epoch 1, step 32 \(global step 32\)/);
    // the same lines as the uninterrupted run, epoch lines (train loss and errors over the whole epoch) included
    expect(metricsWithoutTimes(dir)).toEqual(metricsWithoutTimes(ref));
  });

  it('a second signal exits at once; the last completed checkpoint resumes exactly; metrics.jsonl has one line per step', async () => {
    // two signals during the test pass, back to back (two different ones: the kernel merges a pending signal with
    // the same one sent again): the second exits at once, without the stop checkpoint
    const dir = join(root, 'twice');
    const r = await interrupt([...args, '--limit-test', '0', '--run', dir], ['SIGTERM', 'SIGINT'], (e) => / step 32\/32 /.test(e), { gapMs: 0 });
    const m = /(SIGTERM|SIGINT) after (SIGTERM|SIGINT): exiting now/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    expect(r.code, r.stderr).toBe(m![2] === 'SIGINT' ? 130 : 143);
    expect(r.stderr).not.toMatch(/stopped by/);
    const again = runCli(['train', '--resume', dir, '--limit-test', '128']);
    expect(again.status, again.stderr).toBe(0);
    // the last completed checkpoint: the initial weights (epoch 1's is written after its test pass)
    expect(again.stderr).toMatch(/resuming .* at epoch 1, step 0 \(global step 0\)/);
    expect(metricsWithoutTimes(dir)).toEqual(metricsWithoutTimes(ref));
    expect(readdirSync(join(dir, 'checkpoints')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
