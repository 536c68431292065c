/**
 * Checkpoints: one safetensors file holding the model (`model.<name>`) and optimiser buffers
 * (`optim.<key>`), with the rest of the training state (epoch, step, optimiser counters, schedule,
 * best error, config) as JSON in the safetensors metadata. Written atomically (temp + rename).
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor } from '@convnet/tensor';
import { loadStateDictFile, saveSafetensors, type Module } from '@convnet/layers';
import type { Optimizer, SchedulerState } from '@convnet/optim';
import type { TrainConfig } from './config.js';

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
}

export function saveCheckpoint(path: string, model: Module, optimizer: Optimizer, state: TrainState): void {
  const tensors = new Map<string, Tensor>();
  for (const [k, v] of model.stateDict()) tensors.set(`model.${k}`, v);
  const os = optimizer.stateDict();
  for (const [k, v] of os.buffers) tensors.set(`optim.${k}`, v);
  saveSafetensors(path, tensors, { format: 'convnet-checkpoint', state: JSON.stringify(state) });
}

export function loadCheckpoint(path: string): { model: Map<string, Tensor>; optimBuffers: Map<string, Tensor>; state: TrainState } {
  const { stateDict, metadata } = loadStateDictFile(path);
  if (metadata.format !== 'convnet-checkpoint' || !metadata.state) throw new Error(`${path}: not a convnet checkpoint (no training state in its metadata)`);
  const model = new Map<string, Tensor>(), optimBuffers = new Map<string, Tensor>();
  for (const [k, v] of stateDict) {
    if (k.startsWith('model.')) model.set(k.slice(6), v);
    else if (k.startsWith('optim.')) optimBuffers.set(k.slice(6), v);
  }
  let state: TrainState;
  try {
    state = JSON.parse(metadata.state);
  } catch (e) {
    throw new Error(`${path}: corrupt training state (${(e as Error).message})`);
  }
  return { model, optimBuffers, state };
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
