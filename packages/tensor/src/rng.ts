/**
 * Seeded, counter-based random numbers: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy
 * as 1, 2, 3", SC 2011), the generator PyTorch uses on CUDA.
 *
 * The i-th 32-bit word of a stream is a pure function of (seed, i): the same seed gives the same numbers
 * on every backend (native/include/convnet/philox.h is the same function), in any order, on any thread,
 * and after a resume, which only needs the counter. Bernoulli draws compare integers, so they are
 * bit-identical across TypeScript, C++ and CUDA.
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** hi and lo 32 bits of a 32x32-bit product. */
function mulhilo(a: number, b: number, out: Uint32Array, hiIdx: number, loIdx: number): void {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const ll = aL * bL, lh = aL * bH, hl = aH * bL, hh = aH * bH;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  out[loIdx] = ((mid & 0xffff) << 16) | (ll & 0xffff);
  out[hiIdx] = hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16);
}

const tmp = new Uint32Array(4);

/** Philox4x32-10 of counter (c0..c3) under key (k0, k1): writes 4 words to out[off..off+3]. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array, off = 0): void {
  let x0 = c0 >>> 0, x1 = c1 >>> 0, x2 = c2 >>> 0, x3 = c3 >>> 0;
  let key0 = k0 >>> 0, key1 = k1 >>> 0;
  for (let r = 0; r < 10; r++) {
    mulhilo(M0, x0, tmp, 0, 1); // tmp[0]=hi0, tmp[1]=lo0
    mulhilo(M1, x2, tmp, 2, 3); // tmp[2]=hi1, tmp[3]=lo1
    const y0 = (tmp[2] ^ x1 ^ key0) >>> 0;
    const y1 = tmp[3];
    const y2 = (tmp[0] ^ x3 ^ key1) >>> 0;
    const y3 = tmp[1];
    x0 = y0; x1 = y1; x2 = y2; x3 = y3;
    key0 = (key0 + W0) >>> 0;
    key1 = (key1 + W1) >>> 0;
  }
  out[off] = x0; out[off + 1] = x1; out[off + 2] = x2; out[off + 3] = x3;
}

/** Splits a seed (a non-negative integer below 2^53) into the two key words. */
export function seedKey(seed: number): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new RangeError(`rng: seed must be an integer in [0, 2^53), got ${seed}`);
  return [seed % 0x100000000 >>> 0, Math.floor(seed / 0x100000000) >>> 0];
}

/**
 * Fills out[i] with word (offset + i) of the stream (seed, stream): word j is lane j%4 of the Philox
 * block at counter (floor(j/4) low, high, stream, 0).
 */
