/** `convnet summary --model M`: per-layer output shapes, parameters and FLOPs. */
import { formatSummary, modelSpec, MODELS } from '@convnet/alexnet';
import { didYouMean, type Command, type Parsed } from './flags.js';
import { UsageError } from './errors.js';

function run(args: Parsed): number {
  const model = args.values.model as string;
  if (!(model in MODELS)) {
    const near = didYouMean(model, Object.keys(MODELS));
    throw new UsageError(`--model: unknown model '${model}'${near ? ` (did you mean ${near}?)` : ''} (known: ${Object.keys(MODELS).join(', ')})`);
  }
  const inputSize = args.values['input-size'] as 224 | 227 | undefined;
  console.log(formatSummary(modelSpec(model, { inputSize, numClasses: args.values.classes as number | undefined })));
  return 0;
}

export const summaryCommand: Command = {
  name: 'summary',
  summary: 'per-layer output shapes, parameters and FLOPs of a model',
  usage: 'convnet summary [--model M] [options]',
  flags: [
    { name: 'model', type: 'string', value: 'M', default: 'paper', help: `the model (${Object.keys(MODELS).join(', ')})` },
    { name: 'input-size', type: 'integer', min: 224, max: 227, help: 'input side for the ImageNet nets: 224 or 227' },
    { name: 'classes', type: 'integer', min: 1, max: 1_000_000, help: 'number of classes (default: the model\'s)' },
  ],
  run(args) {
    if (!args.values.model) args.values.model = 'paper';
    const s = args.values['input-size'];
    if (s !== undefined && s !== 224 && s !== 227) throw new UsageError(`--input-size: expected 224 or 227, got ${s}`);
    return run(args);
  },
};
