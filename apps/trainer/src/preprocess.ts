/**
 * Preprocessing presets for `predict` / `eval`:
 *
 * - `torchvision`: torchvision's ImageNet eval transform, as PyTorch users run it on a PIL image:
 *   Resize(256) of the shorter side (the longer side truncated: int(256 · long / short)), bilinear with PIL's
 *   antialiasing (the triangle filter widened by the scale factor when shrinking, 8-bit fixed-point
 *   coefficients, horizontal pass then vertical: a replica of Pillow's Resample.c), CenterCrop(224) (offsets
 *   rounded half to even, as Python's round), ToTensor (÷255) and Normalize with ImageNet's mean/std, in float32.
 * - `dataset`: what our own runs do: sharp's cover-resize to the stored size, the centre crop, the training
 *   set's per-channel mean/std.
 *
 * Both decode with sharp and apply the EXIF orientation first (sharp's rotate()).
 */
import { existsSync, statSync } from 'node:fs';
import { UsageError } from './errors.js';

export type PreprocessName = 'torchvision' | 'dataset';
export const PREPROCESS_NAMES: PreprocessName[] = ['torchvision', 'dataset'];
export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

export function parsePreprocess(v: string | undefined): PreprocessName | undefined {
  if (v === undefined) return undefined;
  if (v !== 'torchvision' && v !== 'dataset') throw new UsageError(`--preprocess: expected torchvision or dataset, got '${v}'`);
  return v;
}

/**
 * The per-channel mean/std (in [0, 1] units) a run normalises with: the training set's (`dataset`, or when
 * `preprocess` is undefined: a run from before the setting) or ImageNet's (`torchvision`, RGB only).
 */
export function normalisation(preprocess: PreprocessName | undefined, channels: number, stats: { mean: number[]; std: number[] }): { mean: number[]; std: number[] } {
  if (preprocess !== 'torchvision') return stats;
  if (channels !== 3) throw new UsageError(`--preprocess torchvision: ImageNet's mean/std are for RGB images; this data has ${channels} channel${channels === 1 ? '' : 's'} (use --preprocess dataset)`);
  return { mean: [...IMAGENET_MEAN], std: [...IMAGENET_STD] };
}

/** An image as uint8 HWC. */
export interface Pixels { data: Uint8Array; width: number; height: number; channels: number }

