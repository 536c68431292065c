/**
 * Learning-rate schedules with torch.optim.lr_scheduler's semantics (including its recursive update
 * formulas, so the lr sequences match PyTorch's to the last bit that float64 allows). Call step() once per
 * epoch, after the optimiser's steps; ReduceLROnPlateau.step(metric) takes the validation metric.
 * step(epoch) jumps to an epoch with the schedule's closed form, as torch's deprecated step(epoch) does
 * (SequentialLR uses it to start each stage at epoch 0).
 */
import type { Optimizer } from './optimizers.js';

export interface SchedulerState {
  kind: string;
  lastEpoch: number;
  lrs: number[];
  extra?: Record<string, number>;
  /** SequentialLR: the state of each stage. */
  children?: SchedulerState[];
}

export abstract class LRScheduler {
  lastEpoch = 0;

  constructor(readonly optimizer: Optimizer) {}

  protected get groups() {
    return this.optimizer.paramGroups;
  }

  /** New lr of group i at this.lastEpoch, given its current lr (PyTorch's get_lr). */
  protected abstract nextLr(i: number, current: number, initial: number): number;

  /**
   * lr of group i at this.lastEpoch from its initial lr alone (PyTorch's _get_closed_form_lr); schedules
   * without one fall back to nextLr, as PyTorch does.
   */
  protected closedFormLr(i: number, initial: number): number {
    return this.nextLr(i, this.groups[i].lr, initial);
  }

  /** The lrs now in the optimiser. */
  get lastLr(): number[] {
    return this.groups.map((g) => g.lr);
  }

  /** Advances one epoch; with `epoch`, jumps there (closed form). */
  step(epoch?: number): void {
    if (epoch === undefined) {
      this.lastEpoch++;
      this.groups.forEach((g, i) => {
        g.lr = this.nextLr(i, g.lr, g.initialLr);
      });
      return;
    }
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`${this.constructor.name}.step: epoch must be a non-negative integer, got ${epoch}`);
    this.lastEpoch = epoch;
    this.groups.forEach((g, i) => {
      g.lr = this.closedFormLr(i, g.initialLr);
    });
  }

  stateDict(): SchedulerState {
    return { kind: this.constructor.name, lastEpoch: this.lastEpoch, lrs: this.lastLr };
  }

  loadStateDict(s: SchedulerState): void {
    if (s.kind !== this.constructor.name) throw new Error(`${this.constructor.name}.loadStateDict: state is for ${s.kind}`);
    if (s.lrs.length !== this.groups.length) throw new Error(`${this.constructor.name}.loadStateDict: state has ${s.lrs.length} groups, optimiser has ${this.groups.length}`);
    this.lastEpoch = s.lastEpoch;
    s.lrs.forEach((lr, i) => { this.groups[i].lr = lr; });
  }
}

/** lr × gamma every stepSize epochs. */
export class StepLR extends LRScheduler {
  constructor(opt: Optimizer, readonly stepSize: number, readonly gamma = 0.1) {
    super(opt);
    if (!Number.isInteger(stepSize) || stepSize < 1) throw new RangeError(`StepLR: stepSize must be a positive integer, got ${stepSize}`);
  }
  protected nextLr(_i: number, lr: number): number {
    return this.lastEpoch === 0 || this.lastEpoch % this.stepSize !== 0 ? lr : lr * this.gamma;
  }
  protected closedFormLr(_i: number, base: number): number {
    return base * this.gamma ** Math.floor(this.lastEpoch / this.stepSize);
  }
}

/** lr × gamma at each milestone epoch. */
export class MultiStepLR extends LRScheduler {
  constructor(opt: Optimizer, readonly milestones: number[], readonly gamma = 0.1) {
    super(opt);
  }
  protected nextLr(_i: number, lr: number): number {
    const hits = this.milestones.filter((m) => m === this.lastEpoch).length;
    return hits ? lr * this.gamma ** hits : lr;
  }
  protected closedFormLr(_i: number, base: number): number {
    return base * this.gamma ** this.milestones.filter((m) => m <= this.lastEpoch).length;
  }
}

