#!/usr/bin/env node
// Generates src/ilsvrc2012-data.ts: the 1000 ILSVRC-2012 classes (wnid, WordNet names, short name) in the
// standard order (sorted wnids = class indices 0..999) and the devkit's ILSVRC2012_ID order, from files that
// Debian packages install. Nothing is downloaded from anywhere but Debian's archive:
//
//   apt-get install wordnet-base python3-torchvision
//   cd /tmp && apt-get download darknet opencv-doc && dpkg -x darknet_*.deb deb && dpkg -x opencv-doc_*.deb deb
//   node scripts/gen-synsets.mjs --root /tmp/deb        # (opencv-doc is optional: one more cross-check)
//
// Sources and what each contributes:
//   wordnet-base        /usr/share/wordnet/data.noun: WordNet 3.0 nouns. A wnid is 'n' + the synset's 8-digit byte
//                       offset in this file; the class names are the synset's lemmas (what synset_words.txt holds).
//   darknet             usr/share/darknet/data/imagenet.labels.list: its first 1000 lines are the ILSVRC-2012 wnids
//                       in the devkit's ILSVRC2012_ID order (meta.mat), the order of the devkit's
//                       ILSVRC2012_validation_ground_truth.txt. Sorted, they are the class list.
//   python3-torchvision torchvision/models/_meta.py _IMAGENET_CATEGORIES: 1000 short names in class-index order.
//   opencv-doc          usr/share/doc/opencv-doc/examples/data/dnn/classification_classes_ILSVRC2012.txt: the 1000
//                       full names in class-index order (optional).
//
// Checks (the script fails on any): 1000 distinct wnids, each a WordNet noun synset; anchors (0 n01440764 tench,
// 1 n01443537 goldfish, 999 n15075141 toilet tissue); every short name is a lemma of its synset (two renamed
// duplicates excepted, below); every full name equals the synset's lemma list; and an independent derivation
// of the wnids from the names alone (each name's candidate synsets, narrowed by the rule that wnids increase
// with the class index) agrees with darknet wherever it determines the synset, and includes darknet's synset
// where WordNet has several senses with the same lemmas (it prints how many).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, d) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : d; };
const root = arg('root', '/tmp/deb');
const paths = {
  wordnet: arg('wordnet', '/usr/share/wordnet/data.noun'),
  torchvision: arg('torchvision', '/usr/lib/python3/dist-packages/torchvision/models/_meta.py'),
  darknet: arg('darknet', join(root, 'usr/share/darknet/data/imagenet.labels.list')),
  opencv: arg('opencv', join(root, 'usr/share/doc/opencv-doc/examples/data/dnn/classification_classes_ILSVRC2012.txt')),
};
const out = arg('out', join(here, '..', 'src', 'ilsvrc2012-data.ts'));
const fail = (m) => { console.error(`gen-synsets: ${m}`); process.exit(1); };
for (const k of ['wordnet', 'torchvision', 'darknet']) if (!existsSync(paths[k])) fail(`missing ${k} source ${paths[k]} (see the comment at the top)`);
const read = (p) => readFileSync(p);
const sha = (b) => createHash('sha256').update(b).digest('hex').slice(0, 16);

// --- WordNet 3.0 nouns: offset → lemmas; lemma (lower case) → offsets.
const nounBytes = read(paths.wordnet);
const lemmasOf = new Map();
const byLemma = new Map();
for (const line of nounBytes.toString('latin1').split('\n')) {
  if (!line || line.startsWith(' ')) continue; // licence header lines start with two spaces
  const f = line.split(' ');
  const off = Number(f[0]);
  const n = parseInt(f[3], 16);
  const ws = Array.from({ length: n }, (_, i) => f[4 + 2 * i].replace(/_/g, ' '));
  lemmasOf.set(off, ws);
  for (const w of ws) {
    const k = w.toLowerCase();
    if (!byLemma.has(k)) byLemma.set(k, []);
    byLemma.get(k).push(off);
  }
}
const wnid = (off) => `n${String(off).padStart(8, '0')}`;
const offsetOf = (w) => Number(w.slice(1));

// --- darknet: the first 1000 wnids in devkit ILSVRC2012_ID order.
const darknetBytes = read(paths.darknet);
const devkit = darknetBytes.toString('utf8').split('\n').slice(0, 1000).map((s) => s.trim());
if (devkit.length !== 1000 || !devkit.every((w) => /^n\d{8}$/.test(w))) fail('darknet list: the first 1000 lines are not wnids');
const wnids = [...devkit].sort();
if (new Set(wnids).size !== 1000) fail('darknet list: the first 1000 wnids are not distinct');
for (const w of wnids) if (!lemmasOf.has(offsetOf(w))) fail(`${w} is not a WordNet 3.0 noun synset`);

