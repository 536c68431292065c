/** `convnet pack SRC OUT`: an image tree → train/ and val/ packs (shards + index + statistics). */
import { existsSync, statSync } from 'node:fs';
import { makeDirectory } from './runfiles.js';
import { UsageError } from './errors.js';
import { ENV, type Command, type Parsed } from './flags.js';
import { packProgressPrinter, packTree, summarizePack } from './packsrc.js';

async function run(args: Parsed): Promise<number> {
  const v = args.values;
  const [src, out] = args.positionals;
  if (!existsSync(src)) throw new UsageError(`${src}: no such directory`);
  if (!statSync(src).isDirectory()) throw new UsageError(`${src}: is a file; SRC is a directory holding train/ and val/`);
  // OUT created one level at a time (Node 20's recursive mkdir spins on /proc/x); a file in the way is named
  makeDirectory(out, 'OUT');
  for (const f of ['synsets', 'val-solution', 'val-ground-truth'] as const)
    if (v[f] !== undefined && !existsSync(v[f] as string)) throw new UsageError(`--${f}: no such file ${v[f]}`);
  const dm = v['devkit-mapping'] as string | undefined;
  if (dm !== undefined && dm !== 'sorted' && !existsSync(dm)) throw new UsageError(`--devkit-mapping: no such file ${dm} (or 'sorted')`);
  const r = await packTree(src, out, {
    size: v.size as number | undefined, encoding: v.encoding as 'raw' | 'jpeg' | undefined, quality: v.quality as number | undefined,
    channels: v.grey ? 1 : 3, shardSize: v['shard-size'] as number | undefined, workers: v.workers as number | undefined,
    ilsvrc: { synsetMapping: v.synsets as string | undefined, valSolutionCsv: v['val-solution'] as string | undefined, valGroundTruth: v['val-ground-truth'] as string | undefined, devkitMapping: dm },
    onProgress: packProgressPrinter(),
  });
  console.log(summarizePack(r));
  console.log(`train with: convnet train --data ${out}`);
  return 0;
}

export const packCommand: Command = {
  name: 'pack',
  summary: 'pack an image tree (train/ and val/) into shards for training',
  usage: 'convnet pack SRC OUT [options]',
  description:
    'SRC holds train/ and val/: class folders (ImageFolder) or ILSVRC-2012 as downloaded (train/<wnid>/*.JPEG; val/ in\n' +
    'wnid folders or flat with LOC_val_solution.csv, or ILSVRC2012_validation_ground_truth.txt plus --devkit-mapping).\n' +
    'OUT gets OUT/train and OUT/val packs; train with: convnet train --data OUT',
  positionals: [2, 2],
  flags: [
    { name: 'size', type: 'integer', min: 8, max: 4096, default: 256, help: "shorter side resized to N, then the centre N×N kept (the paper's 256)" },
    { name: 'encoding', type: 'string', enum: ['raw', 'jpeg'], default: 'raw', help: 'raw: uint8 pixels, fastest to read; jpeg: re-encoded, about 10× smaller, decoded by the loader every epoch' },
    { name: 'quality', type: 'integer', min: 1, max: 100, default: 90, help: 'JPEG quality' },
    { name: 'grey', type: 'boolean', help: 'store 1 channel instead of RGB' },
    { name: 'shard-size', type: 'integer', min: 1, default: 1024, help: 'images per shard file' },
    { name: 'workers', type: 'integer', min: 0, max: 256, help: 'decoding threads (default: all cores)' },
    { name: 'synsets', type: 'string', value: 'FILE', group: 'ILSVRC-2012', help: 'LOC_synset_mapping.txt / synset_words.txt for class names' },
    { name: 'val-solution', type: 'string', value: 'FILE', group: 'ILSVRC-2012', help: 'LOC_val_solution.csv for a flat val/' },
    { name: 'val-ground-truth', type: 'string', value: 'FILE', group: 'ILSVRC-2012', help: 'ILSVRC2012_validation_ground_truth.txt for a flat val/' },
    { name: 'devkit-mapping', type: 'string', value: 'FILE|sorted', group: 'ILSVRC-2012', help: 'the wnids in ILSVRC2012_ID order (one per line), for --val-ground-truth' },
  ],
  env: [ENV.CONVNET_NUM_THREADS],
  notes: 'An interrupted pack continues where it stopped when run again with the same arguments.',
  run,
};
