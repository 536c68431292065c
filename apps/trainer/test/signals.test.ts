// Stopping `convnet train` on in-memory data: SIGINT, SIGTERM and SIGHUP stop at the next step with a checkpoint
// and exit 128 + the signal number; a second signal exits at once; every resume gives the uninterrupted run's
// per-step losses, and metrics.jsonl has exactly one line per step after any of it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@convnet/tensor';

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-signals-'));
const data = join(root, 'noise');
const env = { ...process.env, CONVNET_NUM_THREADS: '1' };

function idx(dims: number[], bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(bytes)]);
}

beforeAll(() => {
  mkdirSync(data, { recursive: true });
  const r = new Rng(7);
  for (const [prefix, n] of [['train', 1024], ['t10k', 4096]] as const) {
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 4);
    const images = Uint8Array.from({ length: n * 784 }, (_, p) => (labels[Math.floor(p / 784)] * 60 + r.int(40)) & 255);
    writeFileSync(join(data, `${prefix}-images-idx3-ubyte`), idx([n, 28, 28], images));
    writeFileSync(join(data, `${prefix}-labels-idx1-ubyte`), idx([n], labels));
  }
});

const args = ['train', '--data', data, '--batch-size', '32', '--lr', '0.01', '--seed', '2', '--log-every', '1', '--epochs', '2', '--limit-test', '128'];
const run = (a: string[]) => spawnSync('node', [cli, ...a], { encoding: 'utf8', env });
const lines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const stepLosses = (dir: string) => lines(dir).filter((m) => m.type === 'step').map((m) => [m.step, m.loss]);

/** Starts a run, sends `signals` (5 ms apart) once `ready(stderr)` holds; resolves with exit code and stderr. */
async function interrupt(dir: string, signals: NodeJS.Signals[], ready: (stderr: string) => boolean, extra: string[] = []): Promise<{ code: number | null; stderr: string }> {
  const child = spawn('node', [cli, ...args, ...extra, '--run', dir], { env });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  for (let t = 0; t < 3000 && !ready(stderr); t++) await new Promise((r) => setTimeout(r, 5));
  for (const s of signals) {
    child.kill(s);
    await new Promise((r) => setTimeout(r, 5));
  }
  return { code: await exited, stderr };
}

const afterSteps = (dir: string, n: number) => () => existsSync(join(dir, 'metrics.jsonl')) && stepLosses(dir).length >= n;

describe('signals on in-memory data', () => {
  const ref = join(root, 'ref');
  beforeAll(() => {
    const r = run([...args, '--run', ref]);
    expect(r.status, r.stderr).toBe(0);
  });

  it.each([['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const)('%s stops at the next step with a checkpoint, exits %i; resume = the uninterrupted losses', async (signal, code) => {
    const dir = join(root, signal);
    const r = await interrupt(dir, [signal], afterSteps(dir, 5));
    expect(r.code, r.stderr).toBe(code);
    const m = /stopped by \w+ at epoch (\d+), step (\d+)\/32 \(global step (\d+)\); checkpoint (.*last\.safetensors); continue with: convnet train --resume (.*)$/m.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const done = Number(m![3]);
    expect(done).toBeGreaterThanOrEqual(5);
    expect(done).toBeLessThan(32);
    expect(stepLosses(dir)).toHaveLength(done);
    const again = run(['train', '--resume', dir, '--max-steps', '36']);
    expect(again.status, again.stderr).toBe(0);
    expect(stepLosses(dir)).toEqual(stepLosses(ref).slice(0, 36));
    expect(lines(dir).filter((l) => l.type === 'epoch').map((l) => l.epoch)).toEqual([1]);
  });

  it('a second signal exits at once; the last completed checkpoint resumes exactly; metrics.jsonl has one line per step', async () => {
    // both signals arrive while the epoch ends (evaluation on 4096 test images): the second exits at once, without
    // the stop checkpoint
    const dir = join(root, 'twice');
    const r = await interrupt(dir, ['SIGTERM', 'SIGTERM'], (e) => / step 32\/32 /.test(e), ['--limit-test', '0']);
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM again: exiting now/);
    expect(r.stderr).not.toMatch(/stopped by SIGTERM/);
    const again = run(['train', '--resume', dir, '--limit-test', '128']);
    expect(again.status, again.stderr).toBe(0);
    // the last completed checkpoint: the initial weights, or epoch 1's if the evaluation ended between the signals
    expect(again.stderr).toMatch(/resuming .* at epoch (1|2), step 0 \(global step (0|32)\)/);
    expect(stepLosses(dir)).toEqual(stepLosses(ref));
    expect(lines(dir).filter((l) => l.type === 'epoch').map((l) => l.epoch)).toEqual([1, 2]);
    expect(readdirSync(join(dir, 'checkpoints')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