// --- torchvision's short names, in class order.
const metaBytes = read(paths.torchvision);
const body = metaBytes.toString('utf8').match(/_IMAGENET_CATEGORIES\s*=\s*\[([\s\S]*?)\]/);
if (!body) fail(`no _IMAGENET_CATEGORIES in ${paths.torchvision}`);
const short = [...body[1].matchAll(/"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/g)].map((m) => JSON.parse(`"${(m[1] ?? m[2]).replace(/\\'/g, "'")}"`));
if (short.length !== 1000 || new Set(short).size !== 1000) fail(`torchvision: expected 1000 distinct names, got ${short.length}`);
// torchvision renamed the two names that occur twice in ImageNet: the lemmas each stands for.
const RENAMED = { 'crane bird': ['crane'], 'maillot tank suit': ['maillot', 'tank suit'] };

const names = wnids.map((w) => lemmasOf.get(offsetOf(w)).join(', '));

// --- Anchors.
const anchors = [[0, 'n01440764', 'tench'], [1, 'n01443537', 'goldfish'], [999, 'n15075141', 'toilet tissue']];
for (const [i, w, s] of anchors) if (wnids[i] !== w || short[i] !== s) fail(`anchor ${i}: expected ${w} ${s}, got ${wnids[i]} ${short[i]}`);

// --- Short names are lemmas of their synsets.
wnids.forEach((w, i) => {
  const lem = lemmasOf.get(offsetOf(w)).map((x) => x.toLowerCase());
  for (const part of RENAMED[short[i]] ?? [short[i]])
    if (!lem.includes(part.toLowerCase())) fail(`class ${i} ${w}: torchvision's '${short[i]}' is not one of its lemmas (${lem.join(', ')})`);
});

// --- Full names (opencv-doc), when present, equal the lemma lists.
let opencvNote = 'not available';
if (existsSync(paths.opencv)) {
  const full = read(paths.opencv).toString('utf8').split('\n').filter((l) => l.trim());
  if (full.length !== 1000) fail(`opencv list: ${full.length} lines`);
  full.forEach((l, i) => { if (l.trim() !== names[i]) fail(`class ${i} ${wnids[i]}: opencv's '${l}' differs from WordNet's '${names[i]}'`); });
  opencvNote = `all 1000 equal WordNet's lemma lists (sha256 ${sha(read(paths.opencv))})`;
}

// --- Independent derivation from the short names alone, narrowed by increasing wnids.
const cands = short.map((s) => {
  let set = null;
  for (const p of RENAMED[s] ?? [s]) {
    const c = new Set(byLemma.get(p.toLowerCase()) ?? []);
    set = set ? new Set([...set].filter((x) => c.has(x))) : c;
  }
  return [...set].sort((a, b) => a - b);
});
const lo = [], hi = [];
for (let i = 0; i < 1000; i++) {
  lo[i] = cands[i].find((c) => c > (i ? lo[i - 1] : -1));
  if (lo[i] === undefined) fail(`derivation: no increasing chain reaches class ${i} (${short[i]})`);
}
for (let i = 999; i >= 0; i--) hi[i] = [...cands[i]].reverse().find((c) => c < (i < 999 ? hi[i + 1] : Infinity));
let determined = 0, open = 0;
for (let i = 0; i < 1000; i++) {
  const f = cands[i].filter((c) => (i === 0 || c > lo[i - 1]) && (i === 999 || c < hi[i + 1]));
  if (!f.includes(offsetOf(wnids[i]))) fail(`derivation: class ${i} '${short[i]}' cannot be ${wnids[i]} (candidates ${f.map(wnid).join(' ')})`);
  if (f.length === 1) determined++; else open++;
}

// --- Write.
const q = (s) => JSON.stringify(s);
const index = new Map(wnids.map((w, i) => [w, i]));
const devkitToIndex = devkit.map((w) => index.get(w));
const wnLicense = nounBytes.toString('latin1').split('\n').filter((l) => l.startsWith('  ')).map((l) => l.replace(/^\s+\d+\s?/, '').trimEnd());
const text = `// Generated by scripts/gen-synsets.mjs: do not edit. The 1000 ILSVRC-2012 classes.
// Sources (Debian packages): wordnet-base data.noun (sha256 ${sha(nounBytes)}), darknet imagenet.labels.list
// (sha256 ${sha(darknetBytes)}), python3-torchvision models/_meta.py (sha256 ${sha(metaBytes)}).
// Checks passed: 1000 distinct WordNet 3.0 noun synsets; anchors; every short name is a lemma of its synset;
// opencv-doc's full names: ${opencvNote};
// the wnids derived from the short names alone (candidate synsets narrowed by increasing offsets) agree:
// ${determined} classes determined that way, ${open} left between senses of the same name, all consistent.
//
// The names are WordNet 3.0 lemmas, under WordNet's licence:
${wnLicense.filter(Boolean).slice(0, 30).map((l) => `//   ${l}`).join('\n')}

/** [wnid, WordNet names (as in synset_words.txt), short unique name (torchvision's)], index = class index. */
export const ILSVRC2012_TABLE: readonly (readonly [string, string, string])[] = [
${wnids.map((w, i) => `  [${q(w)}, ${q(names[i])}, ${q(short[i])}],`).join('\n')}
];

/** The devkit's ILSVRC2012_ID order (meta.mat): class index of ILSVRC2012_ID k is DEVKIT_ID_TO_INDEX[k - 1]. */
export const DEVKIT_ID_TO_INDEX: readonly number[] = [
${Array.from({ length: 50 }, (_, r) => '  ' + devkitToIndex.slice(r * 20, r * 20 + 20).join(', ') + ',').join('\n')}
];
`;
const tmp = `${out}.${process.pid}.tmp`;
writeFileSync(tmp, text);
renameSync(tmp, out);
console.log(`wrote ${out}: 1000 classes; derivation from the short names: ${determined} determined + ${open} between senses of the same name, all consistent with darknet; opencv-doc: ${opencvNote}`);