export function randomWords(seed: number, stream: number, offset: number, out: Uint32Array): void {
  const [k0, k1] = seedKey(seed);
  const n = out.length;
  let i = 0, j = offset;
  // a partial first block
  if ((j & 3) !== 0 && n > 0) {
    const block = new Uint32Array(4);
    const b = Math.floor(j / 4);
    philox4x32(b % 0x100000000, Math.floor(b / 0x100000000), stream, 0, k0, k1, block);
    for (; i < n && (j & 3) !== 0; i++, j++) out[i] = block[j & 3];
  }
  // whole blocks: Philox4x32-10 inlined (the 32×32→64-bit products from 16-bit halves, exact in doubles)
  const M0L = M0 & 0xffff, M0H = M0 >>> 16, M1L = M1 & 0xffff, M1H = M1 >>> 16;
  const s = stream >>> 0;
  for (let b = j / 4; i + 4 <= n; i += 4, b++) {
    let x0 = b % 0x100000000 >>> 0, x1 = Math.floor(b / 0x100000000) >>> 0, x2 = s, x3 = 0;
    let key0 = k0, key1 = k1;
    for (let r = 0; r < 10; r++) {
      const aL = x0 & 0xffff, aH = x0 >>> 16, cL = x2 & 0xffff, cH = x2 >>> 16;
      const ll0 = aL * M0L, lh0 = aL * M0H, hl0 = aH * M0L;
      const mid0 = (ll0 >>> 16) + (lh0 & 0xffff) + (hl0 & 0xffff);
      const hi0 = (aH * M0H + (lh0 >>> 16) + (hl0 >>> 16) + (mid0 >>> 16)) >>> 0;
      const lo0 = Math.imul(x0, M0) >>> 0;
      const ll1 = cL * M1L, lh1 = cL * M1H, hl1 = cH * M1L;
      const mid1 = (ll1 >>> 16) + (lh1 & 0xffff) + (hl1 & 0xffff);
      const hi1 = (cH * M1H + (lh1 >>> 16) + (hl1 >>> 16) + (mid1 >>> 16)) >>> 0;
      const lo1 = Math.imul(x2, M1) >>> 0;
      x0 = (hi1 ^ x1 ^ key0) >>> 0;
      x1 = lo1;
      x2 = (hi0 ^ x3 ^ key1) >>> 0;
      x3 = lo0;
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    out[i] = x0; out[i + 1] = x1; out[i + 2] = x2; out[i + 3] = x3;
    j += 4;
  }
  // a partial last block
  if (i < n) {
    const block = new Uint32Array(4);
    const b = Math.floor(j / 4);
    philox4x32(b % 0x100000000, Math.floor(b / 0x100000000), stream, 0, k0, k1, block);
    for (; i < n; i++, j++) out[i] = block[j & 3];
  }
}

/** A uniform float in [0, 1) from a 32-bit word: its top 24 bits / 2^24 (exact in float32). */
export function wordToUniform(w: number): number {
  return (w >>> 8) * (1 / 16777216);
}

/**
 * Integer threshold for keep-with-probability q: keep iff (word >>> 8) < keepThreshold(q).
 * Every backend compares the same integers, so masks are bit-identical.
 */
export function keepThreshold(q: number): number {
  return Math.round(q * 16777216);
}

export interface RngState {
  seed: number;
  stream: number;
  counter: number;
}

/**
 * A stream of random numbers: (seed, stream) name it, `counter` is how many 32-bit words were used.
 * `state()` / `Rng.fromState()` save and resume it exactly.
 */
export class Rng {
  readonly seed: number;
  readonly stream: number;
  counter: number;

  constructor(seed: number, stream = 0, counter = 0) {
    seedKey(seed);
    if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff)
      throw new RangeError(`rng: stream must be a 32-bit unsigned integer, got ${stream}`);
    this.seed = seed;
    this.stream = stream;
    this.counter = counter;
  }

  static fromState(s: RngState): Rng {
    return new Rng(s.seed, s.stream, s.counter);
  }

  state(): RngState {
    return { seed: this.seed, stream: this.stream, counter: this.counter };
  }

  /** Reserves n words and returns the offset of the first (for kernels that draw themselves). */
  take(n: number): number {
    const o = this.counter;
    this.counter += n;
    return o;
  }

  words(n: number): Uint32Array {
    const out = new Uint32Array(n);
    randomWords(this.seed, this.stream, this.take(n), out);
    return out;
  }

  /** n uniforms in [low, high). */
  uniform(n: number, low = 0, high = 1, out: Float32Array = new Float32Array(n)): Float32Array {
    const w = this.words(n);
    for (let i = 0; i < n; i++) out[i] = low + (high - low) * wordToUniform(w[i]);
    return out;
  }

  /** n normals N(mean, std²) by Box–Muller on pairs of words (computed in float64). */
  normal(n: number, mean = 0, std = 1, out: Float32Array = new Float32Array(n)): Float32Array {
    const pairs = Math.ceil(n / 2);
    const w = this.words(pairs * 2);
    for (let p = 0; p < pairs; p++) {
      // u1 in (0, 1] so log is finite.
      const u1 = ((w[2 * p] >>> 8) + 1) / 16777216;
      const u2 = (w[2 * p + 1] >>> 8) / 16777216;
      const r = Math.sqrt(-2 * Math.log(u1));
      out[2 * p] = mean + std * r * Math.cos(2 * Math.PI * u2);
      if (2 * p + 1 < n) out[2 * p + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
    }
    return out;
  }

  /** n Bernoulli draws: 1 with probability q, else 0 (integer comparison, see keepThreshold). */
  bernoulli(n: number, q: number, out: Float32Array = new Float32Array(n)): Float32Array {
    const t = keepThreshold(q);
    const w = this.words(n);
    for (let i = 0; i < n; i++) out[i] = w[i] >>> 8 < t ? 1 : 0;
    return out;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(wordToUniform(this.words(1)[0]) * n);
  }

  /** A permutation of [0, n) (Fisher–Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    const w = this.words(n);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(wordToUniform(w[i]) * (i + 1));
      const t = p[i]; p[i] = p[j]; p[j] = t;
    }
    return p;
  }
}
