/** The files of a run directory besides checkpoints: metrics.jsonl, stale temp files. */
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '@convnet/tensor';
import { UsageError } from './errors.js';

export type MetricsLine = { type: string; [k: string]: unknown };

/**
 * metrics.jsonl's lines. A torn last line (a kill in the middle of an append) is ignored; any other line that is
 * not JSON is an error naming the file and line.
 */
export function readMetrics(path: string): MetricsLine[] {
  if (!existsSync(path)) return [];
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MetricsLine[] = [];
  let last = lines.length - 1;
  while (last >= 0 && !lines[last].trim()) last--;
  for (let i = 0; i <= last; i++) {
    if (!lines[i].trim()) continue;
    try {
      out.push(JSON.parse(lines[i]) as MetricsLine);
    } catch {
      if (i === last) break; // torn by a kill: the checkpoint decides what is kept
      throw new UsageError(`${path}: line ${i + 1} is not JSON (${lines[i].slice(0, 40)}…); remove the line to continue`);
    }
  }
  return out;
}

/**
 * Keeps the lines a checkpoint at `globalStep` (epoch `epoch` in progress) has done: step lines up to that
 * step, epoch lines of finished epochs. Lines of steps re-run after a resume would otherwise appear twice.
 */
export function truncateMetrics(path: string, globalStep: number, epoch: number): void {
  if (!existsSync(path)) return;
  const keep = readMetrics(path).filter((m) => (m.type === 'step' ? (m.step as number) <= globalStep : m.type === 'epoch' ? (m.epoch as number) < epoch : true));
  const text = keep.map((m) => JSON.stringify(m) + '\n').join('');
  if (text !== readFileSync(path, 'utf8')) writeFileAtomic(path, text);
}

const TEMP = /^\..+\.(\d+)\.\d+\.[0-9a-z]+\.[0-9a-z]+\.tmp$/;

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the temp files of atomic writes (tempPath) whose writing process is gone. */
export function removeStaleTempFiles(dirs: string[], log: (line: string) => void): void {
  let n = 0, bytes = 0;
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) {
      const m = TEMP.exec(f);
      if (!m || alive(Number(m[1]))) continue;
      try {
        bytes += statSync(join(dir, f)).size;
        rmSync(join(dir, f), { force: true });
        n++;
      } catch {
        // gone meanwhile
      }
    }
  }
  if (n) log(`removed ${n} temp file${n > 1 ? 's' : ''} (${(bytes / 2 ** 20).toFixed(1)} MiB) of writes a killed run left behind`);
}

/**
 * Creates directory `dir` (and missing parents) for `what` (a flag or argument name), one level at a time: Node
 * 20's recursive mkdir spins forever where a file system refuses to create anything (/proc, /sys). An existing
 * file in the way, a place that cannot be created or an unwritable directory is a one-line error naming `what`.
 */
export function makeDirectory(dir: string, what: string): void {
  const missing: string[] = [];
  let p = resolve(dir);
  for (;;) {
    try {
      const st = statSync(p);
      if (!st.isDirectory()) throw new UsageError(`${what} ${dir}: ${p} is ${st.isFile() ? 'a file' : 'not a directory'}; give a directory`);
      break;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(p) === p) throw new UsageError(`${what} ${dir}: cannot use ${p} (${code ?? (e as Error).message})`);
      missing.unshift(p);
      p = dirname(p);
    }
  }
  for (const m of missing) {
    try {
      mkdirSync(m);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && statSync(m).isDirectory()) continue;
      throw new UsageError(`${what} ${dir}: cannot create ${m} (${code ?? (e as Error).message})`);
    }
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (e) {
    throw new UsageError(`${what} ${dir}: the directory is not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