/** lr × gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly gamma: number) {
    super(opt);
  }
  protected nextLr(_i: number, lr: number): number {
    return this.lastEpoch === 0 ? lr : lr * this.gamma;
  }
  protected closedFormLr(_i: number, base: number): number {
    return base * this.gamma ** this.lastEpoch;
  }
}

/** Cosine annealing from the initial lr to etaMin over tMax epochs (PyTorch's recursive form). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(opt: Optimizer, readonly tMax: number, readonly etaMin = 0) {
    super(opt);
  }
  protected nextLr(_i: number, lr: number, base: number): number {
    const e = this.lastEpoch, T = this.tMax;
    if (e === 0) return lr;
    if ((e - 1 - T) % (2 * T) === 0) return lr + ((base - this.etaMin) * (1 - Math.cos(Math.PI / T))) / 2;
    return ((1 + Math.cos((Math.PI * e) / T)) / (1 + Math.cos((Math.PI * (e - 1)) / T))) * (lr - this.etaMin) + this.etaMin;
  }
  protected closedFormLr(_i: number, base: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * this.lastEpoch) / this.tMax))) / 2;
  }
}

/** Linear warm-up: factor goes from startFactor to endFactor over totalIters epochs (PyTorch's LinearLR). */
export class LinearLR extends LRScheduler {
  constructor(opt: Optimizer, readonly startFactor = 1 / 3, readonly endFactor = 1, readonly totalIters = 5) {
    super(opt);
    for (const g of this.groups) g.lr = g.lr * startFactor;
  }
  protected nextLr(_i: number, lr: number): number {
    const e = this.lastEpoch;
    if (e === 0) return lr * this.startFactor;
    if (e > this.totalIters) return lr;
    const d = this.endFactor - this.startFactor;
    return lr * (1 + d / (this.totalIters * this.startFactor + (e - 1) * d));
  }
  protected closedFormLr(_i: number, base: number): number {
    return base * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, this.lastEpoch)) / this.totalIters);
  }
}

/**
 * Linear warm-up for `warmup` epochs (from startFactor × lr) then cosine annealing to etaMin by epoch
 * `total`, in closed form: lr(e) = base·(s + (1−s)·e/w) for e < w, else etaMin + (base − etaMin)·(1 + cos(π(e−w)/(total−w)))/2.
 */
export class WarmupCosineLR extends LRScheduler {
  constructor(opt: Optimizer, readonly warmup: number, readonly total: number, readonly etaMin = 0, readonly startFactor = 0.1) {
    super(opt);
    if (warmup > 0) for (const g of this.groups) g.lr = g.initialLr * startFactor;
  }
  protected nextLr(_i: number, _lr: number, base: number): number {
    const e = this.lastEpoch, w = this.warmup;
    if (e < w) return base * (this.startFactor + ((1 - this.startFactor) * e) / w);
    const span = Math.max(1, this.total - w);
    const t = Math.min(1, (e - w) / span);
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos(Math.PI * t))) / 2;
  }
}

/**
 * torch's ConstantLR: lr × factor until epoch totalIters, then the initial lr. The default factor is 1 (a
 * constant lr, for symmetry in configs), where torch's is 1/3.
 */
export class ConstantLR extends LRScheduler {
  constructor(opt: Optimizer, readonly factor = 1, readonly totalIters = 5) {
    super(opt);
    if (!(factor > 0 && factor <= 1)) throw new RangeError(`ConstantLR: factor must be in (0, 1], got ${factor}`);
    for (const g of this.groups) g.lr = g.lr * factor;
  }
  protected nextLr(_i: number, lr: number): number {
    const e = this.lastEpoch;
    if (e === 0) return lr * this.factor;
    return e === this.totalIters ? lr * (1 / this.factor) : lr;
  }
  protected closedFormLr(_i: number, base: number): number {
    return base * (this.factor + (this.lastEpoch >= this.totalIters ? 1 - this.factor : 0));
  }
}

/**
 * torch's SequentialLR: stage i runs from milestone i−1 (its own epoch 0, by the closed form) until
 * milestone i. Build the stages on the same optimiser first, then this (which resets the lrs to the
 * initial ones and replays the first stage's epoch 0, as torch does). E.g. linear warm-up then cosine:
 * `new SequentialLR(opt, [new LinearLR(opt, 0.1, 1, 5), new CosineAnnealingLR(opt, 25)], [5])`.
 */
export class SequentialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly schedulers: LRScheduler[], readonly milestones: number[]) {
    super(opt);
    if (!schedulers.length) throw new RangeError('SequentialLR: needs at least one scheduler');
    schedulers.forEach((s, i) => {
      if (!(s instanceof LRScheduler)) throw new TypeError(`SequentialLR: schedulers[${i}] is not an epoch scheduler (ReduceLROnPlateau cannot be chained)`);
      if (s.optimizer !== opt) throw new Error(`SequentialLR: schedulers[${i}] drives a different optimiser`);
    });
    if (milestones.length !== schedulers.length - 1)
      throw new RangeError(`SequentialLR: ${schedulers.length} schedulers need ${schedulers.length - 1} milestones, got ${milestones.length}`);
    milestones.forEach((m, i) => {
      if (!Number.isInteger(m) || m < 1 || (i > 0 && m < milestones[i - 1])) throw new RangeError(`SequentialLR: milestones must be increasing positive integers, got ${JSON.stringify(milestones)}`);
    });
    for (const g of this.groups) g.lr = g.initialLr;
    for (const s of schedulers) s.lastEpoch -= 1;
    schedulers[0].step();
  }

  protected nextLr(_i: number, lr: number): number {
    return lr;
  }

  step(epoch?: number): void {
    if (epoch !== undefined) throw new Error('SequentialLR.step: takes no epoch');
    this.lastEpoch++;
    let idx = 0;
    while (idx < this.milestones.length && this.milestones[idx] <= this.lastEpoch) idx++; // bisect_right
    const s = this.schedulers[idx];
    if (idx > 0 && this.milestones[idx - 1] === this.lastEpoch) s.step(0);
    else s.step();
  }

  stateDict(): SchedulerState {
    return { ...super.stateDict(), children: this.schedulers.map((s) => s.stateDict()) };
  }

  loadStateDict(s: SchedulerState): void {
    if (s.children?.length !== this.schedulers.length)
      throw new Error(`SequentialLR.loadStateDict: state has ${s.children?.length ?? 0} stages, this schedule has ${this.schedulers.length}`);
    this.schedulers.forEach((c, i) => c.loadStateDict(s.children![i]));
    super.loadStateDict(s);
  }
}

