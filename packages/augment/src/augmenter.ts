/**
 * The fused batch path: crop (+ padding) + flip + PCA lighting + mean subtraction + per-channel
 * normalisation, from uint8 HWC images straight into a preallocated float32 NCHW batch, one pass per output
 * element.
 *
 * For an output element (c, y, x) of a sample with crop offset (top, left) and flip f:
 *   sy = top + y − pad,  sx = left + (f ? outW − 1 − x : x) − pad
 *   v  = image[sy, sx, c]              (or `fill` outside the image: padding)
 *   m  = meanImage[sy, sx, c]          (or mean[c]; outside the image: the mean image's channel mean)
 *   out = (v + light[c] − m) · scale / std[c]
 * i.e. exactly pad → crop → flip → to float → add lighting → subtract mean → divide by std → scale,
 * which is how the tests check it (against image.ts's one-step functions).
 *
 * Randomness: every sample consumes exactly WORDS_PER_SAMPLE (8) words of the Rng, whatever the options, so
 * sample k of a stream is a pure function of (seed, stream, counter + 8k): a resumed run that restores the
 * Rng counter draws the same crops, flips and lighting. Words: 0 top, 1 left, 2 flip, 3–6 two Box–Muller
 * pairs (α1..α3; the fourth normal is unused), 7 reserved.
 */

import { AugmentError, checkImage, type ImageU8 } from './image.js';
import { checkPca, lightingDelta, type LightingOptions } from './pca.js';

/** Anything that hands out 32-bit random words (e.g. @convnet/tensor's Rng). */
export interface WordSource {
  words(n: number): Uint32Array;
}

export const WORDS_PER_SAMPLE = 8;

export interface AugmentOptions {
  /** Size of every input image: [height, width, channels]. */
  input: [number, number, number];
  /** Output size: a square side or [height, width]. Defaults to the input size. */
  size?: number | [number, number];
  /** Zero (or `fill`) padding added on each side before a random crop. */
  padding?: number;
  /** Byte value of padded pixels (default 0). */
  fill?: number;
  /** Horizontal flip probability for `draw` (true = 0.5, default false). */
  flip?: boolean | number;
  /** PCA lighting (σ default 0.1, valueScale default 255) for `draw`. */
  lighting?: LightingOptions | null;
  /** Per-channel mean in byte units (0..255). Ignored when meanImage is given. */
  mean?: ArrayLike<number>;
  /** Mean image, HWC float32 at the input size, byte units (the paper's mean subtraction). */
  meanImage?: Float32Array | null;
  /** Per-channel std in byte units. */
  std?: ArrayLike<number>;
  /** Final multiplier (e.g. 1/255 to get [0,1]-scaled values when no std is given). Default 1. */
  scale?: number;
}

/** Per-sample choices for one batch. */
export interface AugmentParams {
  n: number;
  top: Int32Array;
  left: Int32Array;
  flip: Uint8Array;
  /** Lighting shift per sample and channel (byte units), n × channels. */
  light: Float32Array;
}

export function allocParams(n: number, channels: number): AugmentParams {
  return { n, top: new Int32Array(n), left: new Int32Array(n), flip: new Uint8Array(n), light: new Float32Array(n * channels) };
}

const TWO_24 = 16777216;

export class Augmenter {
  readonly inH: number;
  readonly inW: number;
  readonly channels: number;
  readonly outH: number;
  readonly outW: number;
  readonly padding: number;
  readonly fill: number;
  readonly flipThreshold: number;
  readonly lighting: Required<LightingOptions> | null;
  private readonly meanC: Float64Array;
  private readonly mul: Float64Array;
  private readonly meanImage: Float32Array | null;
  /** Mean used for padded pixels: the channel mean of the mean image (or mean[c]). */
  private readonly padMean: Float64Array;

