// --preprocess torchvision decodes as `PIL.Image.open(f).convert('RGB')`, checked against Pillow itself (Debian's
// python3-pil, Pillow 9 as torchvision 0.14 used; the tests skip without it): no EXIF rotation, no colour-profile
// conversion, Pillow's CMYK formula, alpha dropped, grey replicated. The dataset preset keeps EXIF rotation and
// sRGB conversion.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOriented, decodePil } from '../src/preprocess.js';

const PY = '/usr/bin/python3';
const hasPil = spawnSync(PY, ['-c', 'import PIL'], { encoding: 'utf8' }).status === 0;
const fixtures = new URL('../../../test/fixtures/', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-pil-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Pillow's convert('RGB') of each file: [width, height, RGB bytes]. */
function pil(files: string[]): Map<string, { width: number; height: number; data: Uint8Array }> {
  const script = [
    'import sys', 'from PIL import Image',
    'for i, f in enumerate(sys.argv[2:]):',
    '    im = Image.open(f).convert("RGB")',
    '    open(f"{sys.argv[1]}/{i}.rgb", "wb").write(im.tobytes())',
    '    print(im.size[0], im.size[1], im.mode)',
  ].join('\n');
  const r = spawnSync(PY, ['-c', script, root, ...files], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  const sizes = r.stdout.trim().split('\n').map((l) => l.split(' ').map(Number));
  return new Map(files.map((f, i) => [f, { width: sizes[i][0], height: sizes[i][1], data: new Uint8Array(readFileSync(join(root, `${i}.rgb`))) }]));
}

/** A colourful 64×48 RGB test card (gradients and saturated patches). */
function card(): Buffer {
  const w = 64, h = 48, b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = 3 * (y * w + x);
      b[o] = (x * 4) & 255; b[o + 1] = (y * 5) & 255; b[o + 2] = (x < 32) === (y < 24) ? 230 : 20;
    }
  return b;
}
const raw = { raw: { width: 64, height: 48, channels: 3 as const } };

const files: Record<string, string> = {};
beforeAll(async () => {
  files.p3 = join(root, 'p3.jpg');
  await sharp(card(), raw).withIccProfile('p3').jpeg({ quality: 95 }).toFile(files.p3);
  files.cmyk = join(root, 'cmyk.jpg');
  await sharp(card(), raw).toColourspace('cmyk').jpeg({ quality: 95 }).toFile(files.cmyk);
  files.rgba = join(root, 'rgba.png');
  await sharp(card(), raw).ensureAlpha(0.3).png().toFile(files.rgba);
  files.grey = join(root, 'grey.png');
  await sharp(card(), raw).greyscale().png().toFile(files.grey);
  files.exif = join(fixtures, 'photos', 'exif-rotated.jpg');
  files.photo = join(fixtures, 'photos', 'fruits.jpg');
});

describe.skipIf(!hasPil)('decodePil vs Pillow (needs /usr/bin/python3 with PIL: Debian python3-pil)', () => {
  it("equals Image.open(f).convert('RGB') on a P3-profile JPEG, a CMYK JPEG, RGBA and grey PNGs, an EXIF-rotated photo", async () => {
    const want = pil(Object.values(files));
    for (const [name, f] of Object.entries(files)) {
      const got = await decodePil(f);
      const w = want.get(f)!;
      expect([got.width, got.height], name).toEqual([w.width, w.height]);
      let max = 0;
      for (let i = 0; i < w.data.length; i++) max = Math.max(max, Math.abs(got.data[i] - w.data[i]));
      // PNGs exactly; JPEGs within the level or two by which JPEG decoders' upsampling differs
      expect(max, name).toBeLessThanOrEqual(f.endsWith('.png') ? 0 : 2);
    }
  });
});

describe('the dataset preset keeps EXIF rotation and sRGB conversion', () => {
  it('exif-rotated.jpg is rotated by the dataset decode, stored as is by the torchvision one', async () => {
    const pilLike = await decodePil(files.exif);
    const oriented = await decodeOriented(files.exif, 3);
    expect([oriented.width, oriented.height]).toEqual([pilLike.height, pilLike.width]);
  });

  it('a P3-profile JPEG: the dataset decode converts to sRGB (values change), the torchvision one keeps the stored values', async () => {
    const stored = await decodePil(files.p3);
    const srgb = await decodeOriented(files.p3, 3);
    let max = 0;
    for (let i = 0; i < stored.data.length; i++) max = Math.max(max, Math.abs(stored.data[i] - srgb.data[i]));
    expect(max).toBeGreaterThan(8);
  });
});
