import { describe, expect, it } from 'vitest';
import { Rng } from '@convnet/tensor';
import {
  Augmenter, AugmentError, addPerChannel, centerCrop, crop, cropFloatHWC, eigSymmetric, flipHorizontal, imageU8,
  lightingDelta, normalize, pad, resize, resizeShorter, subtractMeanHWC, toFloatCHW, WORDS_PER_SAMPLE, type ImageU8,
} from '@convnet/augment';

function randomImage(rng: Rng, h: number, w: number, c = 3): ImageU8 {
  const d = new Uint8Array(h * w * c);
  const words = rng.words(d.length);
  for (let i = 0; i < d.length; i++) d[i] = words[i] & 255;
  return imageU8(d, h, w, c);
}

const PCA = {
  eigvals: [0.2175, 0.0188, 0.0045],
  eigvecs: [
    [-0.5675, -0.5808, -0.5836],
    [0.7192, -0.0045, -0.6948],
    [0.4009, -0.814, 0.4203],
  ],
};

/** The plain pipeline: pad → crop → flip → float CHW → + lighting → − mean → / std → · scale. */
function reference(
  img: ImageU8, top: number, left: number, flip: boolean, light: ArrayLike<number>,
  o: { oh: number; ow: number; padding?: number; fill?: number; mean?: number[]; std?: number[]; scale?: number; meanImage?: Float32Array },
): Float32Array {
  const p = o.padding ?? 0;
  const C = img.channels;
  let v = crop(pad(img, p, o.fill ?? 0), top, left, o.oh, o.ow);
  if (flip) v = flipHorizontal(v);
  const x = toFloatCHW(v);
  addPerChannel(x, C, light);
  if (o.meanImage) {
    const chMean = new Array(C).fill(0);
    for (let i = 0; i < o.meanImage.length; i++) chMean[i % C] += o.meanImage[i] / (img.height * img.width);
    subtractMeanHWC(x, cropFloatHWC(o.meanImage, img.height, img.width, C, top - p, left - p, o.oh, o.ow, chMean, flip), C);
  } else normalize(x, C, o.mean ?? new Array(C).fill(0));
  const std = o.std ?? new Array(C).fill(1);
  const scale = o.scale ?? 1;
  normalize(x, C, new Array(C).fill(0), std.map((s) => s / scale));
  return x;
}

function expectClose(a: Float32Array, b: Float32Array, tol = 1e-4): void {
  expect(a.length).toBe(b.length);
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i]));
    if (!(d <= worst)) { worst = d; at = i; }
  }
  expect(worst, `worst relative difference at ${at}: ${a[at]} vs ${b[at]}`).toBeLessThanOrEqual(tol);
}

describe('plain transforms', () => {
  const img = imageU8(Uint8Array.from({ length: 2 * 3 * 2 }, (_, i) => i), 2, 3, 2); // 2×3, 2 channels
  it('crop, pad, flip and centre crop move the right bytes', () => {
    expect(Array.from(crop(img, 0, 1, 2, 2).data)).toEqual([2, 3, 4, 5, 8, 9, 10, 11]);
    expect(Array.from(crop(img, -1, 2, 2, 2, 7).data)).toEqual([7, 7, 7, 7, 4, 5, 7, 7]);
    expect(Array.from(flipHorizontal(img).data)).toEqual([4, 5, 2, 3, 0, 1, 10, 11, 8, 9, 6, 7]);
    expect(pad(img, 1).height).toBe(4);
    expect(Array.from(centerCrop(img, 1, 1).data)).toEqual([2, 3]);
    expect(Array.from(toFloatCHW(img))).toEqual([0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11]);
  });
  it('bilinear resize: identity, constant, halves and doubles', () => {
    const rng = new Rng(1);
    const a = randomImage(rng, 5, 7);
    expect(resize(a, 5, 7).data).toEqual(a.data);
    const flat = imageU8(new Uint8Array(4 * 6 * 3).fill(77), 4, 6, 3);
    expect(resize(flat, 9, 2).data.every((v) => v === 77)).toBe(true);
    // 2×2 → 1×1 averages the four pixels (half-pixel centres).
    const four = imageU8(Uint8Array.from([0, 100, 50, 250]), 2, 2, 1);
    expect(Array.from(resize(four, 1, 1).data)).toEqual([100]);
    // 1×2 → 1×4: [a, a·¾+b·¼, a·¼+b·¾, b]
    const two = imageU8(Uint8Array.from([0, 200]), 1, 2, 1);
    expect(Array.from(resize(two, 1, 4).data)).toEqual([0, 50, 150, 200]);
    const r = resizeShorter(randomImage(rng, 30, 60), 10);
    expect([r.height, r.width]).toEqual([10, 20]);
    const r2 = resizeShorter(randomImage(rng, 375, 500), 256);
    expect([r2.height, r2.width]).toEqual([256, 341]);
  });
  it('rejects bad images and sizes with clear errors', () => {
    expect(() => imageU8(new Uint8Array(5), 2, 2, 1)).toThrow(/expected 2×2×1 = 4 bytes, got 5/);
    expect(() => centerCrop(img, 3, 3)).toThrow(AugmentError);
    expect(() => resize(img, 0, 2)).toThrow(/resize height/);
  });
});

