// `convnet train` under mpirun: 2 ranks on loopback give the steps and weights of 1 process at the same
// global batch; a run stopped under 2 ranks resumes under 1 to the same weights; only rank 0 writes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pack } from '@convnet/imagenet';
import { Rng } from '@convnet/tensor';
import { mpiStatus } from '@convnet/distributed';
import { loadCheckpoint } from '../src/checkpoint.js';

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-ddp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mpirun = (() => {
  const r = spawnSync('sh', ['-c', 'command -v mpirun'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
})();
const st = mpiStatus();
const skip = !mpirun ? 'mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)' : !st.available ? st.reason : null;
const asRoot = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];

// synthetic 28×28 data, the small net (dropout), random crops from 2-pixel padding and flips: every
// per-image random draw is exercised
const common = ['--data', 'synthetic', '--model', 'small', '--batch-size', '16', '--epochs', '1', '--log-every', '1', '--crop-padding', '2', '--threads', '1', '--seed', '3'];

function train(np: number, run: string, extra: string[], base = common) {
  const args = [cli, 'train', ...base, '--run', join(root, run), ...extra];
  const r = np === 1 ? spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 90_000 })
    : spawnSync(mpirun!, [...asRoot, '--oversubscribe', '-np', String(np), '--mca', 'pml', 'ob1', '--mca', 'btl', 'self,tcp', '--mca', 'btl_tcp_if_include', 'lo', process.execPath, ...args], { encoding: 'utf8', timeout: 90_000 });
  if (r.status !== 0) throw new Error(`convnet train on ${np} rank(s) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const steps = (run: string) => readFileSync(join(root, run, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((m) => m.type === 'step');

function worstWeightDiff(a: string, b: string): number {
  const wa = loadCheckpoint(join(root, a, 'checkpoints', 'last.safetensors')).model;
  const wb = loadCheckpoint(join(root, b, 'checkpoints', 'last.safetensors')).model;
  let worst = 0;
  for (const [k, t] of wa) {
    const u = wb.get(k)!.data;
    let scale = 0;
    for (const v of t.data) scale = Math.max(scale, Math.abs(v));
    for (let i = 0; i < t.size; i++) worst = Math.max(worst, Math.abs(t.data[i] - u[i]) / scale);
  }
  return worst;
}

describe.skipIf(skip !== null)(`convnet train under mpirun${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('2 ranks × 8 images = 1 process × 16 images (6 steps: losses and weights); rank 0 alone prints and writes', () => {
    train(1, 'one', ['--max-steps', '6']);
    const two = train(2, 'two', ['--max-steps', '6']);
    const a = steps('one'), b = steps('two');
    expect(b.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (let i = 0; i < 6; i++) expect(Math.abs(a[i].loss - b[i].loss)).toBeLessThan(1e-5);
    const worst = worstWeightDiff('one', 'two');
    expect(worst).toBeLessThan(1e-5); // float32 summation order only
    console.log(`convnet train, 2 ranks vs 1 process after 6 steps: largest weight difference ${worst.toExponential(2)} of the layer's largest weight`);
    expect(two.stdout.match(/run directory:/g)?.length).toBe(1);
    expect(two.stderr).toMatch(/distributed: 2 ranks \(mpi\), 8 images per rank per step of 16/);
    expect(readdirSync(join(root, 'two', 'checkpoints'))).toEqual(['last.safetensors']);
  });

  it('a run stopped under 2 ranks resumes under 1 to the weights of an uninterrupted run', () => {
    train(2, 'resumed', ['--max-steps', '3']);
    train(1, 'resumed', ['--resume', join(root, 'resumed'), '--max-steps', '6']);
    const a = steps('one'), c = steps('resumed');
    expect(c.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (let i = 0; i < 6; i++) expect(Math.abs(a[i].loss - c[i].loss)).toBeLessThan(1e-5);
    expect(worstWeightDiff('one', 'resumed')).toBeLessThan(1e-5);
  });

  it('packed data: each rank\'s loader makes only its slice (crops, flips, PCA lighting), 2 ranks = 1 process', async () => {
    const r = new Rng(21);
    for (const [split, n] of [['train', 64], ['val', 16]] as const) {
      const images = Uint8Array.from(r.words(n * 32 * 32 * 3), (w) => w & 255);
      const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
      await pack({ images, labels, n, height: 32, width: 32, channels: 3, classes: ['a', 'b', 'c', 'd'] }, { out: join(root, 'packed', split) });
    }
    const base = ['--data', join(root, 'packed'), '--model', 'small', '--batch-size', '16', '--epochs', '1', '--log-every', '1', '--crop-padding', '2', '--threads', '1', '--seed', '5'];
    train(1, 'packed-one', ['--max-steps', '4'], base);
    train(2, 'packed-two', ['--max-steps', '4'], base);
    const a = steps('packed-one'), b = steps('packed-two');
    expect(b).toHaveLength(4);
    for (let i = 0; i < 4; i++) expect(Math.abs(a[i].loss - b[i].loss)).toBeLessThan(1e-5);
    expect(JSON.parse(readFileSync(join(root, 'packed-two', 'config.json'), 'utf8')).lighting).toBe(0.1);
    expect(worstWeightDiff('packed-one', 'packed-two')).toBeLessThan(1e-5);
  }, 120_000);

  it('a global batch the ranks cannot share is a one-line usage error', () => {
    const r = spawnSync(mpirun!, [...asRoot, '--oversubscribe', '-np', '3', '--mca', 'pml', 'ob1', '--mca', 'btl', 'self,tcp', '--mca', 'btl_tcp_if_include', 'lo', process.execPath, cli, 'train', ...common, '--run', join(root, 'bad')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('convnet train: --batch-size 16 must be divisible by the number of ranks (3)');
  });
});
