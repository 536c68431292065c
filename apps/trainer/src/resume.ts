/**
 * What `--resume` does with the flags given alongside it: settings that can change without breaking the run
 * apply (and are recorded in config-history.jsonl); settings that would make it another run are refused with the
 * reason. Giving a setting its saved value is never an error.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './errors.js';
import { kebabCase } from './flags.js';
import type { TrainConfig } from './config.js';

const SAME_RUN = 'the data order, augmentation and dropout draws of the run depend on it, so the run would not continue as it started';
const WEIGHTS = "the checkpoint's weights are for the saved value";
const OPTIMISER = "the optimiser's state was built with the saved value";

/** true: applies on resume; a string: why it cannot change. */
export const ON_RESUME: { [K in keyof TrainConfig]: true | string } = {
  epochs: true, lr: true, maxSteps: true, logEvery: true, checkpointEvery: true, keepCheckpoints: true, threads: true, workers: true,
  limitTest: true, device: true, backend: true, plateauPatience: true, stepSize: true,
  data: WEIGHTS, model: WEIGHTS, crop: WEIGHTS, preprocess: 'the weights were trained on inputs normalised the saved way',
  batchSize: SAME_RUN, seed: SAME_RUN, limitTrain: SAME_RUN, cropPadding: SAME_RUN, flip: SAME_RUN, lighting: SAME_RUN,
  momentum: OPTIMISER, weightDecay: OPTIMISER, sgdRule: OPTIMISER,
  schedule: "the scheduler's state is for the saved schedule", warmupEpochs: 'the warm-up is part of the schedule already run',
  weights: 'the initial weights are part of the run already trained', freeze: OPTIMISER,
};

/** Settings that hold for one invocation only (not carried into the run's configuration). */
const PER_INVOCATION: (keyof TrainConfig)[] = ['maxSteps'];

export interface ResumeChanges {
  [key: string]: [unknown, unknown];
}

export function mergeResumeConfig(saved: TrainConfig, given: Partial<TrainConfig>, dir: string): { cfg: TrainConfig; changes: ResumeChanges } {
  const cfg: TrainConfig = { ...saved, maxSteps: 0 };
  const changes: ResumeChanges = {};
  for (const [k, v] of Object.entries(given) as [keyof TrainConfig, unknown][]) {
    if (v === undefined) continue;
    const old = PER_INVOCATION.includes(k) ? 0 : saved[k];
    if (v === old) continue;
    const rule = ON_RESUME[k];
    if (rule !== true)
      throw new UsageError(`--${kebabCase(k)} cannot change when resuming ${dir} (saved: ${JSON.stringify(saved[k])}, given: ${JSON.stringify(v)}): ${rule}; start a new run instead`);
    (cfg as unknown as Record<string, unknown>)[k] = v;
    if (!PER_INVOCATION.includes(k)) changes[k] = [old, v];
  }
  return { cfg, changes };
}

/** One line per invocation in config-history.jsonl: when, at which step, what changed. */
export function recordConfigHistory(runDir: string, entry: { event: 'start' | 'resume'; globalStep: number; changes?: ResumeChanges; config?: TrainConfig }): void {
  appendFileSync(join(runDir, 'config-history.jsonl'), JSON.stringify({ time: new Date().toISOString(), ...entry, argv: process.argv.slice(2) }) + '\n');
}
