export type { ProcessGroup, ProcessGroupStats, ReduceOp, Work } from './process-group.js';
export { SingleProcessGroup } from './process-group.js';
export { MpiProcessGroup, launchedByMpi, type MpiOptions } from './mpi.js';
export { mpiStatus, INSTALL_HINT, type MpiStatus } from './native.js';
export { GradientBuckets, broadcastBuffers, broadcastParameters, replicasInSync, type Bucket, type BucketTimes } from './buckets.js';
export { rankSlice, shardRng } from './sharding.js';

import { MpiProcessGroup, launchedByMpi, type MpiOptions } from './mpi.js';
import { SingleProcessGroup, type ProcessGroup } from './process-group.js';

/**
 * The process group for this process. backend 'auto' (default): Open MPI when started by an MPI launcher
 * (mpirun sets OMPI_COMM_WORLD_SIZE), else the single-process group. 'mpi' without the binding throws an
 * error that says what to install.
 */
export function initProcessGroup(o: { backend?: 'auto' | 'mpi' | 'single' } & MpiOptions = {}): ProcessGroup {
  const backend = o.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'mpi' && backend !== 'single')
    throw new RangeError(`initProcessGroup: backend must be 'auto', 'mpi' or 'single', got '${String(backend)}'`);
  if (backend === 'single' || (backend === 'auto' && !launchedByMpi())) return new SingleProcessGroup();
  return MpiProcessGroup.init(o);
}
