/**
 * Learning-rate schedules with torch.optim.lr_scheduler's semantics (including its recursive update
 * formulas, so the lr sequences match PyTorch's to the last bit that float64 allows). Call step() once per
 * epoch, after the optimiser's steps; ReduceLROnPlateau.step(metric) takes the validation metric.
 */
import type { Optimizer } from './optimizers.js';

export interface SchedulerState {
  kind: string;
  lastEpoch: number;
  lrs: number[];
  extra?: Record<string, number>;
}

export abstract class LRScheduler {
  lastEpoch = 0;

  constructor(readonly optimizer: Optimizer) {}

  protected get groups() {
    return this.optimizer.paramGroups;
  }

  /** New lr of group i at this.lastEpoch, given its current lr (PyTorch's get_lr). */
  protected abstract nextLr(i: number, current: number, initial: number): number;

  /** The lrs now in the optimiser. */
  get lastLr(): number[] {
    return this.groups.map((g) => g.lr);
  }

  step(): void {
    this.lastEpoch++;
    this.groups.forEach((g, i) => {
      g.lr = this.nextLr(i, g.lr, g.initialLr);
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
}

/** lr × gamma every epoch. */
export class ExponentialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly gamma: number) {
    super(opt);
  }
  protected nextLr(_i: number, lr: number): number {
    return this.lastEpoch === 0 ? lr : lr * this.gamma;
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

/** A constant lr (for symmetry in configs). */
export class ConstantLR extends LRScheduler {
  protected nextLr(_i: number, lr: number): number {
    return lr;
  }
}

export interface PlateauOptions {
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  thresholdMode?: 'rel' | 'abs';
  cooldown?: number;
  minLr?: number;
  eps?: number;
}

/**
 * The paper's rule: divide the lr by 10 when the validation error stops improving. Same bookkeeping as
 * torch.optim.lr_scheduler.ReduceLROnPlateau.
 */
export class ReduceLROnPlateau {
  readonly o: Required<PlateauOptions>;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  lastEpoch = 0;

  constructor(readonly optimizer: Optimizer, opts: PlateauOptions = {}) {
    this.o = {
      mode: opts.mode ?? 'min', factor: opts.factor ?? 0.1, patience: opts.patience ?? 10, threshold: opts.threshold ?? 1e-4,
      thresholdMode: opts.thresholdMode ?? 'rel', cooldown: opts.cooldown ?? 0, minLr: opts.minLr ?? 0, eps: opts.eps ?? 1e-8,
    };
    if (!(this.o.factor < 1 && this.o.factor > 0)) throw new RangeError(`ReduceLROnPlateau: factor must be in (0, 1), got ${this.o.factor}`);
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
      for (const g of this.optimizer.paramGroups) {
        const nl = Math.max(g.lr * this.o.factor, this.o.minLr);
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
    this.lastEpoch = s.lastEpoch;
    this.best = s.extra?.best ?? this.best;
    this.numBadEpochs = s.extra?.numBadEpochs ?? 0;
    this.cooldownCounter = s.extra?.cooldownCounter ?? 0;
    s.lrs.forEach((lr, i) => { this.optimizer.paramGroups[i].lr = lr; });
  }
}
