/**
 * status.json of a run directory: whether the run is running, finished, stopped or failed, for `convnet board`.
 * Written atomically by the training process (rank 0): `running` with its pid and host at the start and at each
 * resume, the ending when it ends. A run killed outright stays `running`; readers check the pid when on the same
 * host (see board/runs.ts).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '@convnet/tensor';

export type RunEnd = { state: 'finished' } | { state: 'stopped'; reason: string } | { state: 'failed'; error: string };

export type RunStatus = ({ state: 'running' } | RunEnd) & { pid: number; host: string; time: string };

export function writeRunStatus(runDir: string, s: { state: 'running' } | RunEnd): void {
  const status: RunStatus = { ...s, pid: process.pid, host: hostname(), time: new Date().toISOString() };
  writeFileAtomic(join(runDir, 'status.json'), JSON.stringify(status) + '\n');
}
