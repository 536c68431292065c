#!/usr/bin/env node
/**
 * `convnet`: pack / train / eval / predict / summary. Every user error is one line naming the flag, file
 * or value and the fix; a stack trace means a bug.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { formatSummary, modelSpec, MODELS } from '@convnet/alexnet';
import { BASE_CONFIG, FLAGS, PAPER_RECIPE, UsageError, parseFlagValue, readConfigFile, validateConfig, type TrainConfig } from './config.js';
import { evalCommand, predictCommand } from './inference.js';
import { train } from './train.js';
import { isImageTree, isPackedDataset, packProgressPrinter, packTree, summarizePack } from './packsrc.js';

const USAGE = `usage: convnet <command> [options]

commands:
  pack SRC OUT [--size 256] [--encoding raw|jpeg]  pack an image tree (train/ and val/) into shards for training
  train [--data D] [--model M] [--run DIR] ...   train (default: a small convnet on Fashion-MNIST)
  train --resume DIR                             continue a run exactly where it stopped
  eval --run DIR [--views 1|10] [--checkpoint best|last|FILE]   top-1/top-5 error on the test split
  predict --run DIR IMAGE...                     top-5 classes with probabilities
  summary --model <name>     per-layer output shapes, parameters and FLOPs (${Object.keys(MODELS).join(', ')})

run 'convnet <command> --help' for a command's options`;

function summary(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: { model: { type: 'string', default: 'paper' }, 'input-size': { type: 'string' }, classes: { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) {
    console.log('usage: convnet summary [--model paper|torchvision|small|cifar-18pct|cifar-80sec] [--input-size 224|227] [--classes N]');
    return;
  }
  if (!(values.model! in MODELS)) throw new UsageError(`--model: unknown model '${values.model}' (known: ${Object.keys(MODELS).join(', ')})`);
  const inputSize = values['input-size'] === undefined ? undefined : Number(values['input-size']);
  if (inputSize !== undefined && inputSize !== 224 && inputSize !== 227) throw new UsageError(`--input-size: expected 224 or 227, got '${values['input-size']}'`);
  const numClasses = values.classes === undefined ? undefined : Number(values.classes);
  if (numClasses !== undefined && !(Number.isInteger(numClasses) && numClasses > 0)) throw new UsageError(`--classes: expected a positive integer, got '${values.classes}'`);
  console.log(formatSummary(modelSpec(values.model!, { inputSize: inputSize as 224 | 227 | undefined, numClasses })));
}

const PACK_USAGE = `usage: convnet pack SRC OUT [options]

SRC holds train/ and val/: class folders (ImageFolder) or ILSVRC-2012 as downloaded (train/<wnid>/*.JPEG; val/ in
wnid folders or flat with LOC_val_solution.csv, or ILSVRC2012_validation_ground_truth.txt plus --devkit-mapping).
OUT gets OUT/train and OUT/val packs; train with: convnet train --data OUT

  --size N             shorter side resized to N, then the centre N×N kept (default 256, the paper's)
  --encoding raw|jpeg  raw: uint8 pixels, N·N·3 bytes per image, fastest to read; jpeg: re-encoded, about 10×
                       smaller, decoded by the loader's workers every epoch (default raw)
  --quality Q          JPEG quality (default 90)
  --grey               store 1 channel instead of RGB
  --shard-size N       images per shard file (default 1024)
  --workers N          decoding threads (default: all cores)
  --synsets FILE       LOC_synset_mapping.txt / synset_words.txt for class names
  --val-solution FILE  LOC_val_solution.csv for a flat val/
  --val-ground-truth FILE  ILSVRC2012_validation_ground_truth.txt for a flat val/
  --devkit-mapping FILE|sorted  the wnids in ILSVRC2012_ID order (one per line), for --val-ground-truth

An interrupted pack continues where it stopped when run again with the same arguments.`;

function intFlag(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: expected an integer ≥ ${min}, got '${v}'`);
  return n;
}

async function packCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      size: { type: 'string' }, encoding: { type: 'string' }, quality: { type: 'string' }, grey: { type: 'boolean' }, 'shard-size': { type: 'string' },
      workers: { type: 'string' }, synsets: { type: 'string' }, 'val-solution': { type: 'string' }, 'val-ground-truth': { type: 'string' },
      'devkit-mapping': { type: 'string' }, help: { type: 'boolean' },
    },
  });
  if (values.help) { console.log(PACK_USAGE); return 0; }
  if (positionals.length !== 2) throw new UsageError(`expected SRC and OUT, got ${positionals.length} argument${positionals.length === 1 ? '' : 's'}\n${PACK_USAGE}`);
  const [src, out] = positionals;
  if (!existsSync(src)) throw new UsageError(`${src}: no such directory`);
  const encoding = values.encoding ?? 'raw';
  if (encoding !== 'raw' && encoding !== 'jpeg') throw new UsageError(`--encoding: expected raw or jpeg, got '${encoding}'`);
  const quality = intFlag('quality', values.quality);
  if (quality !== undefined && quality > 100) throw new UsageError(`--quality: expected 1..100, got ${quality}`);
  for (const f of ['synsets', 'val-solution', 'val-ground-truth'] as const)
    if (values[f] !== undefined && !existsSync(values[f]!)) throw new UsageError(`--${f}: no such file ${values[f]}`);
  const dm = values['devkit-mapping'];
  if (dm !== undefined && dm !== 'sorted' && !existsSync(dm)) throw new UsageError(`--devkit-mapping: no such file ${dm} (or 'sorted')`);
  const r = await packTree(src, out, {
    size: intFlag('size', values.size, 8), encoding, quality, channels: values.grey ? 1 : 3,
    shardSize: intFlag('shard-size', values['shard-size']), workers: intFlag('workers', values.workers, 0),
    ilsvrc: { synsetMapping: values.synsets, valSolutionCsv: values['val-solution'], valGroundTruth: values['val-ground-truth'], devkitMapping: dm },
    onProgress: packProgressPrinter(),
  });
  console.log(summarizePack(r));
  console.log(`train with: convnet train --data ${out}`);
  return 0;
}

function trainHelp(): string {
  const rows = Object.entries(FLAGS).map(([f, d]) => `  --${f.padEnd(18)} ${d.help} (default ${JSON.stringify(BASE_CONFIG[d.key])})`);
  return ['usage: convnet train [options]', '  --run DIR            run directory (default runs/<model>-<dataset>-<time>)',
    '  --resume DIR         continue DIR exactly from its last checkpoint', '  --config FILE        JSON file with any of the options below',
...rows].join('\n');
}

export function parseTrainArgs(argv: string[]): { cfg: TrainConfig; runDir: string | null; resume: string | null } {
  const options: Record<string, { type: 'string' | 'boolean' }> = { run: { type: 'string' }, resume: { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean' } };
  for (const [f, d] of Object.entries(FLAGS)) options[f] = { type: d.type === 'boolean' ? 'boolean' : 'string' };
  for (const [f, d] of Object.entries(FLAGS)) if (d.type === 'boolean') options[`no-${f}`] = { type: 'boolean' };
  const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
  if (values.help) { console.log(trainHelp()); process.exit(0); }
  let cfg: TrainConfig = { ...BASE_CONFIG };
  const fileCfg = values.config ? readConfigFile(values.config as string) : {};
  // ImageNet-like data (an image tree or a packed dataset) trains the paper's net unless told otherwise
  const data = (values.data as string | undefined) ?? fileCfg.data;
  const imageData = data !== undefined && existsSync(data) && (isPackedDataset(data) || isImageTree(data));
  const model = (values.model as string | undefined) ?? fileCfg.model ?? (imageData ? 'paper' : cfg.model);
  // the paper's recipe (90 epochs, lr 0.01 ÷10 on plateau, 227 crops, PCA lighting) for the ImageNet nets
  if (model === 'paper' || model === 'torchvision') cfg = { ...cfg, ...PAPER_RECIPE, model, crop: model === 'paper' ? 227 : 224 };
  else if (imageData) cfg = { ...cfg, lighting: 0.1 };
  cfg = { ...cfg, ...fileCfg };
  for (const [f, d] of Object.entries(FLAGS)) {
    const v = values[f];
    if (v !== undefined) (cfg as unknown as Record<string, unknown>)[d.key] = parseFlagValue(f, d.type, v as string | boolean);
    if (d.type === 'boolean' && values[`no-${f}`]) (cfg as unknown as Record<string, unknown>)[d.key] = false;
  }
  validateConfig(cfg);
  return { cfg, runDir: (values.run as string) ?? null, resume: (values.resume as string) ?? null };
}

async function trainCommand(argv: string[]): Promise<number> {
  const { cfg, runDir, resume } = parseTrainArgs(argv);
  if (resume && !existsSync(resume)) throw new UsageError(`--resume: no run directory ${resume}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const dir = resolve(resume ?? runDir ?? join('runs', `${cfg.model}-${cfg.data === 'default' ? 'fashion-mnist' : basename(resolve(cfg.data)).replace(/[^\w.-]/g, '_')}-${stamp}`));
  const r = await train(cfg, { runDir: dir, resume: !!resume, epochs: argv.includes('--epochs') ? cfg.epochs : undefined });
  if (r.rank) return 0; // data-parallel: rank 0 alone reports
  const last = r.epochs.at(-1);
  if (last?.valTop1Err !== undefined) console.log(`test accuracy ${(100 * (1 - last.valTop1Err)).toFixed(2)}% (top-1 error ${(100 * last.valTop1Err).toFixed(2)}%, top-5 error ${(100 * last.valTop5Err!).toFixed(2)}%) after ${last.epoch} epochs`);
  console.log(`run directory: ${dir} (report.html, metrics.jsonl, checkpoints/)`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'summary': summary(rest); return 0;
      case 'pack': return await packCommand(rest);
      case 'train': return await trainCommand(rest);
      case 'eval': return await evalCommand(rest);
      case 'predict': return await predictCommand(rest);
      case undefined: case '--help': case '-h': case 'help': console.log(USAGE); return command === undefined ? 1 : 0;
      default: throw new UsageError(`unknown command '${command}'\n${USAGE}`);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`convnet ${command ?? ''}: ${err.message}`);
      return 2;
    }
    if (err.name === 'DataError') {
      console.error(`convnet ${command}: ${err.message}`);
      return 2;
    }
    if (command === 'train' || command === 'eval' || command === 'predict' || command === 'pack') {
      console.error(`convnet ${command}: ${err.message}`);
      return 1;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
