/** Builds small ILSVRC-layout trees of real image files with sharp (shared by the tests and the bench). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ILSVRC2012_DEVKIT_WNIDS } from '@convnet/imagenet';

export const WNIDS = ['n01440764', 'n01443537', 'n01484850'];
export const NAMES = ['tench, Tinca tinca', 'goldfish, Carassius auratus', 'great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias'];

/** A smooth colour image with some structure (gradients + a square), w × h RGB. */
export function pattern(w: number, h: number, seed: number): Buffer {
  const b = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const inSq = Math.abs(x - w / 2) < w / 6 && Math.abs(y - h / 2) < h / 6;
      b[o] = (seed * 50 + (x * 255) / w) & 255;
      b[o + 1] = inSq ? 255 - seed * 30 : (y * 255) / h;
      b[o + 2] = ((seed * 80 + x + y) * 3) & 255;
    }
  return b;
}

export async function jpeg(w: number, h: number, seed: number): Promise<Buffer> {
  return sharp(pattern(w, h, seed), { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
}

export interface Tree {
  root: string;
  /** Train files that decode, with their labels. */
  good: { path: string; label: number }[];
  bad: string[];
}

/**
 * root/train/<wnid>/*.JPEG for 3 classes (real ILSVRC-2012 wnids: classes 0, 1, 2): colour JPEGs of several sizes
 * and aspect ratios, one greyscale, one CMYK, one PNG (with alpha) named .JPEG, one truncated, one empty.
 * root/val flat, labelled twice: LOC_val_solution.csv (Kaggle) and the devkit's
 * ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt (official ILSVRC2012_IDs); LOC_synset_mapping.txt.
 */
export async function makeTree(root: string, perClass = 4): Promise<Tree> {
  const good: Tree['good'] = [];
  const bad: string[] = [];
  const sizes = [[300, 200], [180, 260], [256, 256], [400, 300], [90, 70]];
  for (let c = 0; c < WNIDS.length; c++) {
    const dir = join(root, 'train', WNIDS[c]);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const [w, h] = sizes[(c + i) % sizes.length];
      const p = join(dir, `${WNIDS[c]}_${i + 1}.JPEG`);
      writeFileSync(p, await jpeg(w, h, c * 10 + i));
      good.push({ path: p, label: c });
    }
  }
  const d0 = join(root, 'train', WNIDS[0]), d1 = join(root, 'train', WNIDS[1]), d2 = join(root, 'train', WNIDS[2]);
  const special: [string, Buffer, number][] = [
    [join(d0, 'grey.JPEG'), await sharp(pattern(220, 150, 3), { raw: { width: 220, height: 150, channels: 3 } }).greyscale().jpeg().toBuffer(), 0],
    [join(d1, 'cmyk.JPEG'), await sharp(pattern(160, 240, 4), { raw: { width: 160, height: 240, channels: 3 } }).toColourspace('cmyk').jpeg().toBuffer(), 1],
    [join(d2, 'png.JPEG'), await sharp({ create: { width: 200, height: 180, channels: 4, background: { r: 10, g: 200, b: 30, alpha: 0.5 } } }).png().toBuffer(), 2],
  ];
  for (const [p, b, label] of special) {
    writeFileSync(p, b);
    good.push({ path: p, label });
  }
  const full = await jpeg(300, 300, 9);
  const trunc = join(d1, 'truncated.JPEG');
  writeFileSync(trunc, full.subarray(0, Math.floor(full.length / 2)));
  const empty = join(d2, 'empty.JPEG');
  writeFileSync(empty, Buffer.alloc(0));
  bad.push(trunc, empty);
  good.sort((a, b) => a.label - b.label || (a.path < b.path ? -1 : 1));

  writeFileSync(join(root, 'LOC_synset_mapping.txt'), WNIDS.map((w, i) => `${w} ${NAMES[i]}\n`).join(''));
  // Flat val: 6 images, labels 2,0,1,2,1,0.
  const valLabels = [2, 0, 1, 2, 1, 0];
  mkdirSync(join(root, 'val'), { recursive: true });
  const csv: string[] = [];
  for (let i = 0; i < valLabels.length; i++) {
    const id = `ILSVRC2012_val_${String(i + 1).padStart(8, '0')}`;
    writeFileSync(join(root, 'val', `${id}.JPEG`), await jpeg(240, 200, 20 + i));
    csv.push(`${id},${WNIDS[valLabels[i]]} 1 2 100 120 ${WNIDS[valLabels[i]]} 5 5 50 50`);
  }
  writeFileSync(join(root, 'LOC_val_solution.csv'), ['ImageId,PredictionString', ...csv.reverse()].join('\n') + '\n');
  mkdirSync(join(root, 'ILSVRC2012_devkit_t12', 'data'), { recursive: true });
  writeFileSync(join(root, 'ILSVRC2012_devkit_t12', 'data', 'ILSVRC2012_validation_ground_truth.txt'),
    valLabels.map((l) => devkitId(WNIDS[l])).join('\n') + '\n');
  return { root, good, bad };
}

export const VAL_LABELS = [2, 0, 1, 2, 1, 0];

/** The official devkit's ILSVRC2012_ID of a wnid (1-based). */
export function devkitId(wnid: string): number {
  return ILSVRC2012_DEVKIT_WNIDS.indexOf(wnid) + 1;
}
