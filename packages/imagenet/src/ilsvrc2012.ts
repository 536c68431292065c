/**
 * The 1000 ILSVRC-2012 classes, shipped in the package (src/ilsvrc2012-data.ts, generated from Debian packages by
 * scripts/gen-synsets.mjs), so predictions print names with no extra file.
 *
 * Class index = position in the sorted wnid list (the order of Caffe, PyTorch/torchvision and of this package's
 * scanIlsvrc). Names come in two forms: the WordNet lemmas, exactly as synset_words.txt / LOC_synset_mapping.txt
 * print them ("tench, Tinca tinca"), and a short unique name (torchvision's: "tench"; the two names ImageNet uses
 * twice are "crane bird"/"crane" and "maillot"/"maillot tank suit").
 *
 * The devkit's ILSVRC2012_validation_ground_truth.txt numbers classes by ILSVRC2012_ID (the order of the devkit's
 * meta.mat), which is not the sorted order: devkitIdToIndex / ILSVRC2012_DEVKIT_WNIDS translate.
 */
import { DataError } from './errors.js';
import { DEVKIT_ID_TO_INDEX, ILSVRC2012_TABLE } from './ilsvrc2012-data.js';
import type { SynsetEntry } from './folder.js';

/** Number of ILSVRC-2012 classes. */
export const ILSVRC2012_NUM_CLASSES = 1000;
/** The 1000 wnids, sorted: ILSVRC2012_WNIDS[i] is class i. */
export const ILSVRC2012_WNIDS: readonly string[] = Object.freeze(ILSVRC2012_TABLE.map((r) => r[0]));
/** WordNet names per class, as synset_words.txt prints them ("tench, Tinca tinca"). */
export const ILSVRC2012_NAMES: readonly string[] = Object.freeze(ILSVRC2012_TABLE.map((r) => r[1]));
/** Short unique names per class (torchvision's: "tench"). */
export const ILSVRC2012_SHORT_NAMES: readonly string[] = Object.freeze(ILSVRC2012_TABLE.map((r) => r[2]));
/** The wnids in the devkit's ILSVRC2012_ID order: ILSVRC2012_DEVKIT_WNIDS[id - 1] is the wnid of devkit id `id`. */
export const ILSVRC2012_DEVKIT_WNIDS: readonly string[] = Object.freeze(DEVKIT_ID_TO_INDEX.map((i) => ILSVRC2012_WNIDS[i]));

const INDEX = new Map(ILSVRC2012_WNIDS.map((w, i) => [w, i]));

/** True when `wnid` is one of the 1000 ILSVRC-2012 classes. */
export function isIlsvrc2012Wnid(wnid: string): boolean {
  return INDEX.has(wnid);
}

/** Class index (0..999) of an ILSVRC-2012 wnid; a DataError names the wnid when it is not one of the 1000. */
export function wnidToIndex(wnid: string): number {
  const i = INDEX.get(wnid);
  if (i === undefined) throw new DataError(`'${String(wnid).slice(0, 40)}' is not one of the 1000 ILSVRC-2012 wnids`);
  return i;
}

/** The wnid of class index i (0..999). */
export function indexToWnid(i: number): string {
  checkIndex(i, 'class index');
  return ILSVRC2012_WNIDS[i];
}

/** Name of a class given by index (0..999) or wnid: 'short' ("tench", default) or 'full' ("tench, Tinca tinca"). */
export function ilsvrc2012Name(classOrWnid: number | string, style: 'short' | 'full' = 'short'): string {
  const i = typeof classOrWnid === 'string' ? wnidToIndex(classOrWnid) : (checkIndex(classOrWnid, 'class index'), classOrWnid);
  return style === 'full' ? ILSVRC2012_NAMES[i] : ILSVRC2012_SHORT_NAMES[i];
}

/** Class index of a devkit ILSVRC2012_ID (1..1000, as in ILSVRC2012_validation_ground_truth.txt). */
export function devkitIdToIndex(id: number): number {
  if (!Number.isInteger(id) || id < 1 || id > 1000) throw new DataError(`devkit ILSVRC2012_ID must be an integer in 1..1000, got ${id}`);
  return DEVKIT_ID_TO_INDEX[id - 1];
}

/** The 1000 classes as a synset mapping (what parseSynsetMapping returns for LOC_synset_mapping.txt), sorted. */
export function ilsvrc2012Synsets(): SynsetEntry[] {
  return ILSVRC2012_TABLE.map(([wnid, name]) => ({ wnid, name }));
}

/**
 * Names for a list of class ids when they are ILSVRC-2012 wnids: each known wnid gets its name, others keep their
 * id. Returns undefined when none of the ids is an ILSVRC-2012 wnid.
 */
export function ilsvrc2012ClassNames(classes: readonly string[], style: 'short' | 'full' = 'full'): string[] | undefined {
  if (!classes.some((c) => INDEX.has(c))) return undefined;
  const names = style === 'full' ? ILSVRC2012_NAMES : ILSVRC2012_SHORT_NAMES;
  return classes.map((c) => { const i = INDEX.get(c); return i === undefined ? c : names[i]; });
}

function checkIndex(i: number, what: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= 1000) throw new DataError(`${what} must be an integer in 0..999, got ${i}`);
}
