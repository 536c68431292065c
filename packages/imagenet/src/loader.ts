/**
 * Loader: shuffled, augmented float32 batches from a pack (or an in-memory image set), produced by
 * worker threads ahead of time.
 *
 * Determinism: epoch e's order is epochOrder(n, seed, e); batch b's crops/flips/lighting are drawn from
 * Rng(seed, AUGMENT_STREAM + e) at counter b·batchSize·8. Both are pure functions of (seed, epoch, batch),
 * so the batches do not depend on the number of workers or their timing, and `epoch(e, {startBatch})`
 * resumes a run exactly.
 *
 * Prefetch and backpressure: at most `prefetch` batches are requested ahead of the one training is about to
 * take; a new one is requested only when training takes one. Batch buffers are transferred (not copied)
 * to and from the workers and reused once released.
 */
import { Worker } from 'node:worker_threads';
import { Augmenter, type AugmentOptions, type AugmentParams } from '@convnet/augment';
import { Rng } from '@convnet/tensor';
import { BatchMaker, type SourceSpec } from './batch.js';
import { DataError } from './errors.js';
import { AUGMENT_STREAM, epochOrder, PackedDataset } from './packed.js';
import type { ImageSet } from './types.js';
import { workerUrl } from './workers.js';

export interface LoaderOptions {
  /** A pack directory, an opened pack, or an in-memory image set. */
  dataset: string | PackedDataset | ImageSet;
  batchSize: number;
  /** Augmentation (the input size comes from the dataset). Defaults: no crop, no flip, no lighting. */
  augment?: Omit<AugmentOptions, 'input'>;
  /** 'train' (default): random crops/flips/lighting as configured, shuffled. 'eval': centre crops, in order. */
  mode?: 'train' | 'eval';
  seed?: number;
  shuffle?: boolean;
  /** Drop a last partial batch (default: true in train mode). */
  dropLast?: boolean;
  /** Worker threads (default 1); 0 makes batches in this thread when asked. */
  workers?: number;
  /** Batches requested ahead (default 2 per worker, at least 2). */
  prefetch?: number;
  /**
   * Data-parallel training: make only rank `rank`'s slice of each batch (samples rank·L … (rank+1)·L − 1 of
   * the `batchSize` batch, L = batchSize / size), with exactly the crops, flips and lighting those samples
   * get in the whole batch. Train mode only.
   */
  slice?: { rank: number; size: number };
}

export interface Batch {
  /** n × C × h × w float32. */
  x: Float32Array;
  labels: Int32Array;
  /** Dataset indices of the samples. */
  indices: Int32Array;
  n: number;
  shape: [number, number, number, number];
  epoch: number;
  /** Batch number within the epoch. */
  index: number;
  /** Hands x back to the loader for reuse (optional; do not touch x afterwards). */
  release(): void;
}

export interface LoaderStats {
  batches: number;
  images: number;
  /** Time training spent waiting inside next() for a batch that was not ready. */
  waitMs: number;
  /** Batches that were ready when asked for. */
  readyOnAsk: number;
  /** Worker time spent producing batches. */
  workMs: number;
}

interface Pending {
  resolve: (x: Float32Array) => void;
  reject: (e: Error) => void;
  ms?: number;
}

export class Loader {
  readonly batchSize: number;
  readonly length: number;
  readonly sampleShape: [number, number, number];
  /** Samples per yielded batch: batchSize, or batchSize / slice.size with a slice. */
  readonly localBatch: number;
  private readonly sliceStart: number;
  readonly stats: LoaderStats = { batches: 0, images: 0, waitMs: 0, readyOnAsk: 0, workMs: 0 };
  private readonly mode: 'train' | 'eval';
  private readonly seed: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly labels: Int32Array;
  private readonly spec: SourceSpec;
  private readonly augOpts: AugmentOptions;
  private readonly aug: Augmenter;
  private readonly nWorkers: number;
  private readonly prefetch: number;
  private readonly pool: Float32Array[] = [];
  private workers: Worker[] = [];
  private outstanding: number[] = [];
  private pending = new Map<number, Pending>();
  private nextId = 0;
  private local: BatchMaker | null = null;
  private ownPack: PackedDataset | null = null;
  private closed = false;
  private fatal: Error | null = null;

