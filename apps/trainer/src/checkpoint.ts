/**
 * Checkpoints: one safetensors file holding the model (`model.<name>`) and optimiser buffers
 * (`optim.<key>`), with the rest of the training state (epoch, step, optimiser counters, schedule,
 * best error, config) as JSON in the safetensors metadata. Written atomically (temp + rename).
 */
import { copyFileSync, existsSync, linkSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { memoryOf, sumAndSquares, type Tensor } from '@convnet/tensor';
import { loadStateDictFile, saveSafetensors, type Module } from '@convnet/layers';
import type { Optimizer, SchedulerState, SGD } from '@convnet/optim';
import type { Net } from '@convnet/alexnet';
import { RunError } from './errors.js';
import type { Schedule } from './schedule.js';
import { validateConfig, type TrainConfig } from './config.js';
import { UsageError } from './errors.js';

export interface TrainState {
  /** Epoch in progress (1-based) and the number of its steps already done. */
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  bestValTop1Err: number;
  optimizer: { step: number; groups: { lr: number; initialLr: number }[] };
  scheduler: SchedulerState | null;
  config: TrainConfig;
  dataset: { name: string; mean: number[]; std: number[]; classes: string[]; shape: number[] };
  /**
   * The running sums of the epoch in progress (steps done so far, or all of them when stopped during its test
   * pass), so that the epoch's line after a resume equals an uninterrupted run's. Absent at an epoch's start.
   */
  epochSums?: EpochSums;
}

/** Training loss and hits summed over the epoch's steps so far, the images seen, and the seconds spent. */
export interface EpochSums {
  loss: number;
  top1: number;
  top5: number;
  seen: number;
  seconds: number;
}

export function saveCheckpoint(path: string, model: Module, optimizer: Optimizer, state: TrainState): void {
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of model.stateDict()) tensors.set(`model.${k}`, v);
  const os = optimizer.stateDict();
  for (const [k, v] of os.buffers) tensors.set(`optim.${k}`, v);
  saveSafetensors(path, tensors, { format: 'convnet-checkpoint', state: JSON.stringify(state) });
}

export function loadCheckpoint(path: string): { model: Map<string, Tensor>; optimBuffers: Map<string, Tensor>; state: TrainState } {
  let file: ReturnType<typeof loadStateDictFile>;
  try {
    file = loadStateDictFile(path);
  } catch (e) {
    const m = (e as Error).message;
    throw new UsageError(m.includes(path) ? m : `${path}: ${m}`);
  }
  const { stateDict, metadata } = file;
  if (metadata.format !== 'convnet-checkpoint' || !metadata.state) throw new UsageError(`${path}: not a convnet checkpoint (no training state in its metadata)`);
  const model = new Map<string, Tensor>(), optimBuffers = new Map<string, Tensor>();
  for (const [k, v] of stateDict) {
    if (k.startsWith('model.')) model.set(k.slice(6), v);
    else if (k.startsWith('optim.')) optimBuffers.set(k.slice(6), v);
  }
  let state: unknown;
  try {
    state = JSON.parse(metadata.state);
  } catch (e) {
    throw new UsageError(`${path}: corrupt training state (${(e as Error).message})`);
  }
  return { model, optimBuffers, state: validateState(state, path) };
}

/** Limits on a checkpoint's dataset description (far above any real dataset; a damaged state is refused early). */
const MAX_CLASSES = 100_000, MAX_SIDE = 4096;

