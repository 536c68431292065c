/**
 * Gradient buckets reduced while backward runs (as PyTorch's DistributedDataParallel does).
 *
 * Parameters are grouped, in reverse order of registration (≈ the order backward finishes them), into
 * buckets of about `bucketCapMB`. A hook after each module's backward (Module.onBackward, run by Sequential
 * and Parallel) marks that module's gradients ready; when every gradient of a bucket is ready the bucket is
 * averaged over ranks with a non-blocking allreduce on the communication thread while the JS thread goes
 * on with the earlier layers' backward. finish() launches whatever no hook launched (parameters of a
 * module no container runs), waits for all buckets and returns how long the JS thread waited.
 *
 * A bucket of one parameter is reduced in place in its gradient; a bucket of several is copied into one
 * flat buffer (one collective instead of many small ones) and copied back after the wait.
 * Every rank must run the same backward, so buckets launch in the same order everywhere.
 */
import type { Module, Parameter } from '@convnet/layers';
import type { ProcessGroup, Work } from './process-group.js';

export interface Bucket {
  index: number;
  names: string[];
  params: Parameter[];
  numel: number;
  /** The buffer that is reduced: the gradient itself for one parameter, else a flat copy. */
  flat: Float32Array | null;
}

export interface BucketTimes {
  /** Milliseconds the calling thread waited for communication in finish(). */
  waitMs: number;
  /** Seconds the collectives took on the communication thread (they overlap backward). */
  commSeconds: number;
  /** Buckets launched during backward (the rest were launched by finish()). */
  launchedDuringBackward: number;
}

/** Modules that own parameters directly, with those parameters (not their children's). */
function ownersOf(root: Module): [Module, Parameter[]][] {
  const out: [Module, Parameter[]][] = [];
  const visit = (m: Module) => {
    const own = m.namedParameters().filter(([n]) => !n.includes('.')).map(([, p]) => p);
    if (own.length) out.push([m, own]);
    for (const [, c] of m.namedChildren()) visit(c);
  };
  visit(root);
  return out;
}

export class GradientBuckets {
  readonly buckets: Bucket[] = [];
  readonly #pg: ProcessGroup;
  readonly #bucketOf = new Map<Parameter, Bucket>();
  readonly #removers: (() => void)[] = [];
  #pending = new Map<Bucket, number>();
  #ready = new Set<Parameter>();
  #works: [Bucket, Work][] = [];
  #active = false;
  #launchedByHooks = 0;

  constructor(pg: ProcessGroup, module: Module, opts: { bucketCapMB?: number } = {}) {
    const cap = opts.bucketCapMB ?? 25;
    if (!(Number.isFinite(cap) && cap > 0)) throw new RangeError(`GradientBuckets: bucketCapMB must be a positive number, got ${cap}`);
    this.#pg = pg;
    const named = module.namedParameters().reverse();
    let cur: Bucket | null = null;
    for (const [name, p] of named) {
      if (!cur || cur.numel * 4 >= cap * 2 ** 20) {
        cur = { index: this.buckets.length, names: [], params: [], numel: 0, flat: null };
        this.buckets.push(cur);
      }
      cur.names.push(name);
      cur.params.push(p);
      cur.numel += p.grad.size;
      this.#bucketOf.set(p, cur);
    }
    for (const b of this.buckets) if (b.params.length > 1) b.flat = new Float32Array(b.numel);
    if (pg.size > 1)
      for (const [m, own] of ownersOf(module)) this.#removers.push(m.onBackward(() => this.#onReady(own)));
  }