describe('PCA lighting', () => {
  it('delta follows the formula Σj pj · αj · λj (× 255)', () => {
    const alpha = [0.3, -1.2, 0.05];
    const d = lightingDelta(alpha, PCA, 255);
    for (let c = 0; c < 3; c++) {
      const want = 255 * (PCA.eigvecs[0][c] * alpha[0] * PCA.eigvals[0] + PCA.eigvecs[1][c] * alpha[1] * PCA.eigvals[1] + PCA.eigvecs[2][c] * alpha[2] * PCA.eigvals[2]);
      expect(d[c]).toBeCloseTo(want, 10);
    }
  });
  it('draw: α are N(0, σ²) Box–Muller normals from words 3–6 of each sample', () => {
    const aug = new Augmenter({ input: [8, 8, 3], size: 4, lighting: { ...PCA, std: 0.1 } });
    const n = 2000;
    const p = aug.draw(new Rng(5, 2), n);
    const w = new Rng(5, 2).words(n * WORDS_PER_SAMPLE);
    // Recover α by solving light = 255 · V diag(λ) α (V rows are the eigenvectors, orthonormal).
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const o = i * WORDS_PER_SAMPLE;
      const u1 = ((w[o + 3] >>> 8) + 1) / 2 ** 24, u2 = (w[o + 4] >>> 8) / 2 ** 24;
      const u3 = ((w[o + 5] >>> 8) + 1) / 2 ** 24, u4 = (w[o + 6] >>> 8) / 2 ** 24;
      const alpha = [
        0.1 * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2),
        0.1 * Math.sqrt(-2 * Math.log(u1)) * Math.sin(2 * Math.PI * u2),
        0.1 * Math.sqrt(-2 * Math.log(u3)) * Math.cos(2 * Math.PI * u4),
      ];
      const d = lightingDelta(alpha, PCA, 255);
      for (let c = 0; c < 3; c++) expect(p.light[i * 3 + c]).toBeCloseTo(d[c], 3);
      s2 += alpha[0] ** 2;
    }
    expect(Math.sqrt(s2 / n)).toBeGreaterThan(0.09);
    expect(Math.sqrt(s2 / n)).toBeLessThan(0.11);
  });
  it('eigSymmetric reconstructs the matrix with orthonormal vectors, largest first', () => {
    const m = [[4, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 1]];
    const { eigvals, eigvecs } = eigSymmetric(m);
    expect(eigvals[0]).toBeGreaterThanOrEqual(eigvals[1]);
    expect(eigvals[1]).toBeGreaterThanOrEqual(eigvals[2]);
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 3; j++) {
        let r = 0, dot = 0;
        for (let k = 0; k < 3; k++) { r += eigvecs[k][i] * eigvals[k] * eigvecs[k][j]; dot += eigvecs[i][k] * eigvecs[j][k]; }
        expect(r).toBeCloseTo(m[i][j], 10);
        expect(dot).toBeCloseTo(i === j ? 1 : 0, 10);
      }
  });
});

