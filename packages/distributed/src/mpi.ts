/** The Open MPI process group: one per process (MPI is initialised once and finalised at exit). */
import { mpiAddon } from './native.js';
import { checkBuffer, checkReduceOp, checkRoot, type ProcessGroup, type ProcessGroupStats, type ReduceOp, type Work } from './process-group.js';

const REDUCE_CODE = { sum: 0, avg: 1, max: 2, min: 3 } as const;

export interface MpiOptions {
  /**
   * A collective that has not completed after this many seconds ends the whole job, naming the rank that
   * never reached it (default: CONVNET_DIST_TIMEOUT or 300). It bounds how long a hung or stopped rank
   * can hold the others; make it longer than the slowest step's skew between ranks (e.g. rank 0 writing
   * a checkpoint while the others wait).
   */
  timeoutSec?: number;
  /** Microseconds between polls while a collective waits (after a short spin; default 20). */
  pollUs?: number;
}

let instance: MpiProcessGroup | null = null;

/** True when this process was started by an MPI launcher (mpirun / mpiexec / srun with PMIx). */
export function launchedByMpi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.OMPI_COMM_WORLD_SIZE !== undefined || env.PMI_SIZE !== undefined || env.PMIX_RANK !== undefined;
}

export class MpiProcessGroup implements ProcessGroup {
  readonly backend = 'mpi';
  readonly rank: number;
  readonly size: number;
  readonly host: string;
  readonly timeoutSec: number;
  #closed = false;
  readonly #addon = mpiAddon();

  private constructor(o: MpiOptions) {
    const envTimeout = process.env.CONVNET_DIST_TIMEOUT;
    const timeoutSec = o.timeoutSec ?? (envTimeout !== undefined ? Number(envTimeout) : 300);
    if (!(Number.isFinite(timeoutSec) && timeoutSec > 0)) {
      const got = o.timeoutSec ?? envTimeout;
      throw new RangeError(
        `MpiProcessGroup: timeoutSec (or CONVNET_DIST_TIMEOUT) must be a positive number of seconds, got ${got}`,
      );
    }
    const pollUs = o.pollUs ?? 20;
    if (!(Number.isInteger(pollUs) && pollUs >= 0 && pollUs <= 1e6)) throw new RangeError(`MpiProcessGroup: pollUs must be an integer in [0, 1e6], got ${pollUs}`);
    const r = this.#addon.init(timeoutSec, pollUs);
    this.rank = r.rank;
    this.size = r.size;
    this.host = r.host;
    this.timeoutSec = timeoutSec;
    // mpirun treats a rank that exits without MPI_Finalize as failed; a rank that fails must not finalise
    // (MPI_Finalize would wait for ranks stuck in a collective with it): it aborts the whole job instead.
    // The error that ends a rank is repeated in the abort message: mpirun may stop forwarding a rank's
    // output once the job is aborted, and the message says which rank failed and why.
    let lastError = '';
    process.on('uncaughtExceptionMonitor', (e) => {
      lastError = `: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
    });
    process.on('exit', (code) => {
      if (this.#closed) return;
      if (code) {
        const who = `convnet distributed: rank ${this.rank} (${this.host})`;
        this.close({ abort: code, message: `${who} exited with code ${code}${lastError}; ending every rank of the job` });
      }
      else this.close();
    });
  }

  /** The process's group (MPI_Init on first call). */
  static init(o: MpiOptions = {}): MpiProcessGroup {
    instance ??= new MpiProcessGroup(o);
    return instance;
  }

  #check() {
    if (this.#closed) throw new Error('MpiProcessGroup: already closed');
  }

  allreduce(buf: Float32Array, op: ReduceOp = 'sum', label = 'allreduce'): void {
    this.allreduceAsync(buf, op, label).wait();
  }

  allreduceAsync(buf: Float32Array, op: ReduceOp = 'sum', label = 'allreduce'): Work {
    checkBuffer('allreduce', buf);
    checkReduceOp('allreduce', op);
    this.#check();
    return this.#work(this.#addon.post(0, buf, REDUCE_CODE[op], 0, label), buf);
  }

  broadcast(buf: Float32Array, root = 0, label = 'broadcast'): void {
    checkBuffer('broadcast', buf);
    checkRoot('broadcast', root, this.size);
    this.#check();
    this.#work(this.#addon.post(1, buf, 0, root, label), buf).wait();
  }

  barrier(label = 'barrier'): void {
    this.#check();
    this.#work(this.#addon.post(2, null, 0, 0, label), null).wait();
  }

  /** Buffers of collectives not yet waited on: reachable from here, so never collected while MPI writes them. */
  readonly #inFlight = new Map<number, Float32Array | null>();

  #work(id: number, buf: Float32Array | null): Work {
    const addon = this.#addon;
    this.#inFlight.set(id, buf);
    let seconds: number | null = null;
    return {
      wait: () => {
        if (seconds === null) {
          seconds = addon.wait(id);
          this.#inFlight.delete(id);
        }
        return seconds;
      },
      test: () => seconds !== null || addon.test(id),
    };
  }

  stats(): ProcessGroupStats {
    return this.#addon.stats();
  }

  close(opts: { abort?: number; message?: string } = {}): void {
    if (opts.abort) {
      this.#closed = true;
      this.#addon.abort(opts.abort, opts.message ?? `convnet distributed: rank ${this.rank} aborted the job`);
    }
    if (this.#closed) return;
    this.#closed = true;
    this.#addon.finalize();
  }
}