/** Decodes a file with sharp, EXIF orientation applied, to `channels` (1 or 3) uint8 channels. */
export async function decodeOriented(path: string, channels: 1 | 3): Promise<Pixels> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file`);
  // a FIFO or a device would block the decoder forever (or never end): only regular files are read
  if (!statSync(path).isFile()) throw new UsageError(`${path}: not a regular file (a directory, FIFO or device); give an image file`);
  const sharp = (await import('sharp')).default;
  try {
    let img = sharp(path).rotate().removeAlpha();
    img = channels === 1 ? img.greyscale() : img.toColourspace('srgb');
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== channels) throw new Error(`decoded ${info.channels} channels, expected ${channels}`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels };
  } catch (e) {
    throw new UsageError(`${path}: cannot decode image (${(e as Error).message})`);
  }
}

// ------------------------------------------------------------------ Pillow's bilinear resample (Resample.c)

const PRECISION_BITS = 32 - 8 - 2;

/** Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear (triangle) filter. */
function coefficients(inSize: number, outSize: number): { bounds: Int32Array; k: Int32Array; ksize: number } {
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = 1 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2), k = new Int32Array(outSize * ksize);
  const w = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const ss = 1 / filterscale;
    // C's (int) truncates toward zero
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      let t = Math.abs((x + xmin - center + 0.5) * ss);
      t = t < 1 ? 1 - t : 0;
      w[x] = t;
      ww += t;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? w[x] / ww : w[x];
      k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * (1 << PRECISION_BITS)) : Math.trunc(0.5 + v * (1 << PRECISION_BITS));
    }
    bounds[2 * xx] = xmin;
    bounds[2 * xx + 1] = xmax;
  }
  return { bounds, k, ksize };
}

const clip8 = (v: number) => {
  const s = Math.floor(v / (1 << PRECISION_BITS));
  return s < 0 ? 0 : s > 255 ? 255 : s;
};

/** Pillow's Image.resize((w, h), BILINEAR) on uint8 HWC pixels: horizontal pass, then vertical. */
export function pilResizeBilinear(src: Pixels, width: number, height: number): Pixels {
  const c = src.channels;
  let cur = src;
  if (width !== src.width) {
    const { bounds, k, ksize } = coefficients(src.width, width);
    const out = new Uint8Array(width * src.height * c);
    for (let y = 0; y < src.height; y++)
      for (let xx = 0; xx < width; xx++) {
        const xmin = bounds[2 * xx], xmax = bounds[2 * xx + 1];
        for (let ch = 0; ch < c; ch++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < xmax; x++) ss += src.data[(y * src.width + x + xmin) * c + ch] * k[xx * ksize + x];
          out[(y * width + xx) * c + ch] = clip8(ss);
        }
      }
    cur = { data: out, width, height: src.height, channels: c };
  }
  if (height !== cur.height) {
    const { bounds, k, ksize } = coefficients(cur.height, height);
    const out = new Uint8Array(width * height * c);
    for (let yy = 0; yy < height; yy++) {
      const ymin = bounds[2 * yy], ymax = bounds[2 * yy + 1];
      for (let x = 0; x < width; x++)
        for (let ch = 0; ch < c; ch++) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let y = 0; y < ymax; y++) ss += cur.data[((y + ymin) * width + x) * c + ch] * k[yy * ksize + y];
          out[(yy * width + x) * c + ch] = clip8(ss);
        }
    }
    cur = { data: out, width, height, channels: c };
  }
  return cur;
}

/** Python's round(): half to even. */
const roundHalfEven = (v: number) => {
  const f = Math.floor(v), d = v - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
};

/** torchvision Resize(size) of the shorter side: the longer side is int(size · long / short). */
export function torchvisionResizeSize(width: number, height: number, size = 256): [number, number] {
  if (width <= height) return [size, Math.trunc((size * height) / width)];
  return [Math.trunc((size * width) / height), size];
}

export interface TorchvisionInput {
  /** float32 CHW, normalised with ImageNet's mean/std. */
  x: Float32Array;
  /** The uint8 HWC crop before ToTensor. */
  crop: Pixels;
  resized: [number, number];
  window: { left: number; top: number; width: number; height: number };
}

/** torchvision's Resize(resize) → CenterCrop(crop) → ToTensor → Normalize(mean, std) on decoded pixels. */
export function torchvisionTransform(img: Pixels, o: { resize?: number; crop?: number; mean?: number[]; std?: number[] } = {}): TorchvisionInput {
  const resize = o.resize ?? 256, size = o.crop ?? 224, mean = o.mean ?? IMAGENET_MEAN, std = o.std ?? IMAGENET_STD;
  const rgb = img.channels === 3 ? img : { ...img, channels: 3, data: Uint8Array.from({ length: img.width * img.height * 3 }, (_, i) => img.data[Math.floor(i / 3)]) };
  const [w, h] = torchvisionResizeSize(rgb.width, rgb.height, resize);
  const r = pilResizeBilinear(rgb, w, h);
  // CenterCrop pads with zeros when the image is smaller than the crop (not after Resize(256) → 224)
  const top = roundHalfEven((h - size) / 2), left = roundHalfEven((w - size) / 2);
  const crop = new Uint8Array(size * size * 3);
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const sy = y + top, sx = x + left;
      if (sy < 0 || sy >= h || sx < 0 || sx >= w) continue;
      for (let ch = 0; ch < 3; ch++) crop[(y * size + x) * 3 + ch] = r.data[(sy * w + sx) * 3 + ch];
    }
  const x = new Float32Array(3 * size * size);
  const f = Math.fround;
  for (let ch = 0; ch < 3; ch++) {
    const m = f(mean[ch]), s = f(std[ch]);
    for (let i = 0; i < size * size; i++) x[ch * size * size + i] = f(f(f(crop[i * 3 + ch] / 255) - m) / s);
  }
  return { x, crop: { data: crop, width: size, height: size, channels: 3 }, resized: [w, h], window: { left, top, width: size, height: size } };
}
