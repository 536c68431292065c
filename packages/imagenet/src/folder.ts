/**
 * Image trees on disk: any folder-per-class tree (ImageFolder) and ILSVRC-2012 as downloaded (train/<wnid>/,
 * val either in class folders or flat with a label file), plus the label/name files that come with it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { DataError } from './errors.js';
import { ILSVRC2012_DEVKIT_WNIDS, ILSVRC2012_NAMES, ILSVRC2012_WNIDS, isIlsvrc2012Wnid, wnidToIndex } from './ilsvrc2012.js';
import type { FileList, Sample } from './types.js';

export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif', '.tiff', '.webp', '.gif', '.avif', '.heic'];

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataError(code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'is not a directory' : `cannot list (${code})`, dir);
  }
}

function isDir(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

function imageFiles(dir: string, exts: Set<string>): string[] {
  return listDir(dir).filter((f) => !f.startsWith('.') && exts.has(extname(f).toLowerCase()) && !isDir(join(dir, f)));
}

export interface FolderOptions {
  /** File extensions counted as images (lower case, with the dot). */
  extensions?: string[];
  /** Class ids in label order; default: the sorted subfolder names. Folders not listed are an error. */
  classes?: string[];
}

/** folder/<class>/<image>: classes are the sorted subfolder names (label = index), files sorted by name. */
export function scanImageFolder(root: string, opts: FolderOptions = {}): FileList {
  const exts = new Set((opts.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase()));
  const dirs = listDir(root).filter((d) => !d.startsWith('.') && isDir(join(root, d)));
  if (dirs.length === 0) throw new DataError('no class folders (expected <root>/<class>/<image files>)', root);
  const classes = opts.classes ?? dirs;
  const index = new Map(classes.map((c, i) => [c, i]));
  const samples: Sample[] = [];
  for (const d of dirs) {
    const label = index.get(d);
    if (label === undefined) throw new DataError(`folder '${d}' is not one of the ${classes.length} given classes`, root);
    for (const f of imageFiles(join(root, d), exts)) samples.push({ path: join(root, d, f), label });
  }
  samples.sort((a, b) => a.label - b.label || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { classes, samples, root };
}

const WNID = /^n\d{8}$/;

export interface SynsetEntry {
  wnid: string;
  name: string;
}

/** LOC_synset_mapping.txt / synset_words.txt: lines "n01440764 tench, Tinca tinca". */
export function parseSynsetMapping(text: string, path?: string): SynsetEntry[] {
  const out: SynsetEntry[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const sp = line.search(/\s/);
    const wnid = sp < 0 ? line : line.slice(0, sp);
    if (!WNID.test(wnid)) throw new DataError(`line ${i + 1}: expected a WordNet id like n01440764 then the class name, got '${line.slice(0, 60)}'`, path);
    if (seen.has(wnid)) throw new DataError(`line ${i + 1}: ${wnid} is listed twice`, path);
    seen.add(wnid);
    out.push({ wnid, name: sp < 0 ? wnid : line.slice(sp).trim() });
  }
  if (out.length === 0) throw new DataError('no synsets in the file', path);
  return out;
}

/** LOC_val_solution.csv: "ImageId,PredictionString" rows whose first token is the wnid. Returns ImageId → wnid. */
export function parseLocValSolution(text: string, path?: string): Map<string, string> {
  const lines = text.split(/\r?\n/);
  const out = new Map<string, string>();
  let start = 0;
  if (lines[0]?.trim().toLowerCase().startsWith('imageid')) start = 1;
  for (let i = start; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const comma = line.indexOf(',');
    if (comma <= 0) throw new DataError(`line ${i + 1}: expected 'ImageId,wnid x y x y ...', got '${line.slice(0, 60)}'`, path);
    const id = line.slice(0, comma).trim();
    const wnid = line.slice(comma + 1).trim().split(/\s+/)[0];
    if (!WNID.test(wnid)) throw new DataError(`line ${i + 1}: '${wnid}' is not a WordNet id`, path);
    if (out.has(id)) throw new DataError(`line ${i + 1}: image ${id} is listed twice`, path);
    out.set(id, wnid);
  }
  if (out.size === 0) throw new DataError('no labelled images in the file', path);
  return out;
}

/** ILSVRC2012_validation_ground_truth.txt: line i holds the devkit ILSVRC2012_ID (1-based) of image i. */
export function parseValGroundTruth(text: string, numClasses = 1000, path?: string): Int32Array {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw new DataError('no labels in the file', path);
  const ids = new Int32Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    if (!/^\d+$/.test(lines[i])) throw new DataError(`line ${i + 1}: expected a class id 1..${numClasses}, got '${lines[i].slice(0, 40)}'`, path);
    const v = Number(lines[i]);
    if (v < 1 || v > numClasses) throw new DataError(`line ${i + 1}: class id ${v} is outside 1..${numClasses}`, path);
    ids[i] = v;
  }
  return ids;
}

