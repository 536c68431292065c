/** `convnet --version`: what is installed and what this machine can run (each probe says why not, never throws). */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { builtinNotes, loadBuiltinPlugins } from './plugins.js';

const require = createRequire(import.meta.url);

export interface VersionInfo {
  version: string;
  commit: string | null;
  node: string;
  platform: string;
  isa: string;
  threads: number | null;
  cuda: string;
  mpi: string;
  /** The built-in batch-norm kernels: native, or why they run in TypeScript. */
  batchnorm: string;
}

/** The git commit of the checkout this package runs from (a clone), or null (an npm install). */
function gitCommit(): string | null {
  try {
    const r = spawnSync('git', ['rev-parse', '--short=10', 'HEAD'], { cwd: dirname(fileURLToPath(import.meta.url)), encoding: 'utf8', timeout: 2000 });
    if (r.status !== 0) return null;
    const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: dirname(fileURLToPath(import.meta.url)), encoding: 'utf8', timeout: 2000 });
    return r.stdout.trim() + (dirty.status === 0 && dirty.stdout.trim() ? '-dirty' : '');
  } catch {
    return null;
  }
}

export async function versionInfo(): Promise<VersionInfo> {
  const pkg = require('../package.json') as { version: string };
  let isa = 'unavailable', threads: number | null = null;
  try {
    const { native } = await import('@convnet/tensor');
    const i = native().info();
    isa = `${i.isa}${process.env.CONVNET_ISA ? ` (CONVNET_ISA=${process.env.CONVNET_ISA})` : ''}; CPU has avx2 ${i.avx2 ? 'yes' : 'no'}, avx512 ${i.avx512 ? 'yes' : 'no'}, avx512-bf16 ${i.avx512bf16 ? 'yes' : 'no'}, amx ${i.amx ? 'yes' : 'no'}`;
    threads = i.threads;
  } catch (e) {
    isa = `unavailable: ${(e as Error).message.split('\n')[0]}`;
  }
  let cuda: string;
  try {
    const c = await import('@convnet/cuda');
    const reason = c.cudaUnavailableReason('cuda');
    cuda = reason ? `unavailable: ${reason}` : 'available (--device cuda)';
  } catch (e) {
    cuda = `unavailable: @convnet/cuda cannot be loaded (${(e as Error).message.split('\n')[0]})`;
  }
  let mpi: string;
  try {
    const d = await import('@convnet/distributed');
    const s = d.mpiStatus();
    mpi = s.available ? `available: ${s.version.split(',')[0]} (train under mpirun)` : `unavailable: ${s.reason}`;
  } catch (e) {
    mpi = `unavailable: @convnet/distributed cannot be loaded (${(e as Error).message.split('\n')[0]})`;
  }
  loadBuiltinPlugins();
  const batchnorm = builtinNotes[0] ?? 'native (@convnet/kernels-batchnorm)';
  return { version: pkg.version, commit: gitCommit(), node: process.version, platform: `${process.platform} ${process.arch}`, isa, threads, cuda, mpi, batchnorm };
}

export function formatVersion(v: VersionInfo): string {
  return [
    `convnet ${v.version} (@convnet/trainer)${v.commit ? `, commit ${v.commit}` : ''}`,
    `node ${v.node}, ${v.platform}`,
    `cpu kernels: ${v.isa}${v.threads ? `; ${v.threads} threads` : ''}`,
    `cuda: ${v.cuda}`,
    `mpi: ${v.mpi}`,
    `batch norm: ${v.batchnorm}`,
  ].join('\n');
}