/** Checks the JSON training state of a checkpoint; errors name the file and the key. */
export function validateState(st: unknown, path: string): TrainState {
  const bad = (key: string, want: string, got: unknown): never => {
    throw new UsageError(`${path}: training state '${key}' must be ${want}, got ${JSON.stringify(got) ?? 'nothing'} (not a checkpoint this version wrote, or damaged)`);
  };
  const obj = (v: unknown, key: string) => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : bad(key, 'an object', v));
  const int = (v: unknown, key: string, min: number) => (Number.isSafeInteger(v) && (v as number) >= min ? (v as number) : bad(key, `an integer ≥ ${min}`, v));
  const num = (v: unknown, key: string) => (typeof v === 'number' && Number.isFinite(v) ? v : bad(key, 'a finite number', v));
  const s = obj(st, 'state');
  int(s.epoch, 'epoch', 1);
  int(s.stepInEpoch, 'stepInEpoch', 0);
  int(s.globalStep, 'globalStep', 0);
  // JSON has no Infinity: a run without a finished epoch saves null
  if (s.bestValTop1Err === null) s.bestValTop1Err = Infinity;
  else num(s.bestValTop1Err, 'bestValTop1Err');
  const o = obj(s.optimizer, 'optimizer');
  int(o.step, 'optimizer.step', 0);
  if (!Array.isArray(o.groups) || o.groups.length === 0) bad('optimizer.groups', 'a non-empty array', o.groups);
  (o.groups as unknown[]).forEach((g, i) => {
    const gg = obj(g, `optimizer.groups[${i}]`);
    num(gg.lr, `optimizer.groups[${i}].lr`);
    num(gg.initialLr, `optimizer.groups[${i}].initialLr`);
  });
  if (s.scheduler !== null) {
    const sc = obj(s.scheduler, 'scheduler');
    if (typeof sc.kind !== 'string') bad('scheduler.kind', 'a string', sc.kind);
    int(sc.lastEpoch, 'scheduler.lastEpoch', 0);
    if (!Array.isArray(sc.lrs)) bad('scheduler.lrs', 'an array', sc.lrs);
  }
  if (s.epochSums !== undefined) {
    const e = obj(s.epochSums, 'epochSums');
    for (const k of ['loss', 'top1', 'top5', 'seen', 'seconds']) num(e[k], `epochSums.${k}`);
  }
  validateConfig(obj(s.config, 'config') as unknown as TrainConfig, `${path}: training state 'config'`);
  const d = obj(s.dataset, 'dataset');
  if (typeof d.name !== 'string') bad('dataset.name', 'a string', d.name);
  if (!Array.isArray(d.classes) || d.classes.length === 0 || d.classes.length > MAX_CLASSES || !d.classes.every((c) => typeof c === 'string'))
    bad('dataset.classes', `1 to ${MAX_CLASSES} class names (strings)`, Array.isArray(d.classes) ? `${d.classes.length} entries` : d.classes);
  if (!Array.isArray(d.shape) || d.shape.length !== 3 || !d.shape.every((x) => Number.isSafeInteger(x) && x > 0) ||
    d.shape[0] > 4 || d.shape[1] > MAX_SIDE || d.shape[2] > MAX_SIDE)
    bad('dataset.shape', `[channels ≤ 4, height ≤ ${MAX_SIDE}, width ≤ ${MAX_SIDE}]`, d.shape);
  for (const k of ['mean', 'std'] as const)
    if (!Array.isArray(d[k]) || (d[k] as unknown[]).length !== (d.shape as number[])[0] || !(d[k] as unknown[]).every((x) => typeof x === 'number')) bad(`dataset.${k}`, `${(d.shape as number[])[0]} numbers`, d[k]);
  return s as unknown as TrainState;
}

/** Keeps the newest `keep` step-N checkpoints in dir (last.* and best.* are never removed). */
export function pruneStepCheckpoints(dir: string, keep: number): void {
  if (!existsSync(dir)) return;
  const steps = readdirSync(dir)
    .map((f) => /^step-(\d+)\.safetensors$/.exec(f))
    .filter((m): m is RegExpExecArray => !!m)
    .sort((a, b) => Number(b[1]) - Number(a[1]));
  for (const m of steps.slice(keep)) rmSync(join(dir, m[0]), { force: true });
}

/** What loadCheckpoint returns: the model's tensors, the optimiser's buffers and the training state. */
export type Checkpoint = ReturnType<typeof loadCheckpoint>;

/** True when every parameter is finite (a checkpoint of non-finite weights would resume into NaN). */
export function finiteWeights(net: Net): boolean {
  for (const p of net.parameters()) {
    // device memory: Σw² on the device is finite iff every weight is (one scalar down, no copy of the weights)
    if (memoryOf(p.value) !== 'host') {
      if (!Number.isFinite(sumAndSquares(p.value, { backend: net.backend }).sumSquares)) return false;
      continue;
    }
    const d = p.value.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  }
  return true;
}

/** A save whose mean loss since the previous save exceeds this multiple of the recent stable ones is "rising". */
export const RISING_FACTOR = 1.5;

/**
 * The checkpoints of a run: last.safetensors (what --resume continues from), best.safetensors, step-N every
 * --checkpoint-every steps. Only finite weights are saved. A run that diverges stops with an error naming the
 * checkpoint to continue from with a lower --lr: the last one whose loss was finite and not rising (a checkpoint
 * taken while the loss climbs towards NaN diverges again at once). A checkpoint's own loss is only seen after it
 * (the steps that follow it start from its weights): each save of last.safetensors is kept as a candidate (a hard
 * link, checkpoints/.candidate.safetensors) and becomes the stable one (.stable.safetensors) when the losses up to
 * the next save are not rising. When the run diverges after the stable one, it is put back as last.safetensors.
 * Under mpirun every rank checks and rank 0 alone writes.
 */
export class Checkpoints {
  /** Global step of the newest last.safetensors with finite weights (-1: none yet). */
  lastGood: number;
  readonly lastFile: string;
  /** Global step of the stable checkpoint (-1: none yet) and of the candidate (-1: none). */
  stableStep = -1;
  private candidateStep = -1;
  private readonly stableFile: string;
  private readonly candidateFile: string;
  /** Train losses since the last save of last.safetensors, and the interval means of recent stable saves. */
  private interval = { sum: 0, n: 0 };
  private recent: number[] = [];
  /** Where the loss started rising after the stable checkpoint: [step, mean loss] of the first rising save. */
  private risingAt: [number, number] | null = null;

