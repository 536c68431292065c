/**
 * Crop + flip + lighting + mean subtraction + normalisation of a uint8 batch on the device: the loader
 * uploads bytes (4× fewer than floats) and per-sample parameters drawn on the host (e.g. by
 * @convnet/augment's Augmenter.draw), and one kernel writes the float32 NCHW batch. Same formula as
 * Augmenter.apply (see native/include/convnet/kernels/augment.h), in float32.
 */
import { Tensor, isTensor } from '@convnet/tensor';
import { Call } from './backend.js';
import type { CudaDevice } from './device.js';

export interface DeviceAugmentOptions {
  /** Input images: [height, width, channels], uint8 HWC. */
  input: [number, number, number];
  /** Output [height, width]. */
  size: [number, number];
  padding?: number;
  fill?: number;
  /** Per-channel mean (byte units), ignored with meanImage. */
  mean?: ArrayLike<number>;
  /** Per-channel std (byte units). */
  std?: ArrayLike<number>;
  scale?: number;
  /** HWC float32 mean image at the input size. */
  meanImage?: Float32Array | null;
}

/** Per-sample crop offsets (in the padded image), flips and lighting shifts (n × channels, byte units). */
export interface DeviceAugmentParams {
  n: number;
  top: Int32Array;
  left: Int32Array;
  flip: Uint8Array;
  light: Float32Array;
}

const fail = (msg: string): never => {
  throw new Error(`cuda augment: ${msg}`);
};

/**
 * Writes the [n, c, oh, ow] batch into `out` (a CudaTensor of the device, or a host Tensor, staged).
 * images: n × H × W × C bytes.
 */
export function augmentBatch(device: CudaDevice, opts: DeviceAugmentOptions, images: Uint8Array, params: DeviceAugmentParams, out: Tensor): Tensor {
  const [H, W, C] = opts.input ?? [];
  for (const [k, v] of [['height', H], ['width', W], ['channels', C]] as const)
    if (!Number.isInteger(v) || v < 1) fail(`input ${k} must be a positive integer, got ${v}`);
  const [oh, ow] = opts.size ?? [];
  if (!Number.isInteger(oh) || !Number.isInteger(ow) || oh < 1 || ow < 1) fail(`size must be positive integers, got ${oh}×${ow}`);
  const pad = opts.padding ?? 0;
  if (!Number.isInteger(pad) || pad < 0) fail(`padding must be a non-negative integer, got ${pad}`);
  if (oh > H + 2 * pad || ow > W + 2 * pad) fail(`a ${oh}×${ow} crop does not fit in a ${H}×${W} input with padding ${pad}`);
  const n = params.n;
  if (!Number.isInteger(n) || n < 0) fail(`params.n must be a non-negative integer, got ${n}`);
  if (!(images instanceof Uint8Array) || images.length !== n * H * W * C)
    fail(`images must be a Uint8Array of ${n}×${H}×${W}×${C} = ${n * H * W * C} bytes, got ${images?.length}`);
  if (params.top.length < n || params.left.length < n || params.flip.length < n || params.light.length < n * C)
    fail(`params arrays are shorter than n = ${n} samples`);
  for (let i = 0; i < n; i++) {
    const t = params.top[i], l = params.left[i];
    if (!(t >= 0 && l >= 0 && t + oh <= H + 2 * pad && l + ow <= W + 2 * pad))
      fail(`crop offset (${t}, ${l}) of sample ${i} is outside the padded ${H + 2 * pad}×${W + 2 * pad} image`);
  }
  if (!isTensor(out) || out.size !== n * C * oh * ow)
    fail(`out must be a Tensor of ${n}×${C}×${oh}×${ow} elements, got ${isTensor(out) ? out.size : typeof out}`);
  const vec = (name: string, v: ArrayLike<number> | undefined, dflt: number) => {
    const r = new Float32Array(C).fill(dflt);
    if (v == null) return r;
    if (v.length !== C) fail(`${name} must have ${C} values, got ${v.length}`);
    for (let c = 0; c < C; c++) {
      if (!Number.isFinite(v[c])) fail(`${name}[${c}] is not a finite number`);
      r[c] = v[c];
    }
    return r;
  };
  const mean = vec('mean', opts.mean, 0);
  const std = vec('std', opts.std, 1);
  const scale = opts.scale ?? 1;
  const mul = std.map((s) => (s > 0 ? scale / s : fail(`std must be positive, got ${s}`)));
  const mi = opts.meanImage ?? null;
  const padMean = Float32Array.from(mean);
  if (mi) {
    if (!(mi instanceof Float32Array) || mi.length !== H * W * C) fail(`meanImage must be a Float32Array of ${H * W * C} values`);
    const acc = new Float64Array(C);
    for (let i = 0; i < H * W * C; i++) acc[i % C] += mi[i];
    for (let c = 0; c < C; c++) padMean[c] = acc[c] / (H * W);
  }
  const c = new Call(device);
  try {
    device.addon.augment(device.stream, [n, H, W, C, oh, ow, pad], opts.fill ?? 0,
      c.upload(params.top.subarray(0, n)), c.upload(params.left.subarray(0, n)), c.upload(params.flip.subarray(0, n)),
      c.upload(params.light.subarray(0, n * C)), c.upload(mean), c.upload(mul), c.upload(padMean), mi ? c.upload(mi) : 0,
      c.upload(images), c.out(out));
    c.finish();
  } finally {
    c.release();
  }
  return out;
}
