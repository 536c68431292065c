/**
 * Training configuration: defaults per dataset kind, overridden by a JSON config file, overridden by flags.
 * The effective configuration is saved with the run (config.json) and restored by --resume.
 */
import { existsSync, readFileSync } from 'node:fs';
import { UsageError } from './errors.js';
import { camelCase, checkValue, didYouMean, kebabCase, type FlagSpec } from './flags.js';

export interface TrainConfig {
  /** 'default' (Fashion-MNIST or bundled MNIST), 'synthetic', a dataset directory or a packed dataset. */
  data: string;
  model: string;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  /** 'pytorch' or 'paper' SGD formulation. */
  sgdRule: 'pytorch' | 'paper';
  /** 'plateau' (÷10 when validation error stops improving, the paper), 'step', 'cosine', 'constant'. */
  schedule: 'plateau' | 'step' | 'cosine' | 'onecycle' | 'constant';
  plateauPatience: number;
  stepSize: number;
  warmupEpochs: number;
  seed: number;
  /** Input crop size fed to the net (images are stored larger and cropped at random). */
  crop: number;
  flip: boolean;
  /** PCA colour lighting σ (0 = off). */
  lighting: number;
  /** Padding for random crops of small images (cuda-convnet style translations). */
  cropPadding: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  /** Stop after this many steps in total (0 = no limit): for smoke tests and timing. */
  maxSteps: number;
  /** Also write every N-th step's loss to metrics.jsonl (0: epochs only). */
  logEvery: number;
  /** Use only the first N training / test examples (0 = all). */
  limitTrain: number;
  limitTest: number;
  threads: number;
  device: string;
  backend: string;
  workers: number;
  /** Initial weights (a state dict with PyTorch names: safetensors, .pth/.pt, a checkpoint); '' = none. */
  weights: string;
  /** Parameters the optimiser leaves alone: 'none' or 'features' (fine-tuning the classifier only). */
  freeze: 'none' | 'features';
  /** Input normalisation: 'dataset' (the training set's mean/std) or 'torchvision' (ImageNet's, what torchvision weights expect). */
  preprocess: 'dataset' | 'torchvision';
}

/**
 * Defaults: the recipe for the embedded default (Fashion-MNIST): the `small-bn` net (3×3 convolutions with batch
 * norm, from @convnet/kernels-batchnorm, which the trainer always loads), batch 128, SGD momentum 0.9, weight decay
 * 5e-4 as in the paper, onecycle (per-step warm-up over 15% of the steps, then cosine to 0) from lr 0.1 over 4
 * epochs, random flips. Its measured figures are in the root README, "The default run".
 * --model small|cifar-18pct|cifar-80sec switches to SMALL_RECIPE, --model paper|torchvision to PAPER_RECIPE.
 */
export const BASE_CONFIG: TrainConfig = {
  data: 'default',
  model: 'small-bn',
  epochs: 4,
  batchSize: 128,
  lr: 0.1,
  momentum: 0.9,
  weightDecay: 5e-4,
  sgdRule: 'pytorch',
  schedule: 'onecycle',
  plateauPatience: 1,
  stepSize: 30,
  warmupEpochs: 0,
  seed: 1,
  crop: 0,
  flip: true,
  lighting: 0,
  cropPadding: 0,
  checkpointEvery: 0,
  keepCheckpoints: 3,
  maxSteps: 0,
  logEvery: 0,
  limitTrain: 0,
  limitTest: 0,
  threads: 0,
  device: 'cpu',
  backend: 'cpu',
  workers: 1,
  weights: '',
  freeze: 'none',
  preprocess: 'dataset',
};

/**
 * The recipe of the small nets without batch norm (`small`, cuda-convnet's `cifar-18pct` and `cifar-80sec`): the
 * default before `small-bn` (6 epochs, lr 0.05 with per-epoch cosine decay; `small` reaches 91.5% on Fashion-MNIST).
 */
export const SMALL_RECIPE: Partial<TrainConfig> = { epochs: 6, lr: 0.05, schedule: 'cosine' };

/** The paper's recipe for ImageNet-sized data. */
export const PAPER_RECIPE: Partial<TrainConfig> = {
  model: 'paper',
  epochs: 90,
  batchSize: 128,
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
  schedule: 'plateau',
  plateauPatience: 2,
  crop: 227,
  cropPadding: 0,
  flip: true,
  lighting: 0.1,
};

type SettingSpec = Omit<FlagSpec, 'name' | 'configKey' | 'default'>;

/**
 * Every training setting, once: its type, bounds and help. Each key is a config-file key (camelCase) and a flag
 * (the same name in kebab-case: weightDecay ↔ --weight-decay), and a property of the config file's JSON Schema
 * (configSchema(), shipped as config.schema.json). Add a setting here and to TrainConfig/BASE_CONFIG.
 */
