/**
 * Loads the Open MPI binding that `pnpm install` built where an MPI library was found. Without it,
 * `mpiStatus()` says why and what to install; nothing else in the workspace needs it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface MpiAddon {
  libraryVersion(): string;
  init(timeoutSec: number, pollUs: number): { rank: number; size: number; threadLevel: number; host: string };
  /** kind: 0 allreduce, 1 broadcast, 2 barrier; reduce: 0 sum, 1 avg, 2 max, 3 min. Returns an id. */
  post(kind: 0 | 1 | 2, data: Float32Array | null, reduce: 0 | 1 | 2 | 3, root: number, label: string): number;
  wait(id: number): number;
  test(id: number): boolean;
  finalize(): void;
  abort(code: number, message: string): never;
  stats(): { collectives: number; bytes: number; busySeconds: number };
}

/** True when this package runs from a workspace checkout (a clone), not from an install under node_modules. */
const inCheckout = !fileURLToPath(import.meta.url).split(/[\\/]/).includes('node_modules');

/**
 * What to do without the binding. `rebuild` reconfigures from scratch (cmake-js rebuild), so an MPI library
 * installed after `pnpm install` is found; the install script, which `npm rebuild` runs, does the same when the
 * last configure found no MPI.
 */
export const INSTALL_HINT =
  'install Open MPI (Debian/Ubuntu: apt-get install libopenmpi-dev openmpi-bin), then rebuild the binding: ' +
  (inCheckout
    ? 'pnpm --filter @convnet/distributed run rebuild'
    : 'npm rebuild @convnet/distributed (npm rebuild -g @convnet/distributed for a global install)');

export type MpiStatus = { available: true; version: string; path: string } | { available: false; reason: string };

let cached: { addon: MpiAddon | null; status: MpiStatus } | null = null;

function load(): { addon: MpiAddon | null; status: MpiStatus } {
  if (cached) return cached;
  const buildDir = fileURLToPath(new URL('../build/', import.meta.url));
  const override = process.env.CONVNET_DISTRIBUTED_NATIVE_PATH;
  const path = override ?? `${buildDir}Release/convnet_distributed.node`;
  if (!existsSync(path)) {
    // NOT_BUILT.txt: written by CMake (no MPI found) or by the install script (no compiler or cmake); it explains
    // the package's own build, not an override path
    const notBuilt = `${buildDir}NOT_BUILT.txt`;
    const note = !override && existsSync(notBuilt) ? readFileSync(notBuilt, 'utf8').trim() : '';
    const why = note.startsWith('no MPI')
      ? 'no MPI library was found when @convnet/distributed was installed, so its Open MPI binding was not built'
      : note
        ? `its Open MPI binding was not built (${note})`
        : `the Open MPI binding is missing (${path})`;
    cached = { addon: null, status: { available: false, reason: `${why}; ${INSTALL_HINT}` } };
    return cached;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as MpiAddon;
    cached = { addon, status: { available: true, version: addon.libraryVersion(), path } };
  } catch (e) {
    const reason = `the Open MPI binding ${path} does not load (${(e as Error).message}); ${INSTALL_HINT}`;
    cached = { addon: null, status: { available: false, reason } };
  }
  return cached;
}

/** Whether the Open MPI binding is built and loads, with its library version or the reason it is not. */
export function mpiStatus(): MpiStatus {
  return load().status;
}

/** The binding, or an error that says what to install. */
export function mpiAddon(): MpiAddon {
  const { addon, status } = load();
  if (!addon) throw new Error(`distributed training needs Open MPI: ${(status as { reason: string }).reason}`);
  return addon;
}
