// --preprocess torchvision against torchvision 0.14 + Pillow on real photos (test/pytorch/make_torchvision_fixture.py):
// the same resized size and crop window exactly, pixels within 2 levels (JPEG decoders differ by a level or two),
// and the normalised tensor within 2/255/std.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeOriented, pilResizeBilinear, torchvisionResizeSize, torchvisionTransform } from '../src/preprocess.js';

const fixtures = new URL('../../../test/fixtures/', import.meta.url).pathname;
interface Photo { original: [number, number]; resized: [number, number]; window: { left: number; top: number; width: number; height: number }; channelSums: number[]; samples: [number, number][]; logits: number[] }
const fx: { photos: Record<string, Photo>; std: number[] } = JSON.parse(readFileSync(join(fixtures, 'torchvision', 'torchvision.json'), 'utf8'));

describe('torchvision preprocessing vs PyTorch on photos', () => {
  for (const [name, want] of Object.entries(fx.photos))
    it(name, async () => {
      const img = await decodeOriented(join(fixtures, 'photos', name), 3);
      expect([img.width, img.height], 'EXIF-oriented size').toEqual(want.original);
      const r = torchvisionTransform(img);
      expect(r.resized).toEqual(want.resized);
      expect(r.window).toEqual(want.window);
      const pil = await sharp(join(fixtures, 'torchvision', name.replace(/\.[a-z]+$/, '.crop.png'))).removeAlpha().raw().toBuffer();
      let maxDiff = 0, sumDiff = 0;
      for (let i = 0; i < pil.length; i++) {
        const d = Math.abs(pil[i] - r.crop.data[i]);
        maxDiff = Math.max(maxDiff, d);
        sumDiff += d;
      }
      expect(maxDiff, `${name}: largest pixel difference (mean ${(sumDiff / pil.length).toFixed(4)})`).toBeLessThanOrEqual(2);
      for (const [i, v] of want.samples) expect(Math.abs(r.x[i] - v), `x[${i}]`).toBeLessThanOrEqual(2 / 255 / 0.224 + 1e-6);
      for (let ch = 0; ch < 3; ch++) {
        let s = 0;
        for (let i = 0; i < 224 * 224; i++) s += r.x[ch * 224 * 224 + i];
        expect(Math.abs(s - want.channelSums[ch]) / (224 * 224), `channel ${ch} mean`).toBeLessThan(0.5 / 255 / fx.std[ch]);
      }
    });

  it('Resize truncates the longer side; a same-size resize is the identity', () => {
    expect(torchvisionResizeSize(535, 426)).toEqual([321, 256]);
    expect(torchvisionResizeSize(500, 333)).toEqual([384, 256]);
    expect(torchvisionResizeSize(333, 500)).toEqual([256, 384]);
    const img = { data: Uint8Array.from({ length: 12 }, (_, i) => i * 20), width: 2, height: 2, channels: 3 };
    expect(pilResizeBilinear(img, 2, 2).data).toEqual(img.data);
  });
});
