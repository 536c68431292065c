/**
 * uint8 HWC images and the plain (one step at a time) transforms. These are the readable reference: the
 * fused batch path (augmenter.ts) is tested against compositions of these functions.
 */

/** An 8-bit image stored row-major with interleaved channels (height × width × channels). */
export interface ImageU8 {
  data: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

export class AugmentError extends Error {
  override name = 'AugmentError';
}

function posInt(what: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) throw new AugmentError(`${what}: expected an integer >= ${min}, got ${v}`);
}

/** Wraps (and checks) HWC bytes as an image. */
export function imageU8(data: Uint8Array, height: number, width: number, channels = 3): ImageU8 {
  posInt('image height', height);
  posInt('image width', width);
  posInt('image channels', channels);
  if (!(data instanceof Uint8Array)) throw new AugmentError(`image data: expected a Uint8Array, got ${typeof data}`);
  if (data.length !== height * width * channels)
    throw new AugmentError(`image data: expected ${height}×${width}×${channels} = ${height * width * channels} bytes, got ${data.length}`);
  return { data, height, width, channels };
}

export function checkImage(img: ImageU8, what = 'image'): void {
  if (!img || !(img.data instanceof Uint8Array)) throw new AugmentError(`${what}: expected an ImageU8 with a Uint8Array 'data'`);
  imageU8(img.data, img.height, img.width, img.channels);
}

/**
 * The h × w window whose top-left corner is (top, left); parts outside the image (negative or past the
 * edge: padding) are filled with `fill`.
 */
export function crop(img: ImageU8, top: number, left: number, h: number, w: number, fill = 0): ImageU8 {
  checkImage(img);
  posInt('crop height', h);
  posInt('crop width', w);
  if (!Number.isInteger(top) || !Number.isInteger(left)) throw new AugmentError(`crop: top/left must be integers, got ${top}, ${left}`);
  const C = img.channels;
  const out = new Uint8Array(h * w * C);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sy = top + y, sx = left + x;
      const inside = sy >= 0 && sy < img.height && sx >= 0 && sx < img.width;
      for (let c = 0; c < C; c++) out[(y * w + x) * C + c] = inside ? img.data[(sy * img.width + sx) * C + c] : fill;
    }
  }
  return { data: out, height: h, width: w, channels: C };
}

/**
 * The centred h × w window, offsets rounded down. (torchvision's CenterCrop rounds half to even, Python's round, so
 * with an odd margin whose half rounds up it starts one pixel later; equal margins, e.g. 256 → 224, agree.)
 */
export function centerCrop(img: ImageU8, h: number, w = h): ImageU8 {
  checkImage(img);
  if (h > img.height || w > img.width)
    throw new AugmentError(`centerCrop: ${h}×${w} does not fit in a ${img.height}×${img.width} image`);
  return crop(img, Math.floor((img.height - h) / 2), Math.floor((img.width - w) / 2), h, w);
}

/** Adds `p` pixels of `fill` on every side. */
export function pad(img: ImageU8, p: number, fill = 0): ImageU8 {
  posInt('pad', p, 0);
  return crop(img, -p, -p, img.height + 2 * p, img.width + 2 * p, fill);
}

/** Mirror image (left-right). */
export function flipHorizontal(img: ImageU8): ImageU8 {
  checkImage(img);
  const { height: H, width: W, channels: C } = img;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      for (let c = 0; c < C; c++) out[(y * W + x) * C + c] = img.data[(y * W + (W - 1 - x)) * C + c];
  return { data: out, height: H, width: W, channels: C };
}

/**
 * Bilinear resize with half-pixel centres and edge clamping (OpenCV's INTER_LINEAR, PIL's bilinear
 * without its antialiasing filter when shrinking), rounded to the nearest byte.
 */
