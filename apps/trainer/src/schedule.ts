/**
 * The learning-rate schedule of a run (--schedule plateau | step | cosine | constant), saved in checkpoints, and
 * what --lr / --epochs / --step-size given with --resume do to it.
 */
import { ReduceLROnPlateau, StepLR, WarmupCosineLR, ConstantLR, type LRScheduler, type SGD } from '@convnet/optim';
import type { TrainConfig } from './config.js';
import type { TrainState } from './checkpoint.js';
import { kebabCase } from './flags.js';
import type { ResumeChanges } from './resume.js';

export interface Schedule {
  epochEnd: (valErr: number) => void;
  state: () => TrainState['scheduler'];
  load: (s: TrainState['scheduler']) => void;
  /** After load: the lr the schedule gives at its epoch for this configuration (a changed length or step size). */
  recompute: () => void;
  /** Schedules that change the lr every step (onecycle): sets it for the step about to run (0-based global step). */
  beforeStep?: (globalStep: number) => void;
}

/**
 * onecycle's factor of the base lr at global step t of `total`: linear warm-up from 0 over `warmup` steps, then
 * half a cosine down to 0 at the last step. A pure function of the step, so a resumed or extended run needs no state.
 */
export function oneCycleFactor(t: number, total: number, warmup: number): number {
  if (t < warmup) return (t + 1) / warmup;
  const span = Math.max(1, total - warmup);
  return 0.5 * (1 + Math.cos((Math.PI * Math.min(t - warmup, span)) / span));
}

export function makeScheduler(cfg: TrainConfig, opt: SGD, stepsPerEpoch: number): Schedule {
  if (cfg.schedule === 'onecycle') {
    // per step; the scheduler object only carries the epoch count through checkpoints
    const s = new ConstantLR(opt, 1, 0);
    const beforeStep = (t: number) => {
      const total = cfg.epochs * stepsPerEpoch;
      const warmup = cfg.warmupEpochs ? Math.min(total, cfg.warmupEpochs * stepsPerEpoch) : Math.round(0.15 * total);
      const f = oneCycleFactor(t, total, warmup);
      for (const g of opt.paramGroups) g.lr = g.initialLr * f;
    };
    return { epochEnd: () => s.step(), state: () => s.stateDict(), load: (st) => st && s.loadStateDict(st), recompute: () => {}, beforeStep };
  }
  if (cfg.schedule === 'plateau') {
    const s = new ReduceLROnPlateau(opt, { factor: 0.1, patience: cfg.plateauPatience, threshold: 1e-3 });
    return { epochEnd: (e) => { s.step(e); }, state: () => s.stateDict(), load: (st) => st && s.loadStateDict(st), recompute: () => {} };
  }
  const s: LRScheduler =
    cfg.schedule === 'step' ? new StepLR(opt, cfg.stepSize, 0.1)
    : cfg.schedule === 'cosine' ? new WarmupCosineLR(opt, cfg.warmupEpochs, cfg.epochs, 0, 0.1)
    : new ConstantLR(opt);
  const recompute = () => {
    // closed forms: cosine over cfg.epochs, ÷10 every cfg.stepSize epochs
    if (cfg.schedule === 'cosine') s.step(s.lastEpoch);
    else if (cfg.schedule === 'step') for (const g of opt.paramGroups) g.lr = g.initialLr * 0.1 ** Math.floor(s.lastEpoch / cfg.stepSize);
  };
  return { epochEnd: () => s.step(), state: () => s.stateDict(), load: (st) => st && s.loadStateDict(st), recompute };
}

/** Applies --lr / --epochs / --step-size given on resume to the loaded optimiser and schedule, saying what changed. */
export function applyResumeChanges(changes: ResumeChanges, opt: SGD, sched: Schedule, cfg: TrainConfig, log: (l: string) => void): void {
  const before = opt.paramGroups[0].lr;
  if (changes.lr) {
    // a new base lr: every group's base and current lr scaled (the schedule's progress is kept)
    const scale = cfg.lr / opt.paramGroups[0].initialLr;
    for (const g of opt.paramGroups) { g.initialLr *= scale; g.lr *= scale; }
  }
  if (changes.epochs || changes.stepSize) sched.recompute();
  const now = opt.paramGroups[0].lr;
  const what = Object.entries(changes).map(([k, [a, b]]) => `--${kebabCase(k)} ${JSON.stringify(a)} → ${JSON.stringify(b)}`).join(', ');
  if (!what) return;
  const schedNote = changes.epochs || changes.stepSize
    ? cfg.schedule === 'cosine' || cfg.schedule === 'step' || cfg.schedule === 'onecycle' ? `; the ${cfg.schedule} schedule is rebuilt for ${cfg.epochs} epochs${cfg.schedule === 'step' ? ` (÷10 every ${cfg.stepSize})` : ''}` : `; the ${cfg.schedule} schedule does not depend on the run's length`
    : '';
  log(`resume: ${what}${schedNote}; lr now ${now.toPrecision(4)}${now !== before ? ` (was ${before.toPrecision(4)})` : ''} (recorded in config-history.jsonl)`);
}
