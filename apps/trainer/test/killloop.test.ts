// SIGKILL at random moments, again and again: a tiny run that checkpoints every step (so many kills land inside a
// checkpoint write, some between an epoch's metrics line and its checkpoint) is resumed after each kill. At the
// end its metrics.jsonl (every step's loss, every epoch line) and its weights equal an uninterrupted run's, bit for
// bit, and no temp file is left.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@convnet/tensor';
import { loadCheckpoint } from '../src/checkpoint.js';
import { cli, cliEnv, metrics, metricsWithoutTimes, noiseIdx, runCli, sleep, tempRoot } from './helpers.js';

const root = tempRoot('killloop');
const data = join(root, 'noise');
beforeAll(() => noiseIdx(data, 256, 64, 11));

// 8 steps per epoch, 3 epochs; a checkpoint (step-N and last) after every step
const args = ['train', '--data', data, '--batch-size', '32', '--lr', '0.02', '--seed', '4', '--epochs', '3', '--log-every', '1', '--checkpoint-every', '1', '--keep-checkpoints', '2'];
const temps = (dir: string) => [dir, join(dir, 'checkpoints')].flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => f.endsWith('.tmp')) : []));
const count = (dir: string, type: 'step' | 'epoch') => (existsSync(join(dir, 'metrics.jsonl')) ? readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split(`"type":"${type}"`).length - 1 : 0);

/**
 * Starts the run (fresh or --resume) and SIGKILLs it `delayMs` after it has logged a new step, or (`on` 'epoch') as
 * soon as it has logged a new epoch line (its checkpoint is written next); the exit code (null: killed).
 */
async function runAndKill(dir: string, resume: boolean, delayMs: number, on: 'step' | 'epoch'): Promise<number | null> {
  const before = resume ? count(dir, on) : 0;
  const child = spawn(process.execPath, [cli, ...(resume ? ['train', '--resume', dir] : [...args, '--run', dir])], { env: cliEnv(), stdio: 'ignore' });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  for (let t = 0; t < 10_000 && child.exitCode === null && count(dir, on) <= before; t++) await sleep(on === 'step' ? 10 : 1);
  await sleep(delayMs);
  child.kill('SIGKILL');
  return exited;
}

describe('SIGKILL in a loop', () => {
  it('every resume continues bit-exactly: metrics.jsonl and weights equal an uninterrupted run, no temp files left', async () => {
    const ref = join(root, 'ref');
    const r = runCli([...args, '--run', ref]);
    expect(r.status, r.stderr).toBe(0);
    const dir = join(root, 'killed');
    const rng = new Rng(5);
    let kills = 0, inWrite = 0, epochAhead = 0, code: number | null = null;
    for (let k = 0; k < 6 && code !== 0; k++) {
      code = await runAndKill(dir, k > 0, rng.int(40), k % 3 === 1 ? 'epoch' : 'step');
      if (code === 0) break;
      kills++;
      // where it died: inside a checkpoint write (a temp file is left), or after an epoch line whose checkpoint
      // was not written (metrics.jsonl is ahead of last.safetensors by an epoch)
      if (temps(dir).length) inWrite++;
      const ck = join(dir, 'checkpoints', 'last.safetensors');
      if (existsSync(ck) && metrics(dir).some((m) => m.type === 'epoch' && (m.epoch as number) >= loadCheckpoint(ck).state.epoch)) epochAhead++;
    }
    console.log(`SIGKILL loop: ${kills} kills (${inWrite} inside a checkpoint write, ${epochAhead} between an epoch line and its checkpoint)`);
    expect(kills).toBeGreaterThanOrEqual(3);
    if (code !== 0) {
      const last = runCli(['train', '--resume', dir]);
      expect(last.status, last.stderr).toBe(0);
    }
    expect(metricsWithoutTimes(dir)).toEqual(metricsWithoutTimes(ref));
    const a = loadCheckpoint(join(dir, 'checkpoints', 'last.safetensors')), b = loadCheckpoint(join(ref, 'checkpoints', 'last.safetensors'));
    for (const [k, t] of b.model) expect(a.model.get(k)!.data, k).toEqual(t.data);
    for (const [k, t] of b.optimBuffers) expect(a.optimBuffers.get(k)!.data, k).toEqual(t.data);
    expect(temps(dir)).toEqual([]);
  }, 240_000);
});
