/**
 * What `convnet board` knows about run directories: which folders are runs, their configuration, status and
 * metrics.jsonl, read incrementally. Each run's file is read from the byte offset where the last read ended, up to
 * its last newline (a torn last line waits for its newline); a file replaced (a resume cuts metrics.jsonl back and
 * rewrites it atomically: a new inode) or shrunk is read again from the start. Epoch lines are always parsed (the
 * run list needs them); step lines only once a page asks for the run's curves, into typed columns.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync, type Stats } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';

export type RunState = 'running' | 'finished' | 'stopped' | 'failed';

export interface EpochLine {
  epoch: number;
  step?: number;
  trainLoss: number;
  trainTop1Err: number;
  trainTop5Err: number;
  valLoss?: number;
  valTop1Err?: number;
  valTop5Err?: number;
  lr: number;
  imagesPerSec: number;
  dataWaitShare: number;
  seconds: number;
}

/** Step-line columns: what the step lines of metrics.jsonl carry (NaN where a line lacks it). */
export const STEP_KEYS = [
  'epoch',
  'loss',
  'top1Err',
  'top5Err',
  'lr',
  'imagesPerSec',
  'dataWaitShare',
  'seconds',
] as const;
export type StepKey = (typeof STEP_KEYS)[number];

class Column<T extends Float32Array | Float64Array> {
  n = 0;
  constructor(
    public data: T,
    private readonly make: (n: number) => T,
  ) {}
  push(v: number): void {
    if (this.n === this.data.length) {
      const d = this.make(Math.max(1024, this.data.length * 2));
      d.set(this.data);
      this.data = d;
    }
    this.data[this.n++] = v;
  }
  view(): T {
    return this.data.subarray(0, this.n) as T;
  }
}

export class StepColumns {
  readonly step = new Column(new Float64Array(0), (n) => new Float64Array(n));
  readonly cols = Object.fromEntries(
    STEP_KEYS.map((k) => [k, new Column(new Float32Array(0), (n) => new Float32Array(n))]),
  ) as Record<StepKey, Column<Float32Array>>;
  get length(): number {
    return this.step.n;
  }
  push(line: Record<string, unknown>): void {
    this.step.push(Number(line.step));
    for (const k of STEP_KEYS) this.cols[k].push(typeof line[k] === 'number' ? (line[k] as number) : NaN);
  }
}

const CHUNK = 4 << 20;
const EPOCH_TAG = Buffer.from('{"type":"epoch"');
const STEP_TAG = Buffer.from('{"type":"step"');

/** metrics.jsonl of one run, read incrementally. */
export class MetricsReader {
  private ino = -1;
  /** Bytes consumed: everything up to and including the last newline read. */
  offset = 0;
  epochs: EpochLine[] = [];
  steps: StepColumns | null = null;
  stepLines = 0;
  /** The global step of the last step line (also without step lines kept). */
  lastStep = 0;
  badLines = 0;
  /** The file's size at the last read (its mtime for "running" without status.json). */
  size = 0;
  mtimeMs = 0;

  constructor(
    readonly path: string,
    private wantSteps = false,
  ) {}

  /** Starts keeping step lines (read again from the start once). */
  keepSteps(): void {
    if (this.wantSteps) return;
    this.wantSteps = true;
    this.reset();
  }

  get keepsSteps(): boolean {
    return this.wantSteps;
  }

  private reset(): void {
    this.offset = 0;
    this.epochs = [];
    this.steps = this.wantSteps ? new StepColumns() : null;
    this.stepLines = 0;
    this.lastStep = 0;
    this.badLines = 0;
  }

  /** Whether the last update stopped at its byte limit with more of the file to read. */
  more = false;

  /**
   * Reads what was appended since the last call, at most about `maxBytes` of it (whole lines; `more` then says
   * the rest waits for the next call). Returns whether anything changed.
   */
  update(st?: Stats | null, maxBytes = Infinity): boolean {
    this.more = false;
    let s = st;
    if (s === undefined) {
      try {
        s = statSync(this.path);
      } catch {
        s = null;
      }
    }
    if (!s) {
      const had = this.offset > 0 || this.ino !== -1;
      this.ino = -1;
      this.size = 0;
      this.reset();
      return had;
    }
    let changed = false;
    if (s.ino !== this.ino || s.size < this.offset) {
      changed = this.ino !== -1 || this.offset > 0;
      this.ino = s.ino;
      this.reset();
    }
    this.size = s.size;
    this.mtimeMs = s.mtimeMs;
    if (s.size <= this.offset) return changed;
    let fd: number;
    try {
      fd = openSync(this.path, 'r');
    } catch {
      return changed;
    }
    try {
      let pending: Buffer | null = null;
      const buf = Buffer.alloc(Math.min(CHUNK, maxBytes, s.size - this.offset));
      let pos = this.offset;
      const start = this.offset;
      while (pos < s.size) {
        if (pos - start >= maxBytes) {
          this.more = true;
          break;
        }
        const n = readSync(fd, buf, 0, Math.min(buf.length, s.size - pos), pos);
        if (n <= 0) break;
        pos += n;
        const chunk: Buffer = pending ? Buffer.concat([pending, buf.subarray(0, n)]) : buf.subarray(0, n);
        const last = chunk.lastIndexOf(10);
        if (last < 0) {
          pending = Buffer.from(chunk);
          continue;
        }
        if (this.wantSteps) this.lines(chunk.toString('utf8', 0, last));
        else this.epochLines(chunk, last);
        this.offset += last + 1;
        pending = last + 1 < chunk.length ? Buffer.from(chunk.subarray(last + 1)) : null;
        changed = true;
      }
    } finally {
      closeSync(fd);
    }
    return changed;
  }

