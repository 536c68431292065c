#!/usr/bin/env node
/**
 * `convnet`: pack / train / eval / predict / summary. Every user error is one line naming the flag, file
 * or value and the fix; a stack trace means a bug.
 */
import { parseArgs } from 'node:util';
import { formatSummary, modelSpec, MODELS } from '@convnet/alexnet';
import { UsageError } from './config.js';

const USAGE = `usage: convnet <command> [options]

commands:
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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'summary': summary(rest); return 0;
      case undefined: case '--help': case '-h': case 'help': console.log(USAGE); return command === undefined ? 1 : 0;
      default: throw new UsageError(`unknown command '${command}'\n${USAGE}`);
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    if (err instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`convnet ${command ?? ''}: ${err.message}`);
      return 2;
    }
    throw e;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