  /** Call before each backward. */
  begin(): void {
    if (this.#active) throw new Error('GradientBuckets.begin: the previous step was not finished (call finish() after backward)');
    this.#active = true;
    this.#ready.clear();
    this.#pending = new Map(this.buckets.map((b) => [b, b.params.length]));
    this.#works = [];
    this.#launchedByHooks = 0;
  }

  #onReady(own: Parameter[]): void {
    if (!this.#active) return;
    for (const p of own) {
      if (this.#ready.has(p)) continue;
      this.#ready.add(p);
      const b = this.#bucketOf.get(p)!;
      const left = this.#pending.get(b)! - 1;
      this.#pending.set(b, left);
      if (left === 0) {
        this.#launch(b);
        this.#launchedByHooks++;
      }
    }
  }

  #launch(b: Bucket): void {
    this.#pending.set(b, -1);
    let buf: Float32Array;
    if (b.flat) {
      let o = 0;
      for (const p of b.params) {
        b.flat.set(p.grad.data, o);
        o += p.grad.size;
      }
      buf = b.flat;
    } else buf = b.params[0].grad.data;
    this.#works.push([b, this.#pg.allreduceAsync(buf, 'avg', `gradient bucket ${b.index}`)]);
  }

  /** After backward: every gradient is then the average over ranks. */
  finish(): BucketTimes {
    if (!this.#active) throw new Error('GradientBuckets.finish: begin() was not called before backward');
    this.#active = false;
    if (this.#pg.size === 1) return { waitMs: 0, commSeconds: 0, launchedDuringBackward: 0 };
    for (const b of this.buckets) if (this.#pending.get(b)! >= 0) this.#launch(b);
    const t0 = performance.now();
    let commSeconds = 0;
    for (const [, w] of this.#works) commSeconds += w.wait();
    const waitMs = performance.now() - t0;
    for (const [b] of this.#works) {
      if (!b.flat) continue;
      let o = 0;
      for (const p of b.params) {
        p.grad.data.set(b.flat.subarray(o, o + p.grad.size));
        o += p.grad.size;
      }
    }
    return { waitMs, commSeconds, launchedDuringBackward: this.#launchedByHooks };
  }

  /** Removes the backward hooks. */
  dispose(): void {
    for (const r of this.#removers) r();
    this.#removers.length = 0;
  }
}

/** Makes every rank's parameters equal to root's (at the start of training). */
export function broadcastParameters(pg: ProcessGroup, module: Module, root = 0): void {
  if (pg.size === 1) return;
  for (const [name, p] of module.namedParameters()) pg.broadcast(p.value.data, root, `parameter ${name}`);
}

/**
 * Rank `root`'s module buffers (BatchNorm's running statistics) on every rank. Each rank's batch norm updates its
 * running statistics from its own slice of the batch (as PyTorch's DDP without SyncBatchNorm), so the ranks' copies
 * drift apart; broadcasting them before an evaluation makes every rank evaluate rank 0's model, the one its
 * checkpoints hold (DDP's `broadcast_buffers` does the same before every forward).
 */
export function broadcastBuffers(pg: ProcessGroup, module: Module, root = 0): void {
  if (pg.size === 1) return;
  for (const [name, b] of module.namedBuffers()) pg.broadcast(b.data, root, `buffer ${name}`);
}

/**
 * Checks that every rank holds bit-identical parameters (replicas drift apart silently if a reduction
 * ever gives ranks different bits). Returns null when in sync, else a message.
 */
export function replicasInSync(pg: ProcessGroup, module: Module): string | null {
  if (pg.size === 1) return null;
  const names: string[] = [];
  const h = new Float32Array(2 * module.parameters().length);
  module.namedParameters().forEach(([name, p], i) => {
    // FNV-1a over the bits, folded to two 16-bit halves (exact in float32)
    const u = new Uint32Array(p.value.data.buffer, p.value.data.byteOffset, p.value.size);
    let x = 0x811c9dc5;
    for (let j = 0; j < u.length; j++) x = Math.imul(x ^ u[j], 0x01000193) >>> 0;
    h[2 * i] = x >>> 16;
    h[2 * i + 1] = x & 0xffff;
    names.push(name);
  });
  const lo = h.slice(), hi = h.slice();
  pg.allreduce(lo, 'min', 'replica check (min)');
  pg.allreduce(hi, 'max', 'replica check (max)');
  const differ = names.filter((_, i) => lo[2 * i] !== hi[2 * i] || lo[2 * i + 1] !== hi[2 * i + 1]);
  return differ.length ? `parameters differ between ranks: ${differ.join(', ')}` : null;
}
