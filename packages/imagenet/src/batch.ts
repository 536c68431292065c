/**
 * Filling one batch: records read (and JPEG-decoded) one after another into a scratch buffer, each
 * augmented straight into its slot of the float32 batch. Runs in loader workers and in-process alike.
 */
import { Augmenter, type AugmentOptions, type AugmentParams } from '@convnet/augment';
import { PackedDataset } from './packed.js';

/** What a loader reads from, in a form a worker can receive. */
export type SourceSpec =
  | { kind: 'pack'; dir: string }
  | { kind: 'memory'; images: Uint8Array; shape: [number, number, number]; n: number };

export class BatchMaker {
  readonly aug: Augmenter;
  private readonly pack: PackedDataset | null;
  private readonly scratch: Uint8Array;
  private readonly sampleBytes: number;

  constructor(readonly spec: SourceSpec, augment: AugmentOptions, pack?: PackedDataset) {
    this.pack = spec.kind === 'pack' ? pack ?? PackedDataset.open(spec.dir) : null;
    this.aug = new Augmenter(augment);
    const [H, W, C] = augment.input;
    this.sampleBytes = H * W * C;
    this.scratch = new Uint8Array(this.sampleBytes);
  }

  /** True when make() can run synchronously (raw packs, memory). */
  get sync(): boolean {
    return !this.pack || this.pack.encoding === 'raw';
  }

  makeSync(indices: Int32Array, params: AugmentParams, x: Float32Array): void {
    const sz = this.aug.sampleSize;
    for (let k = 0; k < params.n; k++) this.aug.applyOne(this.image(indices[k]), params, k, x, k * sz);
  }

  async make(indices: Int32Array, params: AugmentParams, x: Float32Array): Promise<void> {
    if (this.sync) return this.makeSync(indices, params, x);
    const sz = this.aug.sampleSize;
    for (let k = 0; k < params.n; k++) this.aug.applyOne(await this.pack!.pixels(indices[k], this.scratch), params, k, x, k * sz);
  }

  private image(i: number): Uint8Array {
    if (this.pack) return this.pack.record(i, this.scratch);
    const s = this.spec as Extract<SourceSpec, { kind: 'memory' }>;
    return s.images.subarray(i * this.sampleBytes, (i + 1) * this.sampleBytes);
  }

  close(): void {
    this.pack?.close();
  }
}
