#!/usr/bin/env node
/**
 * `convnet`: pack / train / eval / predict / summary. Every user error is one line naming the flag, file
 * or value and the fix; a stack trace means a bug.
 */
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatSummary, modelSpec, MODELS } from '@convnet/alexnet';
import { BASE_CONFIG, FLAGS, PAPER_RECIPE, UsageError, parseFlagValue, readConfigFile, validateConfig, type TrainConfig } from './config.js';
import { evalCommand, predictCommand } from './inference.js';
import { train } from './train.js';

const USAGE = `usage: convnet <command> [options]

commands:
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
  // the paper's recipe (90 epochs, lr 0.01 ÷10 on plateau, 227 crops, PCA lighting) for the ImageNet nets
  if (values.model === 'paper' || values.model === 'torchvision') cfg = { ...cfg, ...PAPER_RECIPE, model: values.model as string, crop: values.model === 'paper' ? 227 : 224 };
  if (values.config) cfg = { ...cfg, ...readConfigFile(values.config as string) };
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
  const dir = resolve(resume ?? runDir ?? join('runs', `${cfg.model}-${cfg.data === 'default' ? 'fashion-mnist' : 'data'}-${stamp}`));
  const r = await train(cfg, { runDir: dir, resume: !!resume, epochs: argv.includes('--epochs') ? cfg.epochs : undefined });
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
    if (command === 'train' || command === 'eval' || command === 'predict') {
      console.error(`convnet ${command}: ${err.message}`);
      return 1;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