export interface PlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  /** A floor for every group, or one per group. */
  minLr?: number | number[];
  eps?: number;
}

/**
 * The paper's rule: divide the lr by 10 when the validation error stops improving. Same bookkeeping as
 * torch.optim.lr_scheduler.ReduceLROnPlateau.
 */
export class ReduceLROnPlateau {
  readonly o: Required<Omit<PlateauOptions, 'minLr'>>;
  readonly minLrs: number[];
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(readonly optimizer: Optimizer, opts: PlateauOptions = {}) {
    this.o = {
      mode: opts.mode ?? 'min', factor: opts.factor ?? 0.1, patience: opts.patience ?? 10, threshold: opts.threshold ?? 1e-4,
      thresholdMode: opts.thresholdMode ?? 'rel', cooldown: opts.cooldown ?? 0, eps: opts.eps ?? 1e-8,
    };
    if (!(this.o.factor < 1 && this.o.factor > 0)) throw new RangeError(`ReduceLROnPlateau: factor must be in (0, 1), got ${this.o.factor}`);
    if (this.o.mode !== 'min' && this.o.mode !== 'max') throw new RangeError(`ReduceLROnPlateau: mode must be 'min' or 'max', got ${this.o.mode}`);
    if (this.o.thresholdMode !== 'rel' && this.o.thresholdMode !== 'abs') throw new RangeError(`ReduceLROnPlateau: thresholdMode must be 'rel' or 'abs', got ${this.o.thresholdMode}`);
    const n = optimizer.paramGroups.length, m = opts.minLr ?? 0;
    if (Array.isArray(m) && m.length !== n) throw new RangeError(`ReduceLROnPlateau: minLr has ${m.length} values for ${n} parameter groups`);
    this.minLrs = Array.isArray(m) ? [...m] : new Array(n).fill(m);
    this.best = this.o.mode === 'min' ? Infinity : -Infinity;
  }

  get lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  isBetter(a: number): boolean {
    const { mode, thresholdMode: tm, threshold: t } = this.o;
    if (mode === 'min') return tm === 'rel' ? a < this.best * (1 - t) : a < this.best - t;
    return tm === 'rel' ? a > this.best * (1 + t) : a > this.best + t;
  }

  /** Feeds one epoch's metric; returns true when the lr was reduced. */
  step(metric: number): boolean {
    this.lastEpoch++;
    if (this.isBetter(metric)) {
      this.best = metric;
      this.numBadEpochs = 0;
    } else {
      this.numBadEpochs++;
    }
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.numBadEpochs = 0;
    }
    let reduced = false;
    if (this.numBadEpochs > this.o.patience) {
      for (const [i, g] of this.optimizer.paramGroups.entries()) {
        const nl = Math.max(g.lr * this.o.factor, this.minLrs[i]);
        if (g.lr - nl > this.o.eps) {
          g.lr = nl;
          reduced = true;
        }
      }
      this.cooldownCounter = this.o.cooldown;
      this.numBadEpochs = 0;
    }
    return reduced;
  }

  stateDict(): SchedulerState {
    return {
      kind: 'ReduceLROnPlateau', lastEpoch: this.lastEpoch, lrs: this.lastLr,
      extra: { best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter },
    };
  }

  loadStateDict(s: SchedulerState): void {
    if (s.kind !== 'ReduceLROnPlateau') throw new Error(`ReduceLROnPlateau.loadStateDict: state is for ${s.kind}`);
    const groups = this.optimizer.paramGroups;
    if (s.lrs.length !== groups.length) throw new Error(`ReduceLROnPlateau.loadStateDict: state has ${s.lrs.length} groups, optimiser has ${groups.length}`);
    const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);
    this.lastEpoch = s.lastEpoch;
    // JSON writes ±Infinity as null: a null best is the initial (no metric yet) best of this mode
    this.best = num(s.extra?.best, this.o.mode === 'min' ? Infinity : -Infinity);
    this.numBadEpochs = num(s.extra?.numBadEpochs, 0);
    this.cooldownCounter = num(s.extra?.cooldownCounter, 0);
    s.lrs.forEach((lr, i) => { groups[i].lr = lr; });
  }
}
