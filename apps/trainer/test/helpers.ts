// What the CLI tests share: the built `convnet` command, temp roots, generated IDX datasets, metrics.jsonl readers,
// and a run interrupted by signals.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '@convnet/tensor';

/** The built CLI (`pnpm build` first). */
export const cli = new URL('../dist/cli.js', import.meta.url).pathname;

/** A fresh temp directory for one test file's runs and data. */
export const tempRoot = (name: string) => mkdtempSync(join(tmpdir(), `convnet-${name}-`));

export interface RunOptions {
  /** CONVNET_NUM_THREADS (default 1). */
  threads?: number;
  env?: Record<string, string>;
  timeout?: number;
}

/** `convnet ...args` to completion; stdout and stderr as text. */
export function runCli(args: string[], o: RunOptions = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', env: cliEnv(o), timeout: o.timeout });
}

export const cliEnv = (o: RunOptions = {}) => ({ ...process.env, CONVNET_NUM_THREADS: String(o.threads ?? 1), ...o.env });

/** An IDX file (unsigned bytes): magic, dims, data. */
export function idx(dims: number[], bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(0x00000800 | dims.length, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(bytes)]);
}

/** Writes `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte` of n 28×28 images into dir. */
export function writeIdxSplit(dir: string, prefix: 'train' | 't10k', images: Uint8Array, labels: Uint8Array): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), idx([labels.length, 28, 28], images));
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), idx([labels.length], labels));
}

/**
 * An IDX dataset of 4 classes of noisy flat images (class c: grey level 60·c plus noise): learnable in a few
 * steps, cheap to make. Returns the directory.
 */
export function noiseIdx(dir: string, nTrain: number, nTest: number, seed: number): string {
  const r = new Rng(seed);
  for (const [prefix, n] of [['train', nTrain], ['t10k', nTest]] as const) {
    const labels = Uint8Array.from({ length: n }, (_, i) => i % 4);
    writeIdxSplit(dir, prefix, Uint8Array.from({ length: n * 784 }, (_, p) => (labels[Math.floor(p / 784)] * 60 + r.int(40)) & 255), labels);
  }
  return dir;
}

export type MetricsLine = { type: 'step' | 'epoch'; [k: string]: unknown };

/** metrics.jsonl of a run directory, every line parsed. */
export const metrics = (runDir: string): MetricsLine[] =>
  existsSync(join(runDir, 'metrics.jsonl')) ? readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as MetricsLine) : [];

/** [step, loss] of every step line. */
export const stepLosses = (runDir: string) => metrics(runDir).filter((m) => m.type === 'step').map((m) => [m.step as number, m.loss as number]);

/** The epoch numbers of the epoch lines. */
export const epochNumbers = (runDir: string) => metrics(runDir).filter((m) => m.type === 'epoch').map((m) => m.epoch as number);

/** metrics.jsonl without what depends on the clock (seconds, images/s, waits): equal for equal runs. */
export const metricsWithoutTimes = (runDir: string) =>
  metrics(runDir).map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => !['seconds', 'imagesPerSec', 'dataWaitShare', 'commWaitShare'].includes(k))));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts `convnet ...args`, waits until `ready(stderr)` holds (up to ~30 s), sends `signals` (gapMs apart, default 5), and
 * resolves with the exit code and stderr.
 */
export async function interrupt(args: string[], signals: NodeJS.Signals[], ready: (stderr: string) => boolean, o: RunOptions & { gapMs?: number } = {}): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [cli, ...args], { env: cliEnv(o) });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  for (let t = 0; t < 6000 && !ready(stderr) && child.exitCode === null; t++) await sleep(5);
  for (const s of signals) {
    child.kill(s);
    if (o.gapMs !== 0) await sleep(o.gapMs ?? 5);
  }
  return { code: await exited, stderr };
}