  constructor(
    readonly dir: string, private readonly runDir: string, private readonly writer: boolean,
    private readonly net: Net, private readonly opt: SGD, private readonly sched: Schedule, resumedAt: number | null,
  ) {
    this.lastGood = resumedAt ?? -1;
    this.lastFile = join(dir, 'last.safetensors');
    this.stableFile = join(dir, '.stable.safetensors');
    this.candidateFile = join(dir, '.candidate.safetensors');
    // a resumed run starts from the checkpoint it resumed: the candidate until the steps after it are seen
    if (resumedAt !== null) this.keepCandidate(resumedAt);
  }

  /** Records one step's (global) training loss. */
  noteLoss(loss: number): void {
    this.interval.sum += loss;
    this.interval.n++;
  }

  /** The error that ends a run whose loss or weights stopped being finite; last.safetensors is the stable one. */
  diverged(what: string, state: TrainState): RunError {
    const where = `${what} at epoch ${state.epoch}, step ${state.stepInEpoch} (global ${state.globalStep}): training stopped. `;
    if (this.lastGood < 0) return new RunError(`${where}no checkpoint was written yet; start again with a lower --lr`);
    let why = 'the last finite weights';
    if (this.stableStep >= 0 && this.stableStep !== this.lastGood) {
      // the newest checkpoint was taken while the loss climbed (or just before the NaN): the stable one goes back
      try {
        if (this.writer) renameSync(this.stableFile, this.lastFile);
        const rise = this.risingAt ? `after it the loss rose to ${this.risingAt[1].toPrecision(3)} by global step ${this.risingAt[0]}; ` : '';
        why = `the last checkpoint whose loss was finite and not rising (${rise}step ${this.lastGood}'s weights were diverging)`;
        this.lastGood = this.stableStep;
      } catch {
        // no stable copy (removed meanwhile): offer the last finite one
      }
    }
    return new RunError(`${where}${this.lastFile} (global step ${this.lastGood}) has ${why}; continue from it with a lower ` +
      `learning rate: convnet train --resume ${this.runDir} --lr ${(this.opt.paramGroups[0].initialLr / 10).toPrecision(2)}`);
  }

  /** Saves `name` (last.safetensors, best.safetensors, step-N.safetensors) at `state`. */
  save(name: string, state: TrainState): void {
    if (!finiteWeights(this.net)) throw this.diverged('the weights became non-finite', state);
    if (name === 'last.safetensors') this.lastGood = state.globalStep;
    if (this.writer) {
      state.optimizer = { step: this.opt.stepCount, groups: this.opt.paramGroups.map((g) => ({ lr: g.lr, initialLr: g.initialLr })) };
      state.scheduler = this.sched.state();
      saveCheckpoint(join(this.dir, name), this.net, this.opt, state);
    }
    if (name !== 'last.safetensors') return;
    // the losses since the previous save were computed from the candidate's weights onwards: not rising (within
    // RISING_FACTOR of recent stable intervals) makes the candidate stable; rising drops it
    const { sum, n } = this.interval;
    this.interval = { sum: 0, n: 0 };
    if (n) {
      const mean = sum / n;
      const floor = this.recent.length ? Math.min(...this.recent) : Infinity;
      if (!Number.isFinite(mean) || (Number.isFinite(floor) && mean > RISING_FACTOR * floor)) {
        this.risingAt ??= [state.globalStep, mean];
        this.candidateStep = -1;
        return;
      }
      this.recent.push(mean);
      if (this.recent.length > 5) this.recent.shift();
      this.risingAt = null;
      this.promoteCandidate();
    } else if (this.risingAt) return; // no step since a rising save (the end of an epoch): still rising
    this.keepCandidate(state.globalStep);
  }

  /** last.safetensors as it is now becomes the candidate (a hard link; a copy where links fail). */
  private keepCandidate(step: number): void {
    if (this.candidateStep === step) return;
    this.candidateStep = step;
    if (!this.writer || !existsSync(this.lastFile)) return;
    const tmp = `${this.candidateFile}.${process.pid}.tmp`;
    try {
      rmSync(tmp, { force: true });
      try {
        linkSync(this.lastFile, tmp);
      } catch {
        copyFileSync(this.lastFile, tmp);
      }
      renameSync(tmp, this.candidateFile);
    } catch {
      this.candidateStep = -1;
    }
  }

  private promoteCandidate(): void {
    if (this.candidateStep < 0) return;
    try {
      if (this.writer) renameSync(this.candidateFile, this.stableFile);
      this.stableStep = this.candidateStep;
    } catch {
      // no candidate file: the stable one stays
    }
    this.candidateStep = -1;
  }

  /** Removes the stable and candidate copies (a run that ends or stops resumes from last.safetensors). */
  dispose(): void {
    if (this.writer) for (const f of [this.stableFile, this.candidateFile]) rmSync(f, { force: true });
  }

  /** Every --checkpoint-every steps: step-N and last, keeping the newest --keep-checkpoints step files. */
  periodic(state: TrainState, keep: number): void {
    this.save(`step-${state.globalStep}.safetensors`, state);
    this.save('last.safetensors', state);
    if (this.writer) pruneStepCheckpoints(this.dir, keep);
  }
}
