// `convnet train` under mpirun: 2 ranks on loopback give the steps and weights of 1 process at the same
// global batch; a run stopped under 2 ranks resumes under 1 to the same weights; only rank 0 writes; SIGTERM
// (to mpirun, to the ranks, during the test pass) stops every rank at the same step with one checkpoint and no
// MPI_Abort; a resume where only rank 0 can see the
// checkpoint (the other rank's run directory lacks it: no shared file system) continues exactly.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pack } from '@convnet/imagenet';
import { Rng } from '@convnet/tensor';
import { INSTALL_HINT, mpiStatus } from '@convnet/distributed';
import { loadCheckpoint } from '../src/checkpoint.js';
import { noiseIdx, sleep } from './helpers.js';

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-ddp-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const mpirun = (() => {
  const r = spawnSync('sh', ['-c', 'command -v mpirun'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
})();
const st = mpiStatus();
const skip = !mpirun ? `mpirun is not installed: ${INSTALL_HINT}` : !st.available ? st.reason : null;
const asRoot = process.getuid?.() === 0 ? ['--allow-run-as-root'] : [];

// synthetic 28×28 data, the small net (dropout), random crops from 2-pixel padding and flips: every
// per-image random draw is exercised
const mpiNet = ['--oversubscribe', '--mca', 'pml', 'ob1', '--mca', 'btl', 'self,tcp', '--mca', 'btl_tcp_if_include', 'lo'];
const long = () => common.map((a, i) => (common[i - 1] === '--epochs' ? '20' : a)); // 640 steps
const common = ['--data', 'synthetic', '--model', 'small', '--batch-size', '16', '--epochs', '1', '--log-every', '1', '--crop-padding', '2', '--threads', '1', '--seed', '3'];

function train(np: number, run: string, extra: string[], base = common) {
  const args = [cli, 'train', ...base, '--run', join(root, run), ...extra];
  const r = np === 1 ? spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 90_000 })
    : spawnSync(mpirun!, [...asRoot, ...mpiNet, '-np', String(np), process.execPath, ...args], { encoding: 'utf8', timeout: 90_000 });
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

  it("batch norm (small-bn): every rank evaluates rank 0's running statistics, so the test loss is the checkpoint's", () => {
    // each rank's batch norm updates its running statistics from its own slice; before the test pass they are
    // broadcast from rank 0, so the 2-rank test loss equals a 1-process evaluation of rank 0's checkpoint
    // 512 test images: 4 test batches of 128, two on each rank
    const data = noiseIdx(join(root, 'bn-noise'), 256, 512, 9);
    const base = ['--data', data, '--model', 'small-bn', '--batch-size', '32', '--epochs', '1', '--lr', '0.05', '--threads', '1', '--seed', '4'];
    train(2, 'bn-ranks', [], base);
    const epoch = readFileSync(join(root, 'bn-ranks', 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.type === 'epoch');
    const e = spawnSync(process.execPath, [cli, 'eval', '--run', join(root, 'bn-ranks'), '--checkpoint', 'last'], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, CONVNET_NUM_THREADS: '1' } });
    expect(e.status, e.stderr).toBe(0);
    const m = /top-1 error (\d+\.\d+)%.*cross-entropy (\d+\.\d+)/.exec(e.stdout);
    expect(m, e.stdout).not.toBeNull();
    expect(Number(m![2])).toBeCloseTo(epoch.valLoss, 3);
    expect(Number(m![1])).toBeCloseTo(100 * epoch.valTop1Err, 2);
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

  // mpirun (Open MPI 4.1) on SIGTERM sends SIGCONT, waits odls_base_sigkill_timeout (1 s by default), forwards
  // SIGTERM, and after the same time again SIGKILL: the ranks have that long to finish the step and checkpoint
  /** A 2-rank run of 20 epochs, signalled once 3 steps are logged: SIGTERM to mpirun or to each rank. */
  async function interrupted(run: string, to: 'mpirun' | 'ranks'): Promise<{ code: number | null; out: string }> {
    const child = spawn(mpirun!, [...asRoot, ...mpiNet, '--mca', 'odls_base_sigkill_timeout', '5', '-np', '2', process.execPath, cli, 'train', ...long(), '--run', join(root, run)]);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    for (let t = 0; t < 600 && child.exitCode === null; t++) {
      try { if (steps(run).length >= 3) break; } catch { /* not yet */ }
      await sleep(50);
    }
    if (to === 'mpirun') child.kill('SIGTERM');
    else for (const pid of spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
    return { code: await exited, out };
  }

  /** Rank 0 resumes `run`; rank 1's --resume names a directory without the checkpoint (nothing shared). */
  function resumeWithoutSharedFiles(run: string, maxSteps: number) {
    const empty = join(root, `${run}-rank1`);
    mkdirSync(empty, { recursive: true });
    const rank = (dir: string) => [process.execPath, cli, 'train', '--resume', dir, '--max-steps', String(maxSteps)];
    const r = spawnSync(mpirun!, [...asRoot, ...mpiNet, '-np', '1', ...rank(join(root, run)), ':', '-np', '1', ...rank(empty)], { encoding: 'utf8', timeout: 90_000 });
    if (r.status !== 0) throw new Error(`resume on 2 ranks exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
    expect(readdirSync(empty)).toEqual([]); // rank 1 neither read nor wrote there
    return r;
  }

  it('SIGTERM to mpirun: every rank stops after the same step, rank 0 writes one checkpoint, no MPI_Abort; resume on 2 ranks (only rank 0 sees the checkpoint) = the uninterrupted run', async () => {
    const r = await interrupted('term', 'mpirun');
    const m = /stopped by SIGTERM at epoch \d+, step \d+\/32 \(global step (\d+)\)/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    const at = Number(m![1]);
    expect(r.out).not.toMatch(/MPI_ABORT|ending every rank/);
    // Open MPI 4.1's mpirun exits 1 whenever it was signalled itself (its own handler); the ranks exit 143
    expect(r.code).not.toBe(0);
    // one checkpoint for the stop (best.safetensors is there too when an epoch ended in the seconds mpirun waits)
    expect(readdirSync(join(root, 'term', 'checkpoints')).filter((f) => f !== 'best.safetensors')).toEqual(['last.safetensors']);
    expect(loadCheckpoint(join(root, 'term', 'checkpoints', 'last.safetensors')).state.globalStep).toBe(at);
    expect(steps('term').map((s) => s.step)).toEqual(Array.from({ length: at }, (_, i) => i + 1));
    const resumed = resumeWithoutSharedFiles('term', at + 3);
    expect(resumed.stderr).toMatch(new RegExp(`resuming .* \\(global step ${at}\\)`));
    train(2, 'term-ref', ['--max-steps', String(at + 3)], long());
    expect(steps('term').map((s) => [s.step, s.loss])).toEqual(steps('term-ref').map((s) => [s.step, s.loss]));
    expect(worstWeightDiff('term', 'term-ref')).toBe(0);
  }, 180_000);

  it('SIGTERM to the ranks (as a batch system sends it to every task): mpirun exits 143 after one checkpoint', async () => {
    const r = await interrupted('term-ranks', 'ranks');
    expect(r.code, r.out).toBe(143);
    expect(r.out).toMatch(/stopped by SIGTERM at epoch \d+, step \d+\/32/);
    expect(r.out).not.toMatch(/MPI_ABORT|ending every rank/);
    expect(readdirSync(join(root, 'term-ranks', 'checkpoints')).filter((f) => f !== 'best.safetensors')).toEqual(['last.safetensors']);
  }, 120_000);

  it('SIGTERM during the test pass: the ranks agree at the end of a round of test batches, one checkpoint of the whole epoch, exit 143', async () => {
    // 4096 test images in batches of 128: 32 batches, the ranks take turns and agree after each pair
    const data = noiseIdx(join(root, 'noise'), 1024, 4096, 7);
    const child = spawn(mpirun!, [...asRoot, ...mpiNet, '-np', '2', process.execPath, cli, 'train', '--data', data, '--batch-size', '32', '--lr', '0.01', '--seed', '2', '--epochs', '2', '--threads', '1', '--run', join(root, 'eval-stop')]);
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    for (let t = 0; t < 3000 && child.exitCode === null && !/ step 32\/32 /.test(out); t++) await sleep(10);
    for (const pid of spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) process.kill(Number(pid), 'SIGTERM');
    expect(await exited, out).toBe(143);
    expect(out).toMatch(/stopped by SIGTERM during the test pass after epoch 1 \(global step 32\)/);
    expect(out).not.toMatch(/MPI_ABORT|ending every rank/);
    const st = loadCheckpoint(join(root, 'eval-stop', 'checkpoints', 'last.safetensors')).state;
    expect([st.epoch, st.stepInEpoch, st.globalStep]).toEqual([1, 32, 32]);
    expect(readFileSync(join(root, 'eval-stop', 'metrics.jsonl'), 'utf8')).not.toMatch(/"type":"epoch"/);
  }, 120_000);

  it('a global batch the ranks cannot share is a one-line usage error', () => {
    const r = spawnSync(mpirun!, [...asRoot, ...mpiNet, '-np', '3', process.execPath, cli, 'train', ...common, '--run', join(root, 'bad')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('convnet train: --batch-size 16 must be divisible by the number of ranks (3)');
  });
});
