// Resume and run-directory rules of `convnet train`: flags on --resume apply or are refused, a changed length
// rebuilds the schedule, existing runs need --resume or --force, checkpoint state is validated, a NaN stop leaves a
// finite checkpoint to continue from with a lower --lr; metrics.jsonl and temp files after kills.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { noiseIdx, runCli, tempRoot } from './helpers.js';
import { loadStateDictFile, saveSafetensors } from '@convnet/layers';
import { readMetrics, truncateMetrics } from '../src/runfiles.js';
import { defaultRunDir } from '../src/cmd-train.js';
import { BASE_CONFIG } from '../src/config.js';

const root = tempRoot('resume');
const data = join(root, 'noise');
const run = (a: string[]) => runCli(a);

beforeAll(() => noiseIdx(data, 256, 64, 3));

const args = ['train', '--data', data, '--batch-size', '32', '--lr', '0.01', '--seed', '2', '--epochs', '2', '--schedule', 'cosine'];

describe('run directories', () => {
  it('an existing run needs --resume or --force; default names are unique', () => {
    const dir = join(root, 'taken');
    expect(run([...args, '--run', dir, '--max-steps', '2']).status).toBe(0);
    const again = run([...args, '--run', dir]);
    expect(again.status).toBe(2);
    expect(again.stderr.trim()).toMatch(new RegExp(`^convnet train: --run ${dir} holds a run already \\(config.json, .*checkpoints\\): continue it with --resume ${dir}, or start over with --force$`));
    const forced = run([...args, '--run', dir, '--max-steps', '1', '--force']);
    expect(forced.status, forced.stderr).toBe(0);
    expect(readMetrics(join(dir, 'metrics.jsonl'))).toEqual([]); // the old run's lines are gone
    expect(run(['train', '--resume', dir, '--force']).stderr).toMatch(/--force starts a run over; it cannot go with --resume/);
    const cfg = { ...BASE_CONFIG };
    expect(defaultRunDir(cfg)).not.toBe(defaultRunDir(cfg));
  });
});

