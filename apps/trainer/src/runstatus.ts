/**
 * status.json of a run directory: whether the run is running, finished, stopped or failed, for `convnet board`.
 * Written atomically by the training process (rank 0): `running` with its pid and host at the start and at each
 * resume, the ending when it ends. A run killed outright stays `running`; readers check the pid when on the same
 * host (see board/runs.ts).
 */
import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@convnet/tensor';

export type RunEnd = { state: 'finished' } | { state: 'stopped'; reason: string } | { state: 'failed'; error: string };

/** `events`: where the run's TensorBoard event files go (null: none), kept by a resume without --tensorboard. */
export type RunStatus = ({ state: 'running' } | RunEnd) & {
  pid: number;
  host: string;
  time: string;
  events?: string | null;
};

export function writeRunStatus(runDir: string, s: ({ state: 'running' } | RunEnd) & { events?: string | null }): void {
  const status: RunStatus = { ...s, pid: process.pid, host: hostname(), time: new Date().toISOString() };
  writeFileAtomic(join(runDir, 'status.json'), JSON.stringify(status) + '\n');
}

/** The run's status.json, or null (none, or not readable). */
export function readRunStatus(runDir: string): RunStatus | null {
  try {
    return JSON.parse(readFileSync(join(runDir, 'status.json'), 'utf8')) as RunStatus;
  } catch {
    return null;
  }
}
