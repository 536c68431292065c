/**
 * A process group: the collectives data-parallel training needs, on Float32Arrays, independent of the
 * engine behind them. `MpiProcessGroup` binds Open MPI (./mpi.ts); `SingleProcessGroup` is the trivial
 * group of one process (every collective is the identity), so single-process code paths need no branches.
 * A Gloo group would implement the same interface (see README: "Why Open MPI, and where Gloo fits").
 */

export type ReduceOp = 'sum' | 'avg' | 'max' | 'min';

/** An in-flight collective. */
export interface Work {
  /** Blocks until the collective is done (its buffer then holds the result); returns the seconds it took. */
  wait(): number;
  /** Whether it is done (never blocks). */
  test(): boolean;
}

export interface ProcessGroupStats {
  collectives: number;
  /** Payload bytes of all collectives. */
  bytes: number;
  /** Seconds the communication thread spent inside collectives. */
  busySeconds: number;
}

export interface ProcessGroup {
  readonly backend: 'mpi' | 'single' | (string & {});
  readonly rank: number;
  readonly size: number;
  /** Host name of this process (for messages). */
  readonly host: string;
  /** In place: every rank's `buf` becomes the elementwise reduction over ranks ('avg' = sum / size). */
  allreduce(buf: Float32Array, op?: ReduceOp, label?: string): void;
  /** Non-blocking allreduce: `buf` must not be read or written until the returned work is waited on. */
  allreduceAsync(buf: Float32Array, op?: ReduceOp, label?: string): Work;
  /** In place: every rank's `buf` becomes root's. */
  broadcast(buf: Float32Array, root?: number, label?: string): void;
  barrier(label?: string): void;
  stats(): ProcessGroupStats;
  /**
   * Ends the group. `abort` (a non-zero exit code): end EVERY rank of the job now, printing `message`
   * (used when this rank failed, so that the others do not wait for it); this does not return.
   */
  close(opts?: { abort?: number; message?: string }): void;
}

const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'avg', 'max', 'min'];

/** Argument checks shared by every group (before any native code sees the buffer). */
export function checkBuffer(op: string, buf: unknown): asserts buf is Float32Array {
  if (!(buf instanceof Float32Array)) {
    const got = buf === null ? 'null' : ((buf as object)?.constructor?.name ?? typeof buf);
    throw new TypeError(`${op}: argument 'buf': expected a Float32Array, got ${got}`);
  }
  if (buf.length > 0x7fffffff) {
    throw new RangeError(`${op}: argument 'buf': expected at most 2^31-1 elements, got ${buf.length}`);
  }
}

export function checkReduceOp(op: string, r: unknown): asserts r is ReduceOp {
  if (!REDUCE_OPS.includes(r as ReduceOp)) throw new RangeError(`${op}: argument 'op': expected one of ${REDUCE_OPS.join(', ')}, got '${String(r)}'`);
}

export function checkRoot(op: string, root: unknown, size: number): asserts root is number {
  if (!Number.isInteger(root) || (root as number) < 0 || (root as number) >= size)
    throw new RangeError(`${op}: argument 'root': expected a rank in [0, ${size}), got ${String(root)}`);
}

const DONE: Work = { wait: () => 0, test: () => true };

/** The group of one process: allreduce and broadcast leave the buffer as it is. */
export class SingleProcessGroup implements ProcessGroup {
  readonly backend = 'single';
  readonly rank = 0;
  readonly size = 1;
  readonly host: string;
  #collectives = 0;
  #bytes = 0;

  constructor(host = 'localhost') {
    this.host = host;
  }

  allreduce(buf: Float32Array, op: ReduceOp = 'sum'): void {
    this.allreduceAsync(buf, op);
  }

  allreduceAsync(buf: Float32Array, op: ReduceOp = 'sum'): Work {
    checkBuffer('allreduce', buf);
    checkReduceOp('allreduce', op);
    this.#collectives++;
    this.#bytes += buf.byteLength;
    return DONE;
  }

  broadcast(buf: Float32Array, root = 0): void {
    checkBuffer('broadcast', buf);
    checkRoot('broadcast', root, 1);
    this.#collectives++;
    this.#bytes += buf.byteLength;
  }

  barrier(): void {
    this.#collectives++;
  }

  stats(): ProcessGroupStats {
    return { collectives: this.#collectives, bytes: this.#bytes, busySeconds: 0 };
  }

  close(opts: { abort?: number; message?: string } = {}): void {
    if (opts.abort) {
      if (opts.message) process.stderr.write(`${opts.message}\n`);
      process.exit(opts.abort);
    }
  }
}