describe('--resume with flags', () => {
  const dir = join(root, 'resumed');
  beforeAll(() => {
    expect(run([...args, '--run', dir, '--max-steps', '10']).status).toBe(0); // 8 steps per epoch: in epoch 2
  });

  it('refuses settings that would make it another run, naming the flag, both values and why', () => {
    const cases: [string[], RegExp][] = [
      [['--batch-size', '64'], /--batch-size cannot change when resuming .* \(saved: 32, given: 64\): the data order, augmentation and dropout draws/],
      [['--seed', '9'], /--seed cannot change when resuming/],
      [['--model', 'cifar-80sec'], /--model cannot change when resuming .*: the checkpoint's weights are for the saved value/],
      [['--schedule', 'step'], /--schedule cannot change when resuming .*: the scheduler's state is for the saved schedule/],
      [['--epochs', '1'], /--epochs 1: .* has finished 1 epoch and is in epoch 2; give --epochs 2 or more/],
    ];
    for (const [extra, re] of cases) {
      const r = run(['train', '--resume', dir, ...extra]);
      expect(r.status, extra.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), extra.join(' ')).toHaveLength(1);
      expect(r.stderr, extra.join(' ')).toMatch(re);
    }
    expect(run(['train', '--resume', dir, '--batch-size', '32', '--max-steps', '10']).status).toBe(0); // the saved value is fine
  });

  it('applies --lr and --epochs=N: the cosine schedule is rebuilt for the new length, said in one line and recorded', () => {
    const r = run(['train', '--resume', dir, '--lr', '0.005', '--epochs=3', '--max-steps', '12']);
    expect(r.status, r.stderr).toBe(0);
    // after 1 of 3 epochs: 0.005 · (1 + cos(π/3)) / 2 = 0.00375
    expect(r.stderr).toMatch(/^resume: --lr 0.01 → 0.005, --epochs 2 → 3; the cosine schedule is rebuilt for 3 epochs; lr now 0.003750 \(was 0.005000\) \(recorded in config-history.jsonl\)$/m);
    expect(r.stderr).toMatch(/stopped at --max-steps 12: epoch 2, step 4\/8/);
    const hist = readFileSync(join(dir, 'config-history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(hist[0]).toMatchObject({ event: 'start', globalStep: 0 });
    expect(hist.at(-1)).toMatchObject({ event: 'resume', globalStep: 10, changes: { lr: [0.01, 0.005], epochs: [2, 3] } });
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toMatchObject({ lr: 0.005, epochs: 3, maxSteps: 0 });
    const done = run(['train', '--resume', dir]);
    expect(done.status, done.stderr).toBe(0);
    expect(readMetrics(join(dir, 'metrics.jsonl')).filter((m) => m.type === 'epoch').map((m) => m.epoch)).toEqual([1, 2, 3]);
  });
});

describe('checkpoints and metrics after kills', () => {
  it('metrics.jsonl: cut back to the checkpoint (steps and epochs), a torn last line tolerated, a bad middle line named', () => {
    const p = join(root, 'metrics.jsonl');
    const step = (s: number) => JSON.stringify({ type: 'step', epoch: s <= 4 ? 1 : 2, step: s, loss: s });
    writeFileSync(p, [1, 2, 3, 4].map(step).join('\n') + '\n' + JSON.stringify({ type: 'epoch', epoch: 1 }) + '\n' + [5, 6].map(step).join('\n') + '\n{"type":"st');
    truncateMetrics(p, 5, 2);
    expect(readMetrics(p).map((m) => m.step ?? `e${m.epoch}`)).toEqual([1, 2, 3, 4, 'e1', 5]);
    truncateMetrics(p, 4, 1); // killed between the epoch line and its checkpoint: the epoch line goes too
    expect(readMetrics(p).map((m) => m.step ?? `e${m.epoch}`)).toEqual([1, 2, 3, 4]);
    writeFileSync(p, `${step(1)}\nnot json\n${step(2)}\n`);
    expect(() => readMetrics(p)).toThrow(`${p}: line 2 is not JSON`);
  });

  it('stale temp files are removed at start; checkpoint state is validated with the file and key named', () => {
    const dir = join(root, 'validated');
    expect(run([...args, '--run', dir, '--max-steps', '3']).status).toBe(0);
    const ck = join(dir, 'checkpoints', 'last.safetensors');
    const stale = join(dir, 'checkpoints', '.last.safetensors.4194303.0.m1abc.0.tmp'); // a pid that cannot exist
    writeFileSync(stale, Buffer.alloc(1 << 20));
    const ok = run(['train', '--resume', dir, '--max-steps', '4']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/removed 1 temp file \(1\.0 MiB\) of writes a killed run left behind/);
    expect(existsSync(stale)).toBe(false);
    const { stateDict, metadata } = loadStateDictFile(ck);
    const state = JSON.parse(metadata.state);
    const cases: [unknown, string][] = [
      [null, "training state 'state' must be an object, got null"],
      [{ ...state, optimizer: { ...state.optimizer, groups: [{ lr: null, initialLr: 0.01 }] } }, "training state 'optimizer.groups[0].lr' must be a finite number, got null"],
      [{ ...state, globalStep: -1 }, "training state 'globalStep' must be an integer ≥ 0, got -1"],
      [{ ...state, config: { ...state.config, batchSize: 0 } }, "training state 'config': 'batchSize': expected an integer in [1, 65536], got 0"],
    ];
    for (const [st, msg] of cases) {
      saveSafetensors(ck, stateDict, { ...metadata, state: JSON.stringify(st) });
      const r = run(['train', '--resume', dir]);
      expect(r.status, msg).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`${ck}: ${msg}`);
    }
    expect(readdirSync(join(dir, 'checkpoints')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a NaN stop names the last finite checkpoint; --resume --lr X continues from it', () => {
    const dir = join(root, 'nan');
    const r = run([...args, '--run', dir, '--lr', '1e30', '--log-every', '1']);
    expect(r.status).toBe(1);
    const line = r.stderr.trim().split('\n').at(-1)!;
    expect(line).toMatch(/^convnet train: the (loss|weights) became (NaN|Infinity|non-finite).* at epoch 1, step \d+ \(global \d+\): training stopped\. .*last\.safetensors \(global step 0\) has the last (finite weights|checkpoint whose loss was finite and not rising \(.*\)); continue from it with a lower learning rate: convnet train --resume .* --lr 1\.0e\+29$/);
    expect(r.stderr).not.toMatch(/DataError|Loader: closed|at .*\.js:\d+/);
    const again = run(['train', '--resume', dir, '--lr', '0.01', '--max-steps', '3']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/resuming .* at epoch 1, step 0 \(global step 0\)/);
    expect(readMetrics(join(dir, 'metrics.jsonl')).filter((m) => m.type === 'step').map((m) => m.step)).toEqual([1, 2, 3]);
  });

  it('with --checkpoint-every 1 a NaN stop offers the last checkpoint before the loss rose, which really resumes', () => {
    // lr 2 on this data: the loss goes 1.4, 55, 1.7e4, ... NaN at step 7; every step's weights are finite until then
    for (let k = 0; k < 3; k++) {
      const dir = join(root, `nan-every-${k}`);
      const r = run([...args, '--run', dir, '--lr', '2', '--checkpoint-every', '1', '--log-every', '1', '--workers', String(k)]);
      expect(r.status, r.stderr).toBe(1);
      // the stop ends cleanly: no stack of a prefetch the close rejected
      expect(r.stderr).not.toMatch(/DataError|Loader: closed|at .*\.js:\d+/);
      const line = r.stderr.trim().split('\n').at(-1)!;
      const losses = readMetrics(join(dir, 'metrics.jsonl')).filter((m) => m.type === 'step').map((m) => m.loss as number);
      expect(losses[1]).toBeGreaterThan(1.5 * losses[0]); // rising from the second step on
      expect(line).toMatch(/last\.safetensors \(global step 0\) has the last checkpoint whose loss was finite and not rising \(after it the loss rose to .* by global step 2; step \d+'s weights were diverging\); continue from it with a lower learning rate: convnet train --resume .* --lr 0\.20$/);
      expect(readdirSync(join(dir, 'checkpoints')).filter((f) => f.startsWith('.'))).toEqual([]);
      if (k) continue;
      // what it offers resumes: 8 steps with --lr 0.2 stay finite
      const again = run(['train', '--resume', dir, '--lr', '0.2', '--max-steps', '8']);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/resuming .* \(global step 0\)/);
      const after = readMetrics(join(dir, 'metrics.jsonl')).filter((m) => m.type === 'step').map((m) => m.loss as number);
      expect(after).toHaveLength(8);
      expect(after.every(Number.isFinite)).toBe(true);
    }
  }, 120_000);
});
