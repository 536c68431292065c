import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DataError, devkitIdToIndex, ILSVRC2012_DEVKIT_WNIDS, ILSVRC2012_NAMES, ILSVRC2012_NUM_CLASSES, ILSVRC2012_SHORT_NAMES,
  ILSVRC2012_WNIDS, ilsvrc2012ClassNames, ilsvrc2012Name, ilsvrc2012Synsets, indexToWnid, isIlsvrc2012Wnid,
  parseSynsetMapping, wnidToIndex,
} from '@convnet/imagenet';

describe('the shipped ILSVRC-2012 class list', () => {
  it('1000 distinct wnids, strictly increasing (sorted order = class index), 1000 distinct short names', () => {
    expect(ILSVRC2012_NUM_CLASSES).toBe(1000);
    expect(ILSVRC2012_WNIDS.length).toBe(1000);
    expect(ILSVRC2012_NAMES.length).toBe(1000);
    expect(ILSVRC2012_SHORT_NAMES.length).toBe(1000);
    for (let i = 0; i < 1000; i++) {
      expect(ILSVRC2012_WNIDS[i]).toMatch(/^n\d{8}$/);
      if (i > 0) expect(ILSVRC2012_WNIDS[i] > ILSVRC2012_WNIDS[i - 1]).toBe(true);
      expect(ILSVRC2012_NAMES[i].length).toBeGreaterThan(1);
      // the short name is one of the WordNet names (torchvision's two renamed duplicates excepted)
      if (ILSVRC2012_SHORT_NAMES[i] !== 'crane bird' && ILSVRC2012_SHORT_NAMES[i] !== 'maillot tank suit')
        expect(ILSVRC2012_NAMES[i].toLowerCase().split(', ')).toContain(ILSVRC2012_SHORT_NAMES[i].toLowerCase());
    }
    expect(new Set(ILSVRC2012_SHORT_NAMES).size).toBe(1000);
    expect(Object.isFrozen(ILSVRC2012_WNIDS)).toBe(true);
  });

  it('anchors: first, last and well-known classes', () => {
    const anchors: [number, string, string, string][] = [
      [0, 'n01440764', 'tench', 'tench, Tinca tinca'],
      [1, 'n01443537', 'goldfish', 'goldfish, Carassius auratus'],
      [2, 'n01484850', 'great white shark', 'great white shark, white shark, man-eater, man-eating shark, Carcharodon carcharias'],
      [134, 'n02012849', 'crane bird', 'crane'],
      [517, 'n03126707', 'crane', 'crane'],
      [999, 'n15075141', 'toilet tissue', 'toilet tissue, toilet paper, bathroom tissue'],
    ];
    for (const [i, w, short, full] of anchors) {
      expect(ILSVRC2012_WNIDS[i]).toBe(w);
      expect(wnidToIndex(w)).toBe(i);
      expect(indexToWnid(i)).toBe(w);
      expect(ilsvrc2012Name(i)).toBe(short);
      expect(ilsvrc2012Name(w, 'full')).toBe(full);
    }
  });

  it('the devkit ILSVRC2012_ID order is a permutation with the known anchors', () => {
    expect([...ILSVRC2012_DEVKIT_WNIDS].sort()).toEqual([...ILSVRC2012_WNIDS]);
    // meta.mat's ID 1 is kit fox; the first val images' ground-truth ids 490, 361, 171 are a sea snake, an
    // alp and a Shetland sheepdog.
    const known: [number, string, string][] = [[1, 'n02119789', 'kit fox'], [490, 'n01751748', 'sea snake'], [361, 'n09193705', 'alp'], [171, 'n02105855', 'Shetland sheepdog']];
    for (const [id, w, name] of known) {
      expect(ILSVRC2012_DEVKIT_WNIDS[id - 1]).toBe(w);
      expect(ILSVRC2012_WNIDS[devkitIdToIndex(id)]).toBe(w);
      expect(ilsvrc2012Name(w)).toBe(name);
    }
  });

  it('lookups reject what is not an ILSVRC-2012 class with a clear error', () => {
    expect(isIlsvrc2012Wnid('n01440764')).toBe(true);
    expect(isIlsvrc2012Wnid('n00000001')).toBe(false);
    expect(() => wnidToIndex('n00000001')).toThrow(DataError);
    expect(() => wnidToIndex('n00000001')).toThrow(/'n00000001' is not one of the 1000 ILSVRC-2012 wnids/);
    expect(() => indexToWnid(1000)).toThrow(/0..999, got 1000/);
    expect(() => ilsvrc2012Name(-1)).toThrow(/0..999/);
    expect(() => devkitIdToIndex(0)).toThrow(/1..1000, got 0/);
    expect(ilsvrc2012ClassNames(['n01443537', 'cats'])).toEqual(['goldfish, Carassius auratus', 'cats']);
    expect(ilsvrc2012ClassNames(['n01443537'], 'short')).toEqual(['goldfish']);
    expect(ilsvrc2012ClassNames(['cats', 'dogs'])).toBeUndefined();
  });

  it('round-trips through the LOC_synset_mapping.txt format', () => {
    const text = ilsvrc2012Synsets().map((s) => `${s.wnid} ${s.name}`).join('\n');
    const parsed = parseSynsetMapping(text);
    expect(parsed.map((s) => s.wnid)).toEqual([...ILSVRC2012_WNIDS]);
    expect(parsed.map((s) => s.name)).toEqual([...ILSVRC2012_NAMES]);
  });

  const WORDNET = '/usr/share/wordnet/data.noun';
  it.skipIf(!existsSync(WORDNET))(`every wnid is a WordNet 3.0 noun synset whose lemmas are its name (${WORDNET}; skipped when Debian's wordnet-base is not installed)`, () => {
    const lemmas = new Map<string, string>();
    for (const line of readFileSync(WORDNET, 'latin1').split('\n')) {
      if (!line || line.startsWith(' ')) continue;
      const f = line.split(' ');
      const n = parseInt(f[3], 16);
      lemmas.set(`n${f[0]}`, Array.from({ length: n }, (_, i) => f[4 + 2 * i].replace(/_/g, ' ')).join(', '));
    }
    ILSVRC2012_WNIDS.forEach((w, i) => expect(lemmas.get(w), w).toBe(ILSVRC2012_NAMES[i]));
  });

  const TORCHVISION = '/usr/lib/python3/dist-packages/torchvision/models/_meta.py';
  it.skipIf(!existsSync(TORCHVISION))(`short names are torchvision's in class order (${TORCHVISION}; skipped when Debian's python3-torchvision is not installed)`, () => {
    const body = readFileSync(TORCHVISION, 'utf8').match(/_IMAGENET_CATEGORIES\s*=\s*\[([\s\S]*?)\]/)![1];
    const names = [...body.matchAll(/"([^"]*)"|'([^']*)'/g)].map((m) => m[1] ?? m[2]);
    expect(names).toEqual([...ILSVRC2012_SHORT_NAMES]);
  });
});