  constructor(opts: AugmentOptions) {
    if (!opts || !Array.isArray(opts.input) || opts.input.length !== 3) throw new AugmentError('Augmenter: `input` must be [height, width, channels]');
    const [H, W, C] = opts.input;
    for (const [k, v] of [['height', H], ['width', W], ['channels', C]] as const)
      if (!Number.isInteger(v) || v < 1) throw new AugmentError(`Augmenter: input ${k} must be a positive integer, got ${v}`);
    const size = opts.size ?? [H, W];
    const [oh, ow] = typeof size === 'number' ? [size, size] : size;
    if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1) throw new AugmentError(`Augmenter: size must be positive integers, got ${oh}×${ow}`);
    const p = opts.padding ?? 0;
    if (!Number.isInteger(p) || p < 0) throw new AugmentError(`Augmenter: padding must be a non-negative integer, got ${p}`);
    if (oh > H + 2 * p || ow > W + 2 * p)
      throw new AugmentError(`Augmenter: a ${oh}×${ow} crop does not fit in a ${H}×${W} input with padding ${p}`);
    this.inH = H; this.inW = W; this.channels = C; this.outH = oh; this.outW = ow; this.padding = p;
    this.fill = opts.fill ?? 0;
    const fp = opts.flip === true ? 0.5 : opts.flip === false || opts.flip == null ? 0 : opts.flip;
    if (!(fp >= 0 && fp <= 1)) throw new AugmentError(`Augmenter: flip probability must be in [0, 1], got ${opts.flip}`);
    this.flipThreshold = Math.round(fp * TWO_24);
    if (opts.lighting) {
      checkPca(opts.lighting, C);
      this.lighting = { std: opts.lighting.std ?? 0.1, valueScale: opts.lighting.valueScale ?? 255, eigvals: opts.lighting.eigvals, eigvecs: opts.lighting.eigvecs };
    } else this.lighting = null;
    const vec = (name: string, v: ArrayLike<number> | undefined, dflt: number) => {
      const out = new Float64Array(C).fill(dflt);
      if (v == null) return out;
      if (v.length !== C) throw new AugmentError(`Augmenter: ${name} must have ${C} values (one per channel), got ${v.length}`);
      for (let c = 0; c < C; c++) {
        if (!Number.isFinite(v[c])) throw new AugmentError(`Augmenter: ${name}[${c}] is not a finite number`);
        out[c] = v[c];
      }
      return out;
    };
    this.meanC = vec('mean', opts.mean, 0);
    const std = vec('std', opts.std, 1);
    const scale = opts.scale ?? 1;
    this.mul = std.map((s) => {
      if (s <= 0) throw new AugmentError(`Augmenter: std must be positive, got ${s}`);
      return scale / s;
    });
    this.meanImage = opts.meanImage ?? null;
    this.padMean = Float64Array.from(this.meanC);
    if (this.meanImage) {
      if (!(this.meanImage instanceof Float32Array) || this.meanImage.length !== H * W * C)
        throw new AugmentError(`Augmenter: meanImage must be a Float32Array of ${H}×${W}×${C} = ${H * W * C} values, got ${this.meanImage.length}`);
      this.padMean.fill(0);
      for (let i = 0; i < H * W * C; i++) this.padMean[i % C] += this.meanImage[i];
      for (let c = 0; c < C; c++) this.padMean[c] /= H * W;
    }
  }

  /** Elements of one output sample (C × outH × outW). */
  get sampleSize(): number {
    return this.channels * this.outH * this.outW;
  }

  /** A batch buffer for n samples, NCHW. */
  allocate(n: number): Float32Array {
    return new Float32Array(n * this.sampleSize);
  }

  /**
   * Random crop offsets, flips and lighting for n samples, 8 words each (see the file comment).
   * Crop offsets are uniform over every position of the crop inside the padded image.
   */
  draw(rng: WordSource, n: number, out: AugmentParams = allocParams(n, this.channels)): AugmentParams {
    const C = this.channels;
    const w = rng.words(n * WORDS_PER_SAMPLE);
    const ry = this.inH + 2 * this.padding - this.outH + 1;
    const rx = this.inW + 2 * this.padding - this.outW + 1;
    const alpha = new Float64Array(4);
    const delta = new Float64Array(C);
    const L = this.lighting;
    for (let i = 0; i < n; i++) {
      const o = i * WORDS_PER_SAMPLE;
      out.top[i] = Math.floor(((w[o] >>> 8) / TWO_24) * ry);
      out.left[i] = Math.floor(((w[o + 1] >>> 8) / TWO_24) * rx);
      out.flip[i] = w[o + 2] >>> 8 < this.flipThreshold ? 1 : 0;
      if (L) {
        for (let p = 0; p < 2; p++) {
          const u1 = ((w[o + 3 + 2 * p] >>> 8) + 1) / TWO_24;
          const u2 = (w[o + 4 + 2 * p] >>> 8) / TWO_24;
          const r = Math.sqrt(-2 * Math.log(u1));
          alpha[2 * p] = L.std * r * Math.cos(2 * Math.PI * u2);
          alpha[2 * p + 1] = L.std * r * Math.sin(2 * Math.PI * u2);
        }
        lightingDelta(alpha, L, L.valueScale, delta);
        for (let c = 0; c < C; c++) out.light[i * C + c] = delta[c];
      } else for (let c = 0; c < C; c++) out.light[i * C + c] = 0;
    }
    out.n = n;
    return out;
  }

  /** Centre crops (padding counted), no flip, no lighting: the evaluation view. */
  center(n: number, out: AugmentParams = allocParams(n, this.channels)): AugmentParams {
    const t = Math.floor((this.inH + 2 * this.padding - this.outH) / 2);
    const l = Math.floor((this.inW + 2 * this.padding - this.outW) / 2);
    out.top.fill(t, 0, n); out.left.fill(l, 0, n); out.flip.fill(0, 0, n); out.light.fill(0, 0, n * this.channels);
    out.n = n;
    return out;
  }

  /**
   * The paper's 10 test views of one image: the four corner crops and the centre crop (top-left,
   * top-right, bottom-left, bottom-right, centre), then the same five mirrored. Padding is not used.
   */
  tenViewParams(out: AugmentParams = allocParams(10, this.channels)): AugmentParams {
    const bt = this.inH - this.outH, rl = this.inW - this.outW;
    if (bt < 0 || rl < 0) throw new AugmentError(`tenViews: a ${this.outH}×${this.outW} crop does not fit in ${this.inH}×${this.inW}`);
    const p = this.padding;
    const tops = [0, 0, bt, bt, Math.floor(bt / 2)], lefts = [0, rl, 0, rl, Math.floor(rl / 2)];
    for (let k = 0; k < 10; k++) {
      out.top[k] = tops[k % 5] + p; out.left[k] = lefts[k % 5] + p; out.flip[k] = k >= 5 ? 1 : 0;
    }
    out.light.fill(0, 0, 10 * this.channels);
    out.n = 10;
    return out;
  }

  /** The 10 views of one image as a [10, C, outH, outW] batch. */
  tenViews(image: Uint8Array | ImageU8, out: Float32Array = this.allocate(10)): Float32Array {
    const data = image instanceof Uint8Array ? image : image.data;
    const p = this.tenViewParams();
    for (let k = 0; k < 10; k++) this.applyOne(data, p, k, out, k * this.sampleSize);
    return out;
  }

  /**
   * Writes sample i of the batch: images[i] (HWC bytes of the input size) transformed by params[i] into
   * out at offset i × sampleSize. `images` may be an array of byte arrays or a function of i.
   */
  apply(images: ArrayLike<Uint8Array> | ((i: number) => Uint8Array), params: AugmentParams, out: Float32Array = this.allocate(params.n)): Float32Array {
    const n = params.n;
    if (out.length < n * this.sampleSize) throw new AugmentError(`Augmenter.apply: out has ${out.length} elements, need ${n} × ${this.sampleSize}`);
    const get = typeof images === 'function' ? images : (i: number) => images[i];
    for (let i = 0; i < n; i++) this.applyOne(get(i), params, i, out, i * this.sampleSize);
    return out;
  }

  /** Draws params from rng and applies them: a training batch in one call. */
  batch(images: ArrayLike<Uint8Array> | ((i: number) => Uint8Array), n: number, rng: WordSource, out?: Float32Array): Float32Array {
    return this.apply(images, this.draw(rng, n), out);
  }

  /** One sample: src (HWC bytes) with params[k] into out[o ..]. */
  applyOne(src: Uint8Array | ImageU8, params: AugmentParams, k: number, out: Float32Array, o: number): void {
    const H = this.inH, W = this.inW, C = this.channels, oh = this.outH, ow = this.outW, p = this.padding;
    const data = src instanceof Uint8Array ? src : (checkImage(src), src.data);
    if (!(data instanceof Uint8Array) || data.length !== H * W * C)
      throw new AugmentError(`Augmenter: image ${k}: expected ${H}×${W}×${C} = ${H * W * C} bytes, got ${data?.length}`);
    const top = params.top[k] - p, left = params.left[k] - p, flip = params.flip[k] === 1;
    if (!(top >= -p && left >= -p && top + oh <= H + p && left + ow <= W + p))
      throw new AugmentError(`Augmenter: crop offset (${params.top[k]}, ${params.left[k]}) of sample ${k} is outside the padded ${H + 2 * p}×${W + 2 * p} image`);
    const inside = top >= 0 && left >= 0 && top + oh <= H && left + ow <= W;
    const mi = this.meanImage;
    const rowStep = W * C;
    // Step through the source row in the direction the output is written.
    const xStep = flip ? -C : C;
    if (inside && C === 3) {
      // The common case (RGB, crop inside the image): pixel-major, 3 contiguous bytes in, 3 planes out.
      const l = params.light, m = this.mul;
      const m0 = m[0], m1 = m[1], m2 = m[2];
      if (mi) rgbMeanImage(data, mi, W, top, left, flip, oh, ow, l[k * 3], l[k * 3 + 1], l[k * 3 + 2], m0, m1, m2, out, o);
      else {
        const mc = this.meanC;
        rgbChannelMean(data, W, top, left, flip, oh, ow, l[k * 3] - mc[0], l[k * 3 + 1] - mc[1], l[k * 3 + 2] - mc[2], m0, m1, m2, out, o);
      }
      return;
    }
    for (let c = 0; c < C; c++) {
      const light = params.light[k * C + c];
      const m = this.mul[c];
      let dst = o + c * oh * ow;
      if (inside) {
        const a = light - this.meanC[c];
        for (let y = 0; y < oh; y++) {
          let s = (top + y) * rowStep + (flip ? left + ow - 1 : left) * C + c;
          const end = dst + ow;
          if (mi) while (dst < end) { out[dst++] = (data[s] + light - mi[s]) * m; s += xStep; }
          else while (dst < end) { out[dst++] = (data[s] + a) * m; s += xStep; }
        }
      } else {
        // Padded crop: per-element bounds checks (small images only in practice).
        const fillV = (this.fill + light - this.padMean[c]) * m;
        for (let y = 0; y < oh; y++) {
          const sy = top + y;
          for (let x = 0; x < ow; x++) {
            const sx = left + (flip ? ow - 1 - x : x);
            if (sy < 0 || sy >= H || sx < 0 || sx >= W) out[dst++] = fillV;
            else {
              const s = (sy * W + sx) * C + c;
              out[dst++] = (data[s] + light - (mi ? mi[s] : this.meanC[c])) * m;
            }
          }
        }
      }
    }
  }
}