  /**
   * Without step lines wanted: the epoch lines found by byte search (a line starting `{"type":"epoch"`); nothing
   * else is decoded (the step count is then the last step line's step, read at the end of the file).
   */
  private epochLines(chunk: Buffer, end: number): void {
    const j = chunk.lastIndexOf(STEP_TAG, end);
    if (j >= 0 && (j === 0 || chunk[j - 1] === 10)) {
      const e = chunk.indexOf(10, j);
      const m = /"step":(\d+)/.exec(chunk.toString('utf8', j, e < 0 || e > end ? end : e));
      if (m) this.lastStep = Number(m[1]);
    }
    for (let i = chunk.indexOf(EPOCH_TAG); i >= 0 && i < end; i = chunk.indexOf(EPOCH_TAG, i + EPOCH_TAG.length)) {
      if (i > 0 && chunk[i - 1] !== 10) continue;
      const e = chunk.indexOf(10, i);
      const text = chunk.toString('utf8', i, e < 0 || e > end ? end : e);
      this.line(text, 0, text.length);
    }
  }

  private lines(text: string): void {
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf('\n', start);
      if (end < 0) end = text.length;
      if (end > start) this.line(text, start, end);
      start = end + 1;
    }
  }

  private line(text: string, start: number, end: number): void {
    const isStep = text.startsWith('{"type":"step"', start);
    if (isStep && !this.wantSteps) {
      this.stepLines++;
      return;
    }
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(text.slice(start, end)) as Record<string, unknown>;
    } catch {
      this.badLines++;
      return;
    }
    if (o.type === 'step') {
      this.stepLines++;
      if (typeof o.step === 'number') this.lastStep = o.step;
      this.steps?.push(o);
    } else if (o.type === 'epoch' && typeof o.epoch === 'number') this.epochs.push(o as unknown as EpochLine);
  }
}

export interface RunSummary {
  id: string;
  name: string;
  root: string;
  model: string;
  data: string;
  recipe: string;
  state: RunState;
  /** Why it stopped or failed. */
  reason?: string;
  epochs: number;
  epochsPlanned: number | null;
  /** The last global step logged (a step line or an epoch line). */
  steps: number;
  bestAcc: number | null;
  lastAcc: number | null;
  lastTop5Acc: number | null;
  imagesPerSec: number | null;
  started: string | null;
  updated: number;
  filters: number;
}

const idOf = (dir: string) => createHash('sha1').update(dir).digest('hex').slice(0, 12);