/**
 * The devkit's ILSVRC2012_ID → wnid table (what meta.mat holds), as text: either one wnid per line in ID
 * order (line 1 = ID 1), or "ID wnid" pairs in any order.
 */
export function parseDevkitMapping(text: string, path?: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.length === 0) throw new DataError('empty devkit id mapping', path);
  const pairs = lines.map((l) => l.split(/[\s,]+/));
  const out: string[] = [];
  if (pairs.every((p) => p.length === 1)) {
    lines.forEach((w, i) => {
      if (!WNID.test(w)) throw new DataError(`line ${i + 1}: '${w.slice(0, 40)}' is not a WordNet id`, path);
      out.push(w);
    });
  } else {
    for (let i = 0; i < pairs.length; i++) {
      const [a, b] = pairs[i];
      const id = Number(a);
      if (!Number.isInteger(id) || id < 1 || id > lines.length || !WNID.test(b ?? ''))
        throw new DataError(`line ${i + 1}: expected 'ILSVRC2012_ID wnid' with an id in 1..${lines.length}, got '${lines[i].slice(0, 60)}'`, path);
      if (out[id - 1]) throw new DataError(`line ${i + 1}: id ${id} is listed twice`, path);
      out[id - 1] = b;
    }
  }
  if (new Set(out).size !== out.length) throw new DataError('a wnid is listed twice', path);
  return out;
}

export interface IlsvrcOptions extends FolderOptions {
  /** Where the ILSVRC2012_ID → wnid table for ILSVRC2012_validation_ground_truth.txt comes from. Default
   *  (or 'ilsvrc2012'): the official devkit's table (meta.mat's order), shipped in this package. Otherwise a file
   *  (see parseDevkitMapping), the wnids in ID order, or 'sorted' to assume ID k = the k-th wnid in sorted
   *  order: the official IDs are NOT in sorted order, so 'sorted' is only right for files renumbered that way. */
  devkitMapping?: string | string[] | 'sorted' | 'ilsvrc2012';
  /** Explicit label files (otherwise looked up in the dataset root and its devkit folder). */
  valSolutionCsv?: string;
  valGroundTruth?: string;
  synsetMapping?: string;
}

/** The directory holding train/ and val/: the root itself or the Kaggle layout's ILSVRC/Data/CLS-LOC. */
export function ilsvrcDataDir(root: string): string {
  for (const d of [root, join(root, 'ILSVRC', 'Data', 'CLS-LOC'), join(root, 'Data', 'CLS-LOC')])
    if (isDir(join(d, 'train')) || isDir(join(d, 'val'))) return d;
  throw new DataError('no train/ or val/ folder (nor ILSVRC/Data/CLS-LOC/{train,val})', root);
}

function firstExisting(paths: string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}

/** Class names from LOC_synset_mapping.txt or synset_words.txt in (or given for) the root, if any. */
export function findSynsetMapping(root: string, explicit?: string): SynsetEntry[] | undefined {
  const p = explicit ?? firstExisting([
    join(root, 'LOC_synset_mapping.txt'), join(root, 'synset_words.txt'),
    join(root, '..', 'LOC_synset_mapping.txt'), join(root, 'ILSVRC2012_devkit_t12', 'data', 'synset_words.txt'),
  ]);
  if (!p) return undefined;
  return parseSynsetMapping(readFileSync(p, 'utf8'), p);
}

/**
 * ILSVRC-2012 as downloaded. Train: train/<wnid>/*.JPEG. Val: val/<wnid>/ folders, or flat val/*.JPEG labelled
 * by LOC_val_solution.csv or by the devkit's ILSVRC2012_validation_ground_truth.txt (line i ↔
 * ILSVRC2012_val_0000000i.JPEG) through the devkit id → wnid table (built in; see devkitMapping). Labels index
 * the sorted wnids (the usual Caffe/PyTorch class order). Class names come from LOC_synset_mapping.txt /
 * synset_words.txt when found, else from the built-in ILSVRC-2012 list (ILSVRC2012_NAMES: the same text).
 * A flat val/ scanned without a train/ folder or a synset file gets the 1000 ILSVRC-2012 classes when its
 * labels are ILSVRC-2012 wnids, so its labels are the standard class indices.
 */
