/**
 * A run's curves for the page: step lines downsampled on the server (min and max per bucket, so a 900k-step run
 * is ~2·n points and its spikes stay visible), epoch lines whole, each point with its three x values (global step,
 * epoch, training seconds) so the page switches axes without asking again.
 */
import { STEP_KEYS, type EpochLine, type StepColumns } from './runs.js';

export type Num = number | null;

/**
 * Min/max downsampling: the points split into `buckets` runs of equal count; each bucket gives two points, at
 * its first and last x, holding each series' minimum and maximum in the order they occur (NaN ignored; null where
 * a bucket has no value). Up to 2·buckets points come back, all of them when there are no more than that.
 */
export function minMaxDownsample(
  xs: ArrayLike<number>[],
  ys: ArrayLike<number>[],
  n: number,
  buckets: number,
): { idx: number[]; x: number[][]; y: Num[][] } {
  // float32 columns: 7 significant digits say all they hold
  const clean = (v: number): Num => (Number.isFinite(v) ? +v.toPrecision(7) : null);
  if (n <= 2 * buckets) {
    const idx = Array.from({ length: n }, (_, i) => i);
    return {
      idx,
      x: xs.map((x) => Array.from({ length: n }, (_, i) => +x[i].toPrecision(9))),
      y: ys.map((y) => Array.from({ length: n }, (_, i) => clean(y[i]))),
    };
  }
  const idx: number[] = [];
  const y: Num[][] = ys.map(() => []);
  for (let b = 0; b < buckets; b++) {
    const i0 = Math.floor((b * n) / buckets),
      i1 = Math.floor(((b + 1) * n) / buckets);
    if (i1 <= i0) continue;
    idx.push(i0, i1 - 1);
    ys.forEach((col, s) => {
      let lo = Infinity,
        hi = -Infinity,
        iLo = -1,
        iHi = -1;
      for (let i = i0; i < i1; i++) {
        const v = col[i];
        if (v < lo) {
          lo = v;
          iLo = i;
        }
        if (v > hi) {
          hi = v;
          iHi = i;
        }
      }
      if (iLo < 0) y[s].push(null, null);
      else if (iLo <= iHi) y[s].push(clean(lo), clean(hi));
      else y[s].push(clean(hi), clean(lo));
    });
  }
  return { idx, x: xs.map((x) => idx.map((i) => +x[i].toPrecision(9))), y };
}

export interface Series {
  /** Step lines in the file (before downsampling). */
  stepLines: number;
  steps: Record<string, Num[]>;
  epochs: Record<string, Num[]>;
}

const EPOCH_KEYS = [
  'trainLoss',
  'trainTop1Err',
  'trainTop5Err',
  'valLoss',
  'valTop1Err',
  'valTop5Err',
  'lr',
  'imagesPerSec',
  'dataWaitShare',
] as const;

export function runSeries(steps: StepColumns | null, epochs: EpochLine[], buckets: number): Series {
  // training seconds before each epoch (epoch lines' seconds summed); steps per epoch from an epoch line's step
  const before = new Map<number, number>();
  let t = 0;
  for (const e of epochs) {
    before.set(e.epoch, t);
    t += e.seconds;
  }
  const tBefore = (epoch: number) => before.get(epoch) ?? t;
  const withStep = epochs.find((e) => typeof e.step === 'number' && e.step > 0);
  const spe = withStep ? withStep.step! / withStep.epoch : null;
  const n = steps?.length ?? 0;
  const stepX = steps ? steps.step.view() : new Float64Array(0);
  const ep = steps ? steps.cols.epoch.view() : new Float32Array(0);
  const secs = steps ? steps.cols.seconds.view() : new Float32Array(0);
  const epochX = new Float64Array(n),
    timeX = new Float64Array(n);
  // without an epoch line yet: the position inside the epoch from the first and last steps seen in it
  const lastOf = new Int32Array(n);
  for (let i = n - 1; i >= 0; i--) lastOf[i] = i + 1 < n && ep[i + 1] === ep[i] ? lastOf[i + 1] : i;
  let first = 0;
  for (let i = 0; i < n; i++) {
    if (i === 0 || ep[i] !== ep[i - 1]) first = i;
    epochX[i] = spe
      ? stepX[i] / spe
      : ep[i] - 1 + (stepX[i] - stepX[first] + 1) / (stepX[lastOf[i]] - stepX[first] + 1);
    timeX[i] = tBefore(ep[i]) + secs[i];
  }
  const keys = STEP_KEYS.filter((k) => k !== 'epoch' && k !== 'seconds');
  const d = minMaxDownsample(
    [stepX, epochX, timeX],
    keys.map((k) => steps!.cols[k].view()),
    n,
    buckets,
  );
  const stepsOut: Record<string, Num[]> = { step: d.x[0], epoch: d.x[1], time: d.x[2] };
  keys.forEach((k, i) => (stepsOut[k] = d.y[i]));
  const num = (v: unknown): Num => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  let cum = 0;
  const epochsOut: Record<string, Num[]> = {
    step: epochs.map((e) => num(e.step) ?? (spe ? e.epoch * spe : null)),
    epoch: epochs.map((e) => e.epoch),
    time: epochs.map((e) => (cum += e.seconds)),
  };
  for (const k of EPOCH_KEYS) epochsOut[k] = epochs.map((e) => num(e[k]));
  return { stepLines: n, steps: stepsOut, epochs: epochsOut };
}
