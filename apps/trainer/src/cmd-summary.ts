/** `convnet summary --model M`: per-layer output shapes, parameters and FLOPs. */
import { formatSummary, modelSpec, summarize, MODELS, type LayerSpec, type ModelSpec } from '@convnet/alexnet';
import { didYouMean, type Command, type Parsed } from './flags.js';
import { UsageError } from './errors.js';

function run(args: Parsed): number {
  const model = args.values.model as string;
  if (!(model in MODELS)) {
    const near = didYouMean(model, Object.keys(MODELS));
    throw new UsageError(`--model: unknown model '${model}'${near ? ` (did you mean ${near}?)` : ''} (known: ${Object.keys(MODELS).join(', ')})`);
  }
  const inputSize = args.values['input-size'] as 224 | 227 | undefined;
  const spec = modelSpec(model, { inputSize, numClasses: args.values.classes as number | undefined });
  console.log(formatSummary(spec));
  console.log(formatSettings(spec));
  return 0;
}

/**
 * Each layer's settings as PyTorch's constructor arguments (kernel, stride, padding, ceil mode of the pooling
 * layers too), so the net can be rebuilt in PyTorch from the summary alone.
 */
export function formatSettings(spec: ModelSpec): string {
  const all = [...spec.features, ...(spec.avgpool ? [spec.avgpool] : []), ...spec.classifier];
  const layers = summarize(spec).layers;
  const py = (b: boolean) => (b ? 'True' : 'False');
  let prev = [...spec.input];
  const lines = layers.map((l, i) => {
    const s: LayerSpec = all[i];
    let text: string;
    switch (s.type) {
      case 'conv':
        text = `Conv2d(${prev[0]}, ${s.out}, kernel_size=${s.kernel}, stride=${s.stride ?? 1}, padding=${s.padding ?? 0}` +
          `${s.groups && s.groups > 1 ? `, groups=${s.groups}` : ''}${s.bias === false ? ', bias=False' : ''})${s.sizeRule === 'ceil' ? ' (ceil output size)' : ''}`;
        break;
      case 'maxpool': case 'avgpool':
        text = `${s.type === 'maxpool' ? 'MaxPool2d' : 'AvgPool2d'}(kernel_size=${s.kernel}, stride=${s.stride}, padding=${s.padding ?? 0}, ceil_mode=${py(s.sizeRule === 'ceil')})`;
        break;
      case 'adaptiveavg': text = `AdaptiveAvgPool2d((${s.size}, ${s.size}))`; break;
      case 'lrn': text = `LocalResponseNorm(size=${s.size}, alpha=${s.alpha}, beta=${s.beta}, k=${s.k}) (alpha ${s.alphaMode})`; break;
      case 'dropout': text = `Dropout(p=${s.p})`; break;
      case 'linear': text = `Linear(${prev.reduce((a, b) => a * b, 1)}, ${s.out})`; break;
      case 'relu': text = 'ReLU()'; break;
      case 'flatten': text = 'Flatten()'; break;
      case 'module': text = `${s.kind}(${Object.entries(s.attrs ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')})`; break;
    }
    prev = l.output;
    return `${l.name.padEnd(14)}${text}`;
  });
  return ['', 'layer settings (PyTorch):', ...lines].join('\n');
}

export const summaryCommand: Command = {
  name: 'summary',
  summary: 'per-layer output shapes, parameters and FLOPs of a model',
  usage: 'convnet summary [--model M] [options]',
  // a function: the models of plugins (the built-in small-bn, alexnet-bn) are registered after this module loads
  flags: () => [
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
