/**
 * Data-parallel `convnet train` (one process per rank, started by mpirun): the glue between the training
 * loop and @convnet/distributed.
 *
 * - Every rank builds the same model and draws the same epoch order; rank r of N trains on the r-th slice of
 *   each global batch of --batch-size B (B divisible by N), made by the Loader with the augmentation draws the
 *   whole batch gives it; dropout draws are sharded the same way (shardRng), so N ranks compute what one process
 *   computes at batch B, up to the order in which float32 gradients are summed (tested: 2 ranks and 3 hosts
 *   against 1 process).
 * - Parameters are broadcast from rank 0 at the start (also after a resume, so every rank holds the same bits).
 * - Gradients are averaged in buckets while backward runs (GradientBuckets); the time the loop then still
 *   waits for them is the communication wait, reported next to the data wait.
 * - Loss and hit counts are averaged over ranks every step (so every rank sees the same loss, stops on the
 *   same non-finite loss, and agrees on an interrupt); rank 0 alone writes checkpoints, metrics, the report,
 *   and draws the progress bar.
 * - A rank that dies, hangs or fails ends the whole job (mpirun on a death; the collective timeout, default
 *   300 s or CONVNET_DIST_TIMEOUT, on a hang; MPI_Abort from a rank that exits with an error), and the run
 *   continues from its last checkpoint with `--resume`, with the same or another number of ranks.
 * - Stopping (SIGTERM from mpirun or the scheduler, SIGINT, SIGHUP): the ranks agree on a stop with the step's
 *   allreduce (reduceStep), or at the end of each round of test batches during evaluation (shard), so all stop
 *   after the same step or batch; rank 0 writes the one checkpoint, then every rank meets at a barrier, finalises
 *   MPI (close) and exits with 128 + the signal's number, not through MPI_Abort.
 * - Resume needs no shared file system: rank 0 alone reads the checkpoint and broadcasts it (training state,
 *   configuration, weights and optimiser buffers; the random streams are functions of the seed and the step
 *   counters in the state) to the other ranks (shareCheckpoint).
 */
import { cpus } from 'node:os';
import { GradientBuckets, broadcastBuffers, broadcastParameters, initProcessGroup, launchedByMpi, mpiStatus, shardRng, type ProcessGroup } from '@convnet/distributed';
import { Tensor, native } from '@convnet/tensor';
import type { Net } from '@convnet/alexnet';
import { UsageError, type TrainConfig } from './config.js';
import type { Checkpoint } from './checkpoint.js';
import type { Source } from './source.js';
import { yieldToEventLoop } from './stop.js';

/**
 * The CUDA device a process uses for `--device cuda` (no index): under mpirun, its local rank on its host
 * (OMPI_COMM_WORLD_LOCAL_RANK) modulo the host's device count, so the ranks of one host spread over its GPUs
 * (more ranks than GPUs share them round-robin); alone, device 0. `cuda:N` names the device itself.
 */
export function localDeviceIndex(deviceCount: number, env: NodeJS.ProcessEnv = process.env): number {
  const local = Number(env.OMPI_COMM_WORLD_LOCAL_RANK);
  if (!Number.isInteger(local) || local < 0 || !(deviceCount > 0)) return 0;
  return local % deviceCount;
}

export interface StepStats {
  loss: number;
  top1Hits: number;
  top5Hits: number;
}

/** How this process takes part in training: `size` 1 when it trains alone. */
export class Distributed {
  readonly rank: number;
  readonly size: number;
  readonly isRoot: boolean;
  /** Milliseconds the training loop waited for gradient communication after backward. */
  commWaitMs = 0;
  /** Seconds the collectives ran on the communication thread (mostly overlapping backward). */
  commSeconds = 0;
  #buckets: GradientBuckets | null = null;
  readonly #step = new Float32Array(4);
  /** This rank was asked to stop (a signal); the ranks agree on it at each step and evaluation round. */
  #localStop: () => boolean = () => false;
  #evalStopped = false;

  constructor(readonly pg: ProcessGroup, readonly globalBatch: number) {
    this.rank = pg.rank;
    this.size = pg.size;
    this.isRoot = pg.rank === 0;
    if (globalBatch % pg.size)
      throw new UsageError(`--batch-size ${globalBatch} must be divisible by the number of ranks (${pg.size}): each rank trains on an equal slice of every batch`);
  }

  /** Images per step on this rank. */
  get localBatch(): number {
    return this.globalBatch / this.size;
  }

