// Device-resident training on `cuda-host` (the CUDA kernels and the device memory model on the host emulator):
// the whole run equals the cpu backend's, and each step moves exactly the input batch up (images + labels) and
// the loss/hit scalars down, as counted by the device (every host↔device copy goes through its counters).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-device-'));
const run = (args: string[]) => spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { ...process.env, CONVNET_NUM_THREADS: '2' } });

interface Step { loss: number; transfersPerStep?: number; transferBytesPerStep?: number }
const steps = (dir: string): Step[] =>
  readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((m) => m.type === 'step');

function compare(model: string, batch: number, n: number, image: [number, number, number], extra: string[], rtol: number): void {
  const args = ['train', '--data', 'synthetic', '--model', model, '--batch-size', String(batch), '--max-steps', String(n), '--log-every', '1', ...extra];
  const dev = join(root, `${model}-cuda-host`), cpu = join(root, `${model}-cpu`);
  const a = run([...args, '--device', 'cuda-host', '--run', dev]);
  expect(a.status, a.stderr).toBe(0);
  const b = run([...args, '--run', cpu]);
  expect(b.status, b.stderr).toBe(0);
  const sa = steps(dev), sb = steps(cpu);
  expect(sa).toHaveLength(n);
  sa.forEach((s, i) => expect(Math.abs(s.loss - sb[i].loss), `step ${i + 1}: ${s.loss} vs ${sb[i].loss}`).toBeLessThanOrEqual(rtol * Math.abs(sb[i].loss)));
  // per step: the images and the labels up, the three float64 scalars (loss, top-1, top-k hits) down
  const bytes = batch * image[0] * image[1] * image[2] * 4 + batch * 4 + 3 * 8;
  for (const s of sa) {
    expect(s.transfersPerStep).toBe(3);
    expect(s.transferBytesPerStep).toBe(bytes);
  }
  expect(sb[0].transfersPerStep).toBeUndefined();  // host runs have none to report
  expect(a.stderr).toMatch(/h↔d 3\/step/);
}

describe('training on the device (cuda-host)', () => {
  it('small net, 5 steps of 16: the cpu backend\'s losses (1e-5 relative); 3 transfers per step', () => {
    compare('small', 16, 5, [1, 28, 28], ['--epochs', '1'], 1e-5);
  });

  it('paper net, 2 steps of 1: the cpu backend\'s losses (1e-4 relative); 3 transfers per step', () => {
    compare('paper', 1, 2, [3, 227, 227], ['--epochs', '1', '--lr', '0.001'], 1e-4);
  }, 180_000);
});