export const CONFIG_SPECS: { [K in keyof TrainConfig]: SettingSpec } = {
  data: { type: 'string', value: 'D', group: 'data', help: "'default' (Fashion-MNIST), 'fashion-mnist', 'mnist', 'synthetic', an IDX or CIFAR folder, an image tree (train/ + val/) or a packed dataset" },
  limitTrain: { type: 'integer', min: 0, group: 'data', help: 'use only the first N training examples (0: all)' },
  limitTest: { type: 'integer', min: 0, group: 'data', help: 'use only the first N test examples (0: all)' },
  preprocess: { type: 'string', enum: ['dataset', 'torchvision'], group: 'data', help: "input normalisation: dataset (the training set's mean/std) or torchvision (ImageNet's 0.485/0.456/0.406 and 0.229/0.224/0.225, for torchvision weights); recorded with the run, and predict/eval use it" },
  workers: { type: 'integer', min: 0, max: 256, group: 'data', help: 'data-loader worker threads for packed data (0: load in this thread)' },
  model: { type: 'string', value: 'M', group: 'model and optimiser', help: 'small-bn | small | cifar-18pct | cifar-80sec | paper | torchvision | alexnet-bn (paper for image data)' },
  epochs: { type: 'integer', min: 1, max: 1_000_000, group: 'model and optimiser', help: 'number of epochs' },
  batchSize: { type: 'integer', min: 1, max: 65_536, group: 'model and optimiser', help: 'mini-batch size (the global batch under mpirun)' },
  lr: { type: 'number', above: 0, group: 'model and optimiser', help: 'initial learning rate' },
  momentum: { type: 'number', min: 0, below: 1, group: 'model and optimiser', help: 'SGD momentum' },
  weightDecay: { type: 'number', min: 0, group: 'model and optimiser', help: 'L2 weight decay (not on biases)' },
  sgdRule: { type: 'string', enum: ['pytorch', 'paper'], group: 'model and optimiser', help: "momentum/decay formulation: PyTorch's or the paper's" },
  weights: { type: 'string', value: 'FILE', group: 'model and optimiser', help: "initial weights with PyTorch names (safetensors, .pth/.pt, a checkpoint); a last layer of another class count is re-initialised" },
  freeze: { type: 'string', enum: ['none', 'features'], group: 'model and optimiser', help: "features: train only the classifier (the optimiser skips the feature layers' parameters)" },
  seed: { type: 'integer', min: 0, group: 'model and optimiser', help: 'random seed (init, dropout, augmentation, data order)' },
  schedule: { type: 'string', enum: ['plateau', 'step', 'cosine', 'onecycle', 'constant'], group: 'learning-rate schedule', help: 'plateau: ÷10 when the validation error stops improving (the paper); step: ÷10 every --step-size epochs; cosine (per epoch); onecycle: linear warm-up then cosine to 0, every step; constant' },
  plateauPatience: { type: 'integer', min: 0, group: 'learning-rate schedule', help: 'epochs without improvement before lr ÷ 10 (plateau)' },
  stepSize: { type: 'integer', min: 1, group: 'learning-rate schedule', help: 'epochs between lr ÷ 10 (step)' },
  warmupEpochs: { type: 'integer', min: 0, group: 'learning-rate schedule', help: 'linear warm-up epochs (cosine, onecycle; onecycle with 0: the first 15% of the steps)' },
  crop: { type: 'integer', min: 0, max: 4096, group: 'augmentation', help: 'random-crop size fed to the network (0: the stored image size)' },
  cropPadding: { type: 'integer', min: 0, max: 1024, group: 'augmentation', help: 'zero padding around the image before random crops' },
  flip: { type: 'boolean', group: 'augmentation', help: 'random horizontal flips (--no-flip: none)' },
  lighting: { type: 'number', min: 0, max: 10, group: 'augmentation', help: "PCA colour lighting σ (the paper's 0.1; 0: off; RGB only)" },
  checkpointEvery: { type: 'integer', min: 0, group: 'run and checkpoints', help: 'also checkpoint every N steps (0: at epoch ends only)' },
  keepCheckpoints: { type: 'integer', min: 0, group: 'run and checkpoints', help: 'step-N checkpoints to keep (last and best are always kept)' },
  maxSteps: { type: 'integer', min: 0, group: 'run and checkpoints', help: 'stop after N steps in total (0: no limit), with a checkpoint and the report' },
  logEvery: { type: 'integer', min: 0, group: 'run and checkpoints', help: "also write every N-th step's loss to metrics.jsonl (0: epochs only)" },
  threads: { type: 'integer', min: 0, max: 1024, group: 'machine', help: 'native compute threads (0: CONVNET_NUM_THREADS or all cores)' },
  device: { type: 'string', value: 'DEV', group: 'machine', help: "cpu, cuda, cuda:N (where @convnet/cuda can run) or cuda-host (the CUDA kernels on the host emulator)" },
  backend: { type: 'string', value: 'NAME', group: 'machine', help: "kernel backend on the CPU: 'cpu' (native) or 'ref' (plain TypeScript, slow)" },
};