  /** Rank 0's parameters everywhere; dropout sharded; gradient buckets hooked into backward. */
  attach(net: Net, bucketCapMB = 25): void {
    broadcastParameters(this.pg, net);
    shardRng(net.dropoutRng, this.rank, this.size);
    this.#buckets?.dispose();
    this.#buckets = this.size > 1 ? new GradientBuckets(this.pg, net, { bucketCapMB }) : null;
  }

  /** Rank 0's buffers (batch norm's running statistics) on every rank, so all ranks evaluate rank 0's model. */
  syncBuffers(net: Net): void {
    if (this.size > 1) broadcastBuffers(this.pg, net);
  }

  beforeBackward(): void {
    this.#buckets?.begin();
  }

  /** After backward: waits for the gradient buckets (every gradient is then the average over ranks). */
  afterBackward(): void {
    if (!this.#buckets) return;
    const t = this.#buckets.finish();
    this.commWaitMs += t.waitMs;
    this.commSeconds += t.commSeconds;
  }

  /**
   * The step's loss and hits over the global batch (loss averaged, hits summed), and whether any rank was
   * interrupted, so that every rank takes the same decisions.
   */
  reduceStep(r: StepStats, interrupted: boolean): StepStats & { interrupted: boolean } {
    if (this.size === 1) return { loss: r.loss, top1Hits: r.top1Hits, top5Hits: r.top5Hits, interrupted };
    const t = performance.now();
    const s = this.#step;
    s[0] = r.loss; s[1] = r.top1Hits; s[2] = r.top5Hits; s[3] = interrupted ? 1 : 0;
    this.pg.allreduce(s, 'sum', 'step metrics');
    this.commWaitMs += performance.now() - t;
    return { loss: s[0] / this.size, top1Hits: Math.round(s[1]), top5Hits: Math.round(s[2]), interrupted: s[3] > 0 };
  }

  /** Where this rank learns that it was asked to stop (the signal handler's flag). */
  watchStop(local: () => boolean): void {
    this.#localStop = local;
  }

  /**
   * What the test pass asks after each batch: alone, whether this process was asked to stop; data-parallel,
   * whether the ranks agreed to stop (at the end of a round of test batches, see shard), so all stop together.
   */
  get evalStop(): () => boolean {
    return this.size === 1 ? this.#localStop : () => this.#evalStopped;
  }

  /** True on every rank when any rank was asked to stop (one collective). */
  agreeStop(): boolean {
    if (this.size === 1) return this.#localStop();
    const f = Float32Array.of(this.#localStop() ? 1 : 0);
    this.pg.allreduce(f, 'max', 'stop request');
    return f[0] > 0;
  }

  /**
   * The end of a run that was not aborted: every rank waits until rank 0 has written its checkpoint, metrics and
   * report (a rank that exits non-zero first would make mpirun end the job), then MPI is finalised, so that
   * the process may exit with any code (130/143/129 after a signal) without MPI_Abort.
   */
  close(): void {
    if (this.size === 1) return;
    this.#buckets?.dispose();
    this.#buckets = null;
    this.pg.barrier('end of the run');
    this.pg.close();
  }

  /** Combines the ranks' evaluations of their shares of the test set (see shard) into the whole set's. */
  reduceEval(v: { loss: number; top1Err: number; top5Err: number; n: number }): { loss: number; top1Err: number; top5Err: number; n: number } {
    if (this.size === 1) return v;
    const s = v.n > 0 ? Float32Array.from([v.loss * v.n, (1 - v.top1Err) * v.n, (1 - v.top5Err) * v.n, v.n]) : new Float32Array(4);
    this.pg.allreduce(s, 'sum', 'evaluation');
    const n = s[3];
    return { loss: s[0] / n, top1Err: 1 - Math.round(s[1]) / n, top5Err: 1 - Math.round(s[2]) / n, n };
  }

  /**
   * The source every rank trains from: its train batches are this rank's slice of each global batch (the
   * Loader's `slice`: only that slice is made, with the draws the whole batch gives it); evaluation: rank r takes
   * test batches r, r + N, ... (reduceEval sums the results).
   */
  shard(src: Source): Source {
    if (this.size === 1) return src;
    const { rank, size } = this;
    src.setTrainSlice({ rank, size });
    return {
      get name() { return src.name; },
      get classes() { return src.classes; },
      get shape() { return src.shape; },
      get mean() { return src.mean; },
      get std() { return src.std; },
      get trainN() { return src.trainN; },
      get testN() { return src.testN; },
      get waitMs() { return src.waitMs; },
      trainBatches: (...a) => src.trainBatches(...a),
      testBatches: (n, batch, into) => this.#testBatches(src, n, batch, into),
      viewBatch: (indices, view) => src.viewBatch(indices, view),
      setTrainSlice: (sl) => src.setTrainSlice(sl),
      close: () => src.close(),
    };
  }

  /**
   * Rank r's test batches: r, r + N, ... At the end of every round of N batches the ranks agree whether any was
   * asked to stop (each rank takes part in every round, with or without a batch of its own), and all end the pass
   * at the same round.
   */
  async *#testBatches(src: Source, n: number, batch: number, into?: (shape: number[]) => Tensor): AsyncGenerator<{ x: Tensor; labels: Int32Array }> {
    this.#evalStopped = false;
    let k = 0;
    for await (const b of src.testBatches(n, batch, into)) {
      if (k % this.size === this.rank) yield b;
      if (++k % this.size) continue;
      await yieldToEventLoop();
      if (this.agreeStop()) { this.#evalStopped = true; return; }
    }
  }
}

/** The process group: Open MPI when started by mpirun (or asked for with backend 'mpi'), else one process. */
export function openProcessGroup(backend: 'auto' | 'mpi' | 'single' = 'auto'): ProcessGroup {
  if (backend === 'mpi' || (backend === 'auto' && launchedByMpi())) {
    const st = mpiStatus();
    if (!st.available) throw new UsageError(`distributed training needs Open MPI: ${st.reason}`);
  }
  return initProcessGroup({ backend });
}

/** Broadcasts a JSON value from rank 0 (its bytes as floats: exact for 0..255). */
function broadcastJson<T>(pg: ProcessGroup, value: T | null, label: string): T {
  const bytes = pg.rank === 0 ? new TextEncoder().encode(JSON.stringify(value)) : new Uint8Array(0);
  const len = Float32Array.of(bytes.length);
  pg.broadcast(len, 0, `${label} (length)`);
  const buf = new Float32Array(len[0]);
  if (pg.rank === 0) buf.set(bytes);
  pg.broadcast(buf, 0, label);
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(buf))) as T;
}

