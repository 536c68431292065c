/**
 * Training-set statistics, accumulated exactly (integer sums in float64) and mergeable across shards and
 * workers: the mean image, per-channel mean/std, and the RGB covariance with its eigen-decomposition (for
 * PCA lighting). Means and std are in byte units (0..255); the covariance/eigenvalues are of values scaled
 * to [0, 1] (see @convnet/augment's lighting for why).
 */
import { eigSymmetric } from '@convnet/augment';

export interface DatasetStats {
  count: number;
  /** Per-channel mean and std of all pixels, byte units. */
  mean: number[];
  std: number[];
  /** Channel covariance of [0,1]-scaled values. */
  cov: number[][];
  eigvals: number[];
  eigvecs: number[][];
}

export class PixelStats {
  count = 0;
  readonly sumImage: Float64Array;
  readonly sum: Float64Array;
  readonly cross: Float64Array;

  constructor(readonly height: number, readonly width: number, readonly channels: number) {
    this.sumImage = new Float64Array(height * width * channels);
    this.sum = new Float64Array(channels);
    this.cross = new Float64Array(channels * channels);
  }

  add(img: Uint8Array): void {
    const C = this.channels, n = this.height * this.width;
    const s = this.sumImage;
    for (let i = 0; i < img.length; i++) s[i] += img[i];
    if (C === 3) {
      let r = 0, g = 0, b = 0, rr = 0, rg = 0, rb = 0, gg = 0, gb = 0, bb = 0;
      for (let i = 0; i < n * 3; i += 3) {
        const x = img[i], y = img[i + 1], z = img[i + 2];
        r += x; g += y; b += z;
        rr += x * x; rg += x * y; rb += x * z; gg += y * y; gb += y * z; bb += z * z;
      }
      this.sum[0] += r; this.sum[1] += g; this.sum[2] += b;
      const c = this.cross;
      c[0] += rr; c[1] += rg; c[2] += rb; c[3] += rg; c[4] += gg; c[5] += gb; c[6] += rb; c[7] += gb; c[8] += bb;
    } else {
      for (let i = 0; i < n; i++)
        for (let a = 0; a < C; a++) {
          const va = img[i * C + a];
          this.sum[a] += va;
          for (let b = 0; b < C; b++) this.cross[a * C + b] += va * img[i * C + b];
        }
    }
    this.count++;
  }

  merge(o: PixelStats): void {
    for (let i = 0; i < this.sumImage.length; i++) this.sumImage[i] += o.sumImage[i];
    for (let i = 0; i < this.sum.length; i++) this.sum[i] += o.sum[i];
    for (let i = 0; i < this.cross.length; i++) this.cross[i] += o.cross[i];
    this.count += o.count;
  }

  /** [count, sum(C), cross(C²), sumImage(HWC)] as float64. */
  toArray(): Float64Array {
    const C = this.channels;
    const a = new Float64Array(1 + C + C * C + this.sumImage.length);
    a[0] = this.count;
    a.set(this.sum, 1);
    a.set(this.cross, 1 + C);
    a.set(this.sumImage, 1 + C + C * C);
    return a;
  }

  static fromArray(a: Float64Array, h: number, w: number, c: number): PixelStats {
    const s = new PixelStats(h, w, c);
    if (a.length !== 1 + c + c * c + h * w * c) throw new RangeError(`stats: expected ${1 + c + c * c + h * w * c} values, got ${a.length}`);
    s.count = a[0];
    s.sum.set(a.subarray(1, 1 + c));
    s.cross.set(a.subarray(1 + c, 1 + c + c * c));
    s.sumImage.set(a.subarray(1 + c + c * c));
    return s;
  }

  meanImage(): Float32Array {
    const m = new Float32Array(this.sumImage.length);
    if (this.count > 0) for (let i = 0; i < m.length; i++) m[i] = this.sumImage[i] / this.count;
    return m;
  }

  finish(): DatasetStats {
    const C = this.channels;
    const N = this.count * this.height * this.width;
    const mean = Array.from(this.sum, (s) => (N ? s / N : 0));
    const cov = Array.from({ length: C }, (_, a) =>
      Array.from({ length: C }, (_, b) => (N ? (this.cross[a * C + b] / N - mean[a] * mean[b]) / (255 * 255) : 0)));
    const std = mean.map((_, c) => Math.sqrt(Math.max(0, cov[c][c])) * 255);
    const { eigvals, eigvecs } = eigSymmetric(cov);
    return { count: this.count, mean, std, cov, eigvals: eigvals.map((v) => Math.max(0, v)), eigvecs };
  }
}