export function scanIlsvrc(root: string, split: 'train' | 'val', opts: IlsvrcOptions = {}): FileList {
  const data = ilsvrcDataDir(root);
  const synsets = findSynsetMapping(root, opts.synsetMapping);
  const trainDir = join(data, 'train');
  let classes = opts.classes;
  if (!classes && synsets) classes = synsets.map((s) => s.wnid).sort();
  if (!classes && isDir(trainDir)) classes = listDir(trainDir).filter((d) => WNID.test(d) && isDir(join(trainDir, d)));
  const builtin = (c: string) => (isIlsvrc2012Wnid(c) ? ILSVRC2012_NAMES[wnidToIndex(c)] : undefined);
  const names = (cls: string[]) => {
    if (!synsets) return cls.some(isIlsvrc2012Wnid) ? cls.map((c) => builtin(c) ?? c) : undefined;
    const m = new Map(synsets.map((s) => [s.wnid, s.name]));
    return cls.map((c) => m.get(c) ?? builtin(c) ?? c);
  };
  const dir = join(data, split);
  if (!isDir(dir)) throw new DataError(`no ${split}/ folder`, data);
  const subdirs = listDir(dir).filter((d) => WNID.test(d) && isDir(join(dir, d)));
  if (split === 'train' || subdirs.length > 0) {
    const list = scanImageFolder(dir, { ...opts, classes: classes ?? subdirs });
    return { ...list, classNames: names(list.classes), root };
  }
  // Flat val folder: labels from a file.
  const exts = new Set((opts.extensions ?? IMAGE_EXTENSIONS).map((e) => e.toLowerCase()));
  const files = imageFiles(dir, exts);
  if (files.length === 0) throw new DataError('no images in the flat val folder', dir);
  const csv = opts.valSolutionCsv ?? firstExisting([join(root, 'LOC_val_solution.csv'), join(data, 'LOC_val_solution.csv')]);
  const gt = opts.valGroundTruth ?? firstExisting([
    join(root, 'ILSVRC2012_validation_ground_truth.txt'),
    join(root, 'ILSVRC2012_devkit_t12', 'data', 'ILSVRC2012_validation_ground_truth.txt'),
  ]);
  const wnidOf = new Map<string, string>();
  if (csv) {
    for (const [id, w] of parseLocValSolution(readFileSync(csv, 'utf8'), csv)) wnidOf.set(id, w);
  } else if (gt) {
    const m = opts.devkitMapping ?? 'ilsvrc2012';
    const table = m === 'ilsvrc2012' ? ILSVRC2012_DEVKIT_WNIDS
      : m === 'sorted' ? (classes ?? []).slice().sort() : Array.isArray(m) ? m : parseDevkitMapping(readFileSync(m, 'utf8'), m);
    if (table.length === 0) throw new DataError('devkitMapping "sorted" needs the class list (a train/ folder or a synset mapping file)', gt);
    const ids = parseValGroundTruth(readFileSync(gt, 'utf8'), table.length, gt);
    ids.forEach((id, i) => wnidOf.set(`ILSVRC2012_val_${String(i + 1).padStart(8, '0')}`, table[id - 1]));
  } else throw new DataError('flat val/ folder without LOC_val_solution.csv or ILSVRC2012_validation_ground_truth.txt (give valSolutionCsv or valGroundTruth)', dir);
  if (!classes) {
    const seen = [...new Set(wnidOf.values())];
    classes = seen.every(isIlsvrc2012Wnid) ? [...ILSVRC2012_WNIDS] : seen.sort();
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  const samples: Sample[] = [];
  for (const f of files) {
    const id = f.slice(0, f.length - extname(f).length);
    const w = wnidOf.get(id);
    if (w === undefined) throw new DataError(`no label for ${f} in ${csv ?? gt}`, dir);
    const label = index.get(w);
    if (label === undefined) throw new DataError(`${f} is labelled ${w}, which is not one of the ${classes.length} classes`, csv ?? gt);
    samples.push({ path: join(dir, f), label });
  }
  samples.sort((a, b) => a.label - b.label || (a.path < b.path ? -1 : 1));
  return { classes, classNames: names(classes), samples, root };
}