/** RGB crop inside the image, per-channel mean: out[c] = (v + a[c]) · m[c]. */
function rgbChannelMean(
  data: Uint8Array, W: number, top: number, left: number, flip: boolean, oh: number, ow: number,
  a0: number, a1: number, a2: number, m0: number, m1: number, m2: number, out: Float32Array, o: number,
): void {
  const P = oh * ow, step = flip ? -3 : 3;
  for (let y = 0; y < oh; y++) {
    let s = ((top + y) * W + (flip ? left + ow - 1 : left)) * 3;
    let d = o + y * ow;
    const end = d + ow;
    for (; d < end; d++, s += step) {
      out[d] = (data[s] + a0) * m0;
      out[d + P] = (data[s + 1] + a1) * m1;
      out[d + 2 * P] = (data[s + 2] + a2) * m2;
    }
  }
}

/** RGB crop inside the image, mean image: out[c] = (v + light[c] − mean[s + c]) · m[c]. */
function rgbMeanImage(
  data: Uint8Array, mi: Float32Array, W: number, top: number, left: number, flip: boolean, oh: number, ow: number,
  l0: number, l1: number, l2: number, m0: number, m1: number, m2: number, out: Float32Array, o: number,
): void {
  const P = oh * ow, step = flip ? -3 : 3;
  for (let y = 0; y < oh; y++) {
    let s = ((top + y) * W + (flip ? left + ow - 1 : left)) * 3;
    let d = o + y * ow;
    const end = d + ow;
    for (; d < end; d++, s += step) {
      out[d] = (data[s] - mi[s] + l0) * m0;
      out[d + P] = (data[s + 1] - mi[s + 1] + l1) * m1;
      out[d + 2 * P] = (data[s + 2] - mi[s + 2] + l2) * m2;
    }
  }
}
