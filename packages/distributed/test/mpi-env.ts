// How the tests launch Open MPI on this machine: loopback TCP, root allowed, more ranks than cores.
import { spawnSync } from 'node:child_process';
import { INSTALL_HINT, mpiStatus } from '../src/index.js';

export const mpirunPath = (() => {
  const r = spawnSync('sh', ['-c', 'command -v mpirun'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
})();

const st = mpiStatus();
/** Why the MPI tests cannot run here, or null. */
export const mpiSkipReason: string | null = !mpirunPath
  ? `mpirun is not installed: ${INSTALL_HINT}`
  : !st.available ? st.reason : null;

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** mpirun arguments for N ranks on this host over loopback TCP. */
export function mpirunArgs(np: number, extra: string[] = []): string[] {
  return [
    ...(isRoot ? ['--allow-run-as-root'] : []),
    '--oversubscribe', '-np', String(np),
    '--mca', 'pml', 'ob1', '--mca', 'btl', 'self,tcp', '--mca', 'btl_tcp_if_include', 'lo', '--mca', 'oob_tcp_if_include', 'lo',
    ...extra,
  ];
}

/** Environment for ranks: one compute thread each (2 ranks share this machine's 2 cores). */
export const rankEnv = { ...process.env, CONVNET_NUM_THREADS: '1', OMPI_MCA_rmaps_base_oversubscribe: '1' };