describe('fused batch path', () => {
  const cases = [
    { name: 'crop + flip + lighting + mean/std', input: [20, 24, 3], size: 13, flip: true, lighting: PCA, mean: [120, 110, 100], std: [60, 61, 62] },
    { name: 'padded crops (CIFAR style), scale 1/255', input: [10, 10, 3], size: 10, padding: 3, fill: 5, flip: true, scale: 1 / 255 },
    { name: 'mean image + lighting', input: [12, 9, 3], size: [7, 5], flip: 0.5, lighting: PCA, meanImage: true },
    { name: 'mean image + padding', input: [6, 6, 3], size: 6, padding: 2, flip: true, meanImage: true, std: [50, 50, 50] },
    { name: 'greyscale, no flip', input: [9, 9, 1], size: 8, mean: [33] },
  ] as const;
  for (const cs of cases)
    it(`matches the plain pipeline: ${cs.name}`, () => {
      const rng = new Rng(11);
      const [H, W, C] = cs.input;
      const meanImage = 'meanImage' in cs ? Float32Array.from(rng.uniform(H * W * C, 0, 255)) : undefined;
      const aug = new Augmenter({ ...cs, input: [H, W, C], size: cs.size as number | [number, number], meanImage } as never);
      const imgs = Array.from({ length: 6 }, () => randomImage(rng, H, W, C));
      const params = aug.draw(new Rng(3), imgs.length);
      const out = aug.apply(imgs.map((m) => m.data), params);
      const [oh, ow] = typeof cs.size === 'number' ? [cs.size, cs.size] : cs.size;
      let flips = 0;
      for (let i = 0; i < imgs.length; i++) {
        flips += params.flip[i];
        const want = reference(imgs[i], params.top[i], params.left[i], params.flip[i] === 1, params.light.subarray(i * C, i * C + C), {
          oh, ow, padding: 'padding' in cs ? cs.padding : 0, fill: 'fill' in cs ? cs.fill : 0, mean: 'mean' in cs ? [...cs.mean] : undefined,
          std: 'std' in cs ? [...cs.std] : undefined, scale: 'scale' in cs ? cs.scale : 1, meanImage,
        });
        expectClose(out.subarray(i * aug.sampleSize, (i + 1) * aug.sampleSize), want);
      }
      if (!('flip' in cs)) expect(flips).toBe(0);
    });

  it('crop offsets cover every position, flips about half', () => {
    const aug = new Augmenter({ input: [6, 5, 1], size: 3, padding: 1, flip: true });
    const p = aug.draw(new Rng(9), 4000);
    const tops = new Set(p.top), lefts = new Set(p.left);
    expect([...tops].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect([...lefts].sort()).toEqual([0, 1, 2, 3, 4]);
    const f = p.flip.reduce((a, b) => a + b, 0) / 4000;
    expect(f).toBeGreaterThan(0.45);
    expect(f).toBeLessThan(0.55);
  });

  it('the 10 views are the 4 corners and the centre, then their mirror images', () => {
    const rng = new Rng(4);
    const img = randomImage(rng, 11, 14);
    const aug = new Augmenter({ input: [11, 14, 3], size: 8, mean: [1, 2, 3], std: [2, 2, 2] });
    const views = aug.tenViews(img);
    const corners = [[0, 0], [0, 6], [3, 0], [3, 6], [1, 3]];
    for (let k = 0; k < 10; k++) {
      const [t, l] = corners[k % 5];
      let v = crop(img, t, l, 8, 8);
      if (k >= 5) v = flipHorizontal(v);
      const want = normalize(toFloatCHW(v), 3, [1, 2, 3], [2, 2, 2]);
      expectClose(views.subarray(k * aug.sampleSize, (k + 1) * aug.sampleSize), want, 1e-6);
    }
    // centre params equal centerCrop
    const c = aug.apply([img.data], aug.center(1));
    expectClose(c, normalize(toFloatCHW(centerCrop(img, 8, 8)), 3, [1, 2, 3], [2, 2, 2]), 1e-6);
  });

  it('same seed, same batch; a restored Rng state continues exactly', () => {
    const rng0 = new Rng(2);
    const imgs = Array.from({ length: 4 }, () => randomImage(rng0, 16, 16).data);
    const aug = new Augmenter({ input: [16, 16, 3], size: 12, flip: true, lighting: PCA, std: [64, 64, 64] });
    const a = new Rng(123, 7);
    const b1 = aug.batch(imgs, 4, a);
    const saved = a.state();
    const b2 = aug.batch(imgs, 4, a);
    expect(aug.batch(imgs, 4, new Rng(123, 7))).toEqual(b1);
    expect(aug.batch(imgs, 4, Rng.fromState(saved))).toEqual(b2);
    expect(b2).not.toEqual(b1);
    expect(a.counter).toBe(2 * 4 * WORDS_PER_SAMPLE);
  });

  it('checks its options and inputs', () => {
    expect(() => new Augmenter({ input: [8, 8, 3], size: 9 })).toThrow(/does not fit/);
    expect(() => new Augmenter({ input: [8, 8, 3], mean: [1, 2] })).toThrow(/mean must have 3 values/);
    expect(() => new Augmenter({ input: [8, 8, 3], std: [1, 0, 1] })).toThrow(/std must be positive/);
    expect(() => new Augmenter({ input: [8, 8, 3], lighting: { eigvals: [1], eigvecs: [[1]] } })).toThrow(/3 eigenvalues/);
    const aug = new Augmenter({ input: [8, 8, 3], size: 4 });
    expect(() => aug.apply([new Uint8Array(10)], aug.center(1))).toThrow(/expected 8×8×3 = 192 bytes, got 10/);
    const p = aug.center(1);
    p.top[0] = 7;
    expect(() => aug.apply([new Uint8Array(192)], p)).toThrow(/outside the padded/);
  });
});