function readJson(path: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The first line of a file, reading at most 256 KiB (config-history.jsonl's start entry). */
function firstLine(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const b = Buffer.alloc(256 << 10);
    const n = readSync(fd, b, 0, b.length, 0);
    const i = b.subarray(0, n).indexOf(10);
    return i < 0 ? null : b.toString('utf8', 0, i);
  } finally {
    closeSync(fd);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Without a live writer for this long, a run without an ending is shown as stopped. */
const STALE_MS = 30 * 60_000;

export class Run {
  readonly id: string;
  readonly metrics: MetricsReader;
  config: Record<string, unknown> | null = null;
  private configMtime = -1;
  status: Record<string, unknown> | null = null;
  private statusMtime = -1;
  started: string | null = null;
  filters: string[] = [];
  private filtersMtime = -1;

  constructor(
    readonly dir: string,
    readonly root: string,
  ) {
    this.id = idOf(dir);
    this.metrics = new MetricsReader(join(dir, 'metrics.jsonl'));
  }

  get name(): string {
    const r = relative(this.root, this.dir);
    return r && !r.startsWith('..') ? r : basename(this.dir);
  }

  /** Re-reads what changed (config, status, filters by mtime; metrics by size). Whether anything did. */
  update(maxBytes = Infinity): boolean {
    let changed = this.metrics.update(undefined, maxBytes);
    const mt = (p: string) => {
      try {
        return statSync(p).mtimeMs;
      } catch {
        return -2;
      }
    };
    const c = mt(join(this.dir, 'config.json'));
    if (c !== this.configMtime) {
      this.configMtime = c;
      this.config = c < 0 ? null : readJson(join(this.dir, 'config.json'));
      changed = true;
    }
    const s = mt(join(this.dir, 'status.json'));
    if (s !== this.statusMtime) {
      this.statusMtime = s;
      this.status = s < 0 ? null : readJson(join(this.dir, 'status.json'));
      changed = true;
    }
    if (this.started === null) {
      const l = firstLine(join(this.dir, 'config-history.jsonl'));
      try {
        if (l) this.started = (JSON.parse(l) as { time?: string }).time ?? null;
      } catch {
        // a torn first line: the start time stays unknown until it is whole
      }
    }
    const f = mt(join(this.dir, 'filters'));
    if (f !== this.filtersMtime) {
      this.filtersMtime = f;
      try {
        this.filters =
          f < 0
            ? []
            : readdirSync(join(this.dir, 'filters'))
                .filter((n) => FILTER_FILE.test(n))
                .sort();
      } catch {
        this.filters = [];
      }
      changed = true;
    }
    return changed;
  }

  state(now = Date.now()): { state: RunState; reason?: string } {
    const st = this.status;
    const epochsPlanned = typeof this.config?.epochs === 'number' ? this.config.epochs : null;
    if (st && st.state !== 'running') {
      const state = st.state === 'finished' || st.state === 'failed' || st.state === 'stopped' ? st.state : 'stopped';
      return { state, ...(st.reason || st.error ? { reason: String(st.reason ?? st.error) } : {}) };
    }
    if (st && st.host === hostname() && typeof st.pid === 'number') {
      return alive(st.pid) ? { state: 'running' } : { state: 'stopped', reason: 'killed' };
    }
    if (!st && epochsPlanned !== null && this.metrics.epochs.length >= epochsPlanned) return { state: 'finished' };
    return now - this.metrics.mtimeMs < (st ? STALE_MS : 120_000)
      ? { state: 'running' }
      : { state: 'stopped', reason: 'no recent writes' };
  }

  summary(): RunSummary {
    const cfg = this.config ?? {};
    const e = this.metrics.epochs;
    const withVal = e.filter((m) => typeof m.valTop1Err === 'number');
    const best = withVal.length ? Math.min(...withVal.map((m) => m.valTop1Err!)) : null;
    const last = withVal.at(-1);
    const data = String(cfg.data ?? '?');
    const recipe = [
      cfg.schedule && `${cfg.schedule}`,
      cfg.lr !== undefined && `lr ${cfg.lr}`,
      cfg.batchSize !== undefined && `batch ${cfg.batchSize}`,
    ]
      .filter(Boolean)
      .join(', ');
    const s = this.state();
    return {
      id: this.id,
      name: this.name,
      root: this.root,
      model: String(cfg.model ?? '?'),
      data: data === 'default' ? 'fashion-mnist' : data.length > 40 ? '…' + data.slice(-39) : data,
      recipe,
      ...s,
      epochs: e.length,
      epochsPlanned: typeof cfg.epochs === 'number' ? cfg.epochs : null,
      steps: Math.max(this.metrics.lastStep, this.metrics.epochs.at(-1)?.step ?? 0),
      bestAcc: best === null ? null : 1 - best,
      lastAcc: last ? 1 - last.valTop1Err! : null,
      lastTop5Acc: last?.valTop5Err !== undefined ? 1 - last.valTop5Err : null,
      imagesPerSec: e.at(-1)?.imagesPerSec ?? null,
      started: this.started,
      updated: this.metrics.mtimeMs,
      filters: this.filters.length,
    };
  }
}

export const FILTER_FILE = /^conv1-epoch-(\d+)\.png$/;

/** A folder is a run when it holds config.json or metrics.jsonl. */
export const isRunDir = (dir: string) => existsSync(join(dir, 'config.json')) || existsSync(join(dir, 'metrics.jsonl'));

/** The run folders under `root`: root itself, or its sub-folders to depth 2 (runs/ and runs/<group>/). */
export function findRunDirs(root: string): string[] {
  const abs = resolve(root);
  if (isRunDir(abs)) return [abs];
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name);
    } catch {
      return;
    }
    for (const n of names.sort()) {
      const d = join(dir, n);
      if (isRunDir(d)) out.push(d);
      else if (depth < 2 && n !== 'checkpoints' && n !== 'filters') walk(d, depth + 1);
    }
  };
  walk(abs, 1);
  return out;
}