  constructor(opts: LoaderOptions) {
    if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) throw new DataError(`Loader: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.batchSize = opts.batchSize;
    this.mode = opts.mode ?? 'train';
    this.seed = opts.seed ?? 0;
    this.shuffle = opts.shuffle ?? this.mode === 'train';
    this.dropLast = opts.dropLast ?? this.mode === 'train';
    const sl = opts.slice ?? { rank: 0, size: 1 };
    if (!Number.isInteger(sl.size) || sl.size < 1 || !Number.isInteger(sl.rank) || sl.rank < 0 || sl.rank >= sl.size)
      throw new DataError(`Loader: slice must be {rank, size} with 0 <= rank < size, got ${JSON.stringify(opts.slice)}`);
    if (sl.size > 1 && (this.mode !== 'train' || !this.dropLast || this.batchSize % sl.size !== 0))
      throw new DataError(`Loader: a slice needs train mode with whole batches and a batchSize divisible by ${sl.size}, got batchSize ${this.batchSize}`);
    this.localBatch = this.batchSize / sl.size;
    this.sliceStart = sl.rank * this.localBatch;
    const ds = opts.dataset;
    let input: [number, number, number];
    if (typeof ds === 'string' || ds instanceof PackedDataset) {
      const p = typeof ds === 'string' ? (this.ownPack = PackedDataset.open(ds)) : ds;
      this.spec = { kind: 'pack', dir: p.dir };
      this.labels = p.labels;
      this.length = p.length;
      input = p.shape;
    } else {
      const need = ds.n * ds.height * ds.width * ds.channels;
      if (!(ds.images instanceof Uint8Array) || ds.images.length !== need) throw new DataError(`Loader: image set needs ${need} bytes, has ${ds.images?.length}`);
      if (ds.labels.length !== ds.n) throw new DataError(`Loader: image set has ${ds.labels.length} labels for ${ds.n} images`);
      // Shared memory, so every worker reads the same images without copies.
      let images = ds.images;
      if (!(images.buffer instanceof SharedArrayBuffer)) {
        images = new Uint8Array(new SharedArrayBuffer(need));
        images.set(ds.images);
      }
      this.spec = { kind: 'memory', images, shape: [ds.height, ds.width, ds.channels], n: ds.n };
      this.labels = ds.labels;
      this.length = ds.n;
      input = [ds.height, ds.width, ds.channels];
    }
    this.augOpts = { ...(opts.augment ?? {}), input };
    this.aug = new Augmenter(this.augOpts);
    this.sampleShape = [this.aug.channels, this.aug.outH, this.aug.outW];
    this.nWorkers = opts.workers ?? 1;
    if (!Number.isInteger(this.nWorkers) || this.nWorkers < 0) throw new DataError(`Loader: workers must be a non-negative integer, got ${opts.workers}`);
    this.prefetch = Math.max(1, opts.prefetch ?? Math.max(2, 2 * this.nWorkers));
  }

  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.length / this.batchSize) : Math.ceil(this.length / this.batchSize);
  }

  resetStats(): void {
    Object.assign(this.stats, { batches: 0, images: 0, waitMs: 0, readyOnAsk: 0, workMs: 0 });
  }

  /** Indices and augmentation choices of batch b of epoch e (pure function of seed, e, b). */
  plan(epoch: number, b: number, order: Int32Array): { indices: Int32Array; params: AugmentParams } {
    const start = b * this.batchSize + this.sliceStart;
    const indices = order.slice(start, Math.min(start + this.localBatch, order.length));
    const n = indices.length;
    const params = this.mode === 'train'
      ? this.aug.draw(new Rng(this.seed, AUGMENT_STREAM + epoch, start * 8), n)
      : this.aug.center(n);
    return { indices, params };
  }

  /** The batches of one epoch, from batch `startBatch` on. */
  async *epoch(epoch: number, opts: { startBatch?: number } = {}): AsyncGenerator<Batch> {
    if (this.closed) throw new DataError('Loader: closed');
    const order = this.shuffle ? epochOrder(this.length, this.seed, epoch) : Int32Array.from({ length: this.length }, (_, i) => i);
    const nb = this.batchesPerEpoch;
    const start = opts.startBatch ?? 0;
    if (!Number.isInteger(start) || start < 0 || start > nb) throw new RangeError(`Loader.epoch: startBatch must be in 0..${nb}, got ${start}`);
    const sz = this.aug.sampleSize;
    const requested = new Map<number, Promise<Float32Array>>();
    const plans = new Map<number, Int32Array>();
    let ahead = start;
    // workers: 0 makes a batch in this thread only when training asks for it (inside the timed wait): nothing
    // can be made ahead without threads, and work done between steps would be hidden from waitMs.
    const lazy = this.nWorkers === 0;
    const prefetch = lazy ? 1 : this.prefetch;
    const request = () => {
      while (ahead < nb && requested.size < prefetch) {
        const b = ahead++;
        const { indices, params } = this.plan(epoch, b, order);
        plans.set(b, indices);
        const x = this.take(indices.length * sz);
        requested.set(b, this.produce(indices, params, x));
      }
    };
    try {
      for (let b = start; b < nb; b++) {
        if (!lazy) request();
        const t0 = performance.now();
        if (lazy) request();
        let ready = false;
        const p = requested.get(b)!;
        void p.then(() => { ready = true; }, () => {});
        await Promise.resolve();
        const wasReady = ready;
        const x = await p;
        this.stats.waitMs += performance.now() - t0;
        if (wasReady) this.stats.readyOnAsk++;
        requested.delete(b);
        const indices = plans.get(b)!;
        plans.delete(b);
        if (!lazy) request();
        const labels = new Int32Array(indices.length);
        for (let k = 0; k < indices.length; k++) labels[k] = this.labels[indices[k]];
        this.stats.batches++;
        this.stats.images += indices.length;
        let released = false;
        yield {
          x, labels, indices, n: indices.length, shape: [indices.length, ...this.sampleShape], epoch, index: b,
          release: () => { if (!released) { released = true; this.pool.push(x); } },
        };
      }
    } finally {
      // Batches still in flight go back to the pool when they arrive.
      for (const p of requested.values()) p.then((x) => this.pool.push(x), () => {});
    }
  }

  private take(len: number): Float32Array {
    const full = this.localBatch * this.aug.sampleSize;
    const i = this.pool.findIndex((b) => b.length === full);
    const buf = i >= 0 ? this.pool.splice(i, 1)[0] : new Float32Array(full);
    return len === full ? buf : new Float32Array(len);
  }

  private produce(indices: Int32Array, params: AugmentParams, x: Float32Array): Promise<Float32Array> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.nWorkers === 0) {
      if (!this.local) this.local = new BatchMaker(this.spec, this.augOpts, this.ownPack ?? undefined);
      const t0 = performance.now();
      if (this.local.sync) {
        // Made when training asks for it (no threads to make it earlier).
        return Promise.resolve().then(() => { this.local!.makeSync(indices, params, x); this.stats.workMs += performance.now() - t0; return x; });
      }
      return this.local.make(indices, params, x).then(() => { this.stats.workMs += performance.now() - t0; return x; });
    }
    this.startWorkers();
    let w = 0;
    for (let i = 1; i < this.workers.length; i++) if (this.outstanding[i] < this.outstanding[w]) w = i;
    const id = this.nextId++;
    this.outstanding[w]++;
    return new Promise<Float32Array>((resolve, reject) => {
      this.pending.set(id, {
        resolve: (buf) => { this.outstanding[w]--; resolve(buf); },
        reject: (e) => { this.outstanding[w]--; reject(e); },
      });
      const p = { n: params.n, top: params.top, left: params.left, flip: params.flip, light: params.light };
      this.workers[w].postMessage({ id, indices, params: p, x }, [x.buffer as ArrayBuffer]);
    });
  }

  private startWorkers(): void {
    if (this.workers.length) return;
    for (let i = 0; i < this.nWorkers; i++) {
      const w = new Worker(workerUrl('loader-worker'), { workerData: { spec: this.spec, augment: this.augOpts } });
      w.unref();
      w.on('message', (m: { type: string; id: number; x: Float32Array; ms?: number; message?: string }) => {
        if (m.type === 'fatal') return this.fail(new DataError(`Loader worker: ${m.message}`));
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.type === 'batch') { this.stats.workMs += m.ms ?? 0; p.resolve(m.x); }
        else { this.pool.push(m.x); p.reject(new DataError(`Loader: ${m.message}`)); }
      });
      // an error thrown in a worker arrives as a structured clone (a plain Error): name it as ours
      w.on('error', (e) => this.fail(e instanceof DataError ? e : new DataError(`Loader worker: ${e.message}`)));
      w.on('exit', (code) => { if (!this.closed && code !== 0) this.fail(new DataError(`Loader: a worker exited with code ${code}`)); });
      this.workers.push(w);
      this.outstanding.push(0);
    }
  }

  private fail(e: Error): void {
    if (this.fatal) return;
    this.fatal = e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
    for (const p of this.pending.values()) p.reject(new DataError('Loader: closed'));
    this.pending.clear();
    this.local?.close();
    this.ownPack?.close();
  }
}