export function resize(img: ImageU8, h: number, w: number): ImageU8 {
  checkImage(img);
  posInt('resize height', h);
  posInt('resize width', w);
  const { height: H, width: W, channels: C, data } = img;
  const out = new Uint8Array(h * w * C);
  const sy = H / h, sx = W / w;
  const x0s = new Int32Array(w), x1s = new Int32Array(w), fxs = new Float64Array(w);
  for (let x = 0; x < w; x++) {
    let fx = (x + 0.5) * sx - 0.5;
    if (fx < 0) fx = 0;
    let x0 = Math.floor(fx);
    if (x0 > W - 1) x0 = W - 1;
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, W - 1);
    fxs[x] = fx - x0;
  }
  for (let y = 0; y < h; y++) {
    let fy = (y + 0.5) * sy - 0.5;
    if (fy < 0) fy = 0;
    let y0 = Math.floor(fy);
    if (y0 > H - 1) y0 = H - 1;
    const y1 = Math.min(y0 + 1, H - 1);
    const wy = fy - y0;
    for (let x = 0; x < w; x++) {
      const wx = fxs[x];
      const a = (y0 * W + x0s[x]) * C, b = (y0 * W + x1s[x]) * C, cc = (y1 * W + x0s[x]) * C, d = (y1 * W + x1s[x]) * C;
      for (let c = 0; c < C; c++) {
        const top = data[a + c] + (data[b + c] - data[a + c]) * wx;
        const bot = data[cc + c] + (data[d + c] - data[cc + c]) * wx;
        out[(y * w + x) * C + c] = Math.round(top + (bot - top) * wy);
      }
    }
  }
  return { data: out, height: h, width: w, channels: C };
}

/** Resizes so the shorter side is `size`, keeping the aspect ratio (the longer side is rounded). */
export function resizeShorter(img: ImageU8, size: number): ImageU8 {
  checkImage(img);
  posInt('resizeShorter size', size);
  const { height: H, width: W } = img;
  if (H <= W) return resize(img, size, Math.max(1, Math.round((W * size) / H)));
  return resize(img, Math.max(1, Math.round((H * size) / W)), size);
}

/** HWC uint8 → CHW float32 with the byte values (0..255) unchanged. */
export function toFloatCHW(img: ImageU8, out = new Float32Array(img.data.length)): Float32Array {
  checkImage(img);
  const { height: H, width: W, channels: C, data } = img;
  if (out.length < data.length) throw new AugmentError(`toFloatCHW: out has ${out.length} elements, need ${data.length}`);
  for (let c = 0; c < C; c++) for (let i = 0; i < H * W; i++) out[c * H * W + i] = data[i * C + c];
  return out;
}

/** In place on CHW floats: x[c] = (x[c] - mean[c]) / std[c]. */
export function normalize(chw: Float32Array, channels: number, mean: ArrayLike<number>, std?: ArrayLike<number>): Float32Array {
  const plane = chw.length / channels;
  for (let c = 0; c < channels; c++) {
    const m = mean[c] ?? 0, s = std ? std[c] : 1;
    for (let i = 0; i < plane; i++) chw[c * plane + i] = (chw[c * plane + i] - m) / s;
  }
  return chw;
}

/** In place on CHW floats: x -= mean (an HWC float image of the same size, e.g. a cropped mean image). */
export function subtractMeanHWC(chw: Float32Array, meanHWC: ArrayLike<number>, channels: number): Float32Array {
  const plane = chw.length / channels;
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) chw[c * plane + i] -= meanHWC[i * channels + c];
  return chw;
}

/** In place on CHW floats: x[c] += delta[c]. */
export function addPerChannel(chw: Float32Array, channels: number, delta: ArrayLike<number>): Float32Array {
  const plane = chw.length / channels;
  for (let c = 0; c < channels; c++) for (let i = 0; i < plane; i++) chw[c * plane + i] += delta[c];
  return chw;
}

/** Window of an HWC float image (e.g. the mean image), parts outside filled with fill[c]. */
export function cropFloatHWC(
  src: ArrayLike<number>, H: number, W: number, C: number,
  top: number, left: number, h: number, w: number, fill: ArrayLike<number>, flip = false,
): Float32Array {
  const out = new Float32Array(h * w * C);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const sy = top + y, sx = left + (flip ? w - 1 - x : x);
      const inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
      for (let c = 0; c < C; c++) out[(y * w + x) * C + c] = inside ? src[(sy * W + sx) * C + c] : fill[c];
    }
  return out;
}