/**
 * The checkpoint a resumed run continues from, on every rank: rank 0 reads it (`read`), the others receive its
 * training state, weights and optimiser buffers by broadcast (they need no copy of the file). A read error on
 * rank 0 ends the whole job with its message (MPI_Abort on exit).
 */
export function shareCheckpoint(pg: ProcessGroup, read: () => Checkpoint): Checkpoint {
  if (pg.size === 1) return read();
  const ck = pg.rank === 0 ? read() : null;
  const meta = broadcastJson(pg, ck && {
    state: ck.state,
    model: [...ck.model].map(([k, t]) => [k, t.shape]),
    optim: [...ck.optimBuffers].map(([k, t]) => [k, t.shape]),
  }, 'checkpoint state');
  // JSON has no Infinity: a run without a finished epoch has bestValTop1Err null (validateState's reading)
  if (meta.state.bestValTop1Err === null) meta.state.bestValTop1Err = Infinity;
  const tensors = (own: Map<string, Tensor> | undefined, list: [string, number[]][], what: string) => {
    const out = new Map<string, Tensor>();
    for (const [k, shape] of list) {
      const t = own?.get(k) ?? Tensor.zeros(shape);
      pg.broadcast(t.data as Float32Array, 0, `checkpoint ${what} ${k}`);
      out.set(k, t);
    }
    return out;
  };
  return { state: meta.state, model: tensors(ck?.model, meta.model as [string, number[]][], 'tensor'), optimBuffers: tensors(ck?.optimBuffers, meta.optim as [string, number[]][], 'buffer') };
}

/**
 * The process's part in training: distributed when started by mpirun (or asked for with
 * `distributed: 'mpi'`), alone otherwise. With several ranks on one machine and no --threads, each rank
 * gets its share of the cores.
 */
export function initDistributed(cfg: TrainConfig, o: { pg?: ProcessGroup; backend?: 'auto' | 'mpi' | 'single'; log?: (line: string) => void } = {}): Distributed {
  const pg = o.pg ?? openProcessGroup(o.backend);
  const d = new Distributed(pg, cfg.batchSize);
  if (pg.size > 1 && !cfg.threads) {
    const local = Number(process.env.OMPI_COMM_WORLD_LOCAL_SIZE ?? 1);
    if (local > 1) native().setNumThreads(Math.max(1, Math.floor(cpus().length / local)));
  }
  if (pg.size > 1 && d.isRoot)
    o.log?.(`distributed: ${pg.size} ranks (${pg.backend}), ${d.localBatch} images per rank per step of ${cfg.batchSize}`);
  return d;
}