/** The flags of the training settings, with `defaults` shown in help. */
export function configFlags(defaults: TrainConfig = BASE_CONFIG): FlagSpec[] {
  return (Object.keys(CONFIG_SPECS) as (keyof TrainConfig)[]).map((k) => ({ ...CONFIG_SPECS[k], name: kebabCase(k), configKey: k, default: defaults[k] }));
}

/** JSON Schema (2020-12) of a --config file: the settings above, no other keys. Shipped as config.schema.json. */
export function configSchema(): Record<string, unknown> {
  const properties: Record<string, unknown> = { $schema: { type: 'string', description: 'path or URL of this schema (ignored)' } };
  for (const k of Object.keys(CONFIG_SPECS) as (keyof TrainConfig)[]) {
    const s = CONFIG_SPECS[k];
    properties[k] = {
      type: s.type, description: `${s.help} (flag --${kebabCase(k)})`, default: BASE_CONFIG[k],
      ...(s.enum ? { enum: s.enum } : {}), ...(s.min !== undefined ? { minimum: s.min } : {}), ...(s.max !== undefined ? { maximum: s.max } : {}),
      ...(s.above !== undefined ? { exclusiveMinimum: s.above } : {}), ...(s.below !== undefined ? { exclusiveMaximum: s.below } : {}),
    };
  }
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema', $id: 'convnet-trainer-config', title: 'convnet train --config FILE',
    description: 'Training settings; each key is also a flag in kebab-case (weightDecay = --weight-decay). Flags override the file.',
    type: 'object', additionalProperties: false, properties,
  };
}

type SchemaProp = { type: FlagSpec['type']; enum?: string[]; minimum?: number; maximum?: number; exclusiveMinimum?: number; exclusiveMaximum?: number };

/** Checks `obj` against configSchema() (type, enum, bounds, no unknown keys); errors name the file and key. */
export function validateAgainstSchema(obj: Record<string, unknown>, file: string, schema = configSchema()): Partial<TrainConfig> {
  const props = schema.properties as Record<string, SchemaProp>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (k === '$schema') continue;
    const p = props[k];
    if (!p) {
      const near = didYouMean(k, Object.keys(props).filter((x) => x !== '$schema')) ?? didYouMean(camelCase(k), Object.keys(props));
      throw new UsageError(`--config: ${file}: unknown key '${k}'${near ? ` (did you mean '${near}'?)` : ''}`);
    }
    const jsonType = p.type === 'integer' ? 'number' : p.type;
    if (typeof v !== jsonType) throw new UsageError(`--config: ${file}: '${k}' must be a ${jsonType === 'boolean' ? 'boolean (true or false)' : jsonType}, got ${JSON.stringify(v)}`);
    out[k] = checkValue({ type: p.type, enum: p.enum, min: p.minimum, max: p.maximum, above: p.exclusiveMinimum, below: p.exclusiveMaximum }, v, `--config: ${file}: '${k}'`);
  }
  return out as Partial<TrainConfig>;
}

export { UsageError };

export function readConfigFile(path: string): Partial<TrainConfig> {
  if (!existsSync(path)) throw new UsageError(`--config: no such file ${path}`);
  let obj: unknown;
  try {
    obj = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UsageError(`--config: ${path} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new UsageError(`--config: ${path} must hold a JSON object`);
  return validateAgainstSchema(obj as Record<string, unknown>, path);
}

/** Checks a whole configuration (a file, flags, or a checkpoint's) against the schema; `who` names where it came from. */
export function validateConfig(c: TrainConfig, who = 'configuration'): TrainConfig {
  for (const k of Object.keys(CONFIG_SPECS) as (keyof TrainConfig)[]) {
    // settings added later: checkpoints written before them hold their defaults
    if (!(k in c) && (k === 'weights' || k === 'freeze' || k === 'preprocess')) (c as unknown as Record<string, unknown>)[k] = BASE_CONFIG[k];
    if (!(k in c)) throw new UsageError(`${who}: missing key '${k}'`);
    checkValue(CONFIG_SPECS[k], c[k], who === 'configuration' ? `--${kebabCase(k)}` : `${who}: '${k}'`);
  }
  return c;
}

export function flagOf(key: keyof TrainConfig): string {
  return kebabCase(key);
}
