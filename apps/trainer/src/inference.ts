/** `convnet eval` (centre or 10-view test error) and `convnet predict` (top-5 classes of image files). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, softmax } from '@convnet/tensor';
import { createModel, modelSpec, type Net } from '@convnet/alexnet';
import { loadCheckpoint } from './checkpoint.js';
import { UsageError } from './errors.js';
import { ENV, type Command, type FlagSpec, type Parsed } from './flags.js';
import { openSource, type Geometry } from './source.js';
import { buildModel, deviceBackend, inputGeometry, predictViews, type DataInfo } from './train.js';
import { deviceTransfers, perStep } from './device-io.js';
import { decodeOriented, parsePreprocess, torchvisionTransform, type PreprocessName } from './preprocess.js';
import { checkWeights, defaultClassNames, loadWeights, readWeights, specParamShapes } from './weights.js';

export function openRun(run: string | undefined, which: string) {
  if (!run) throw new UsageError('--run: the run directory to use is required (the one `convnet train` printed)');
  const file = which === 'best' || which === 'last' ? join(run, 'checkpoints', `${which}.safetensors`) : which;
  if (!existsSync(file)) throw new UsageError(`--checkpoint: ${file} does not exist${which === 'best' ? ' (a run writes best.safetensors after its first epoch; try --checkpoint last)' : ''}`);
  const ck = loadCheckpoint(file);
  const cfg = ck.state.config;
  return { ck, cfg, file };
}

const WEIGHTS_FLAGS: FlagSpec[] = [
  { name: 'weights', type: 'string', value: 'FILE', help: 'weights with PyTorch names: safetensors, a PyTorch .pth/.pt (torch.save) or a checkpoint' },
  { name: 'model', type: 'string', value: 'NAME', help: 'the net --weights is for when there is no --run (default torchvision)' },
  { name: 'preprocess', type: 'string', enum: ['torchvision', 'dataset'], help: "torchvision: Resize(256) + CenterCrop + ImageNet mean/std (torchvision's eval transform); dataset: the run's own (default: the run's, else torchvision)" },
];

const RUN_FLAGS: FlagSpec[] = [
  { name: 'run', type: 'string', value: 'DIR', help: 'the run directory `convnet train` printed' },
  { name: 'checkpoint', type: 'string', value: 'best|last|FILE', default: 'best', help: "the run's best or last checkpoint, or a checkpoint file" },
];

export const evalCommand: Command = {
  name: 'eval',
  summary: 'top-1/top-5 error of a run on its test split (1 or 10 views)',
  usage: 'convnet eval --run DIR [options]',
  flags: [
    ...RUN_FLAGS,
    { name: 'views', type: 'string', enum: ['1', '10'], default: '1', help: "1: the centre crop; 10: the paper's 4 corners + centre, each also flipped, softmax averaged" },
    { name: 'limit', type: 'integer', min: 1, help: 'only the first N test images' },
    { name: 'device', type: 'string', value: 'DEV', default: 'cpu', help: 'cpu, cuda, cuda:N or cuda-host (the CUDA kernels on the host emulator)' },
  ],
  env: [ENV.CONVNET_NUM_THREADS, ENV.CONVNET_ISA],
  run: evalRun,
};

async function evalRun(args: Parsed): Promise<number> {
  const values = { checkpoint: 'best', views: '1', device: 'cpu', ...args.values } as { run?: string; checkpoint: string; views: string; limit?: number; device: string };
  const views = Number(values.views);
  const { ck, cfg: trained, file } = openRun(values.run, values.checkpoint);
  // the run's kernels on the cpu (a device-trained run too), or --device's backend
  const cfg = { ...trained, device: values.device, backend: values.device !== 'cpu' ? await deviceBackend(values.device) : trained.device === 'cpu' ? trained.backend : 'cpu' };
  let geom: Geometry = { crop: 0, pad: 0 };
  const ds = await openSource(cfg, (shape, name) => (geom = inputGeometry(cfg, shape, name)));
  try {
    const net = buildModel(cfg, ds, geom.crop);
    net.loadStateDict(ck.model);
    const n = values.limit ? Math.min(Number(values.limit), ds.testN) : ds.testN;
    let top1 = 0, top5 = 0;
    const k = ds.classes.length;
    const chunk = ds.shape[1] > 64 ? 32 : 250;
    const xfer0 = deviceTransfers(cfg.backend);
    let chunks = 0;
    for (let s = 0; s < n; s += chunk, chunks++) {
      const idx = Array.from({ length: Math.min(chunk, n - s) }, (_, i) => s + i);
      const { probs: p, labels } = await predictViews(net, ds, idx, geom, views as 1 | 10);
      idx.forEach((_, b) => {
        const target = p[b * k + labels[b]];
        let larger = 0;
        for (let j = 0; j < k; j++) if (p[b * k + j] > target) larger++;
        if (larger === 0) top1++;
        if (larger < 5) top5++;
      });
    }
    // device runs: the views go up, the averaged probabilities come down, once per chunk of images
    const xfer = xfer0 && perStep(xfer0, deviceTransfers(cfg.backend)!, chunks);
    if (xfer) console.error(`${cfg.device}: host↔device ${+xfer.uploadsPerStep.toFixed(2)} up + ${+xfer.downloadsPerStep.toFixed(2)} down per batch of ${Math.min(chunk, n)} images, ${xfer.bytesPerStep} bytes per batch`);
    console.log(`${file}: ${n} test images, ${views} view${views > 1 ? 's' : ''}: top-1 error ${(100 * (1 - top1 / n)).toFixed(2)}%, top-5 error ${(100 * (1 - top5 / n)).toFixed(2)}% (accuracy ${(100 * top1 / n).toFixed(2)}%)`);
  } finally {
    await ds.close();
  }
  return 0;
}

/** Decodes an image file (EXIF orientation applied), resized to cover the dataset's stored size: the `dataset` preset. */
async function decode(path: string, ds: Pick<DataInfo, 'shape'>): Promise<Uint8Array> {
  const [c, h, w] = ds.shape;
  const img = await decodeOriented(path, c === 1 ? 1 : 3);
  const sharp = (await import('sharp')).default;
  try {
    let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels as 1 | 3 } }).resize(w, h, { fit: 'cover', position: 'centre' });
    // raw one-channel input comes out as sRGB unless told otherwise
    if (c === 1) s = s.greyscale();
    const { data, info } = await s.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== img.channels) throw new Error(`resized to ${info.channels} channels, expected ${img.channels}`);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (e) {
    throw new UsageError(`${path}: cannot resize image (${(e as Error).message})`);
  }
}

export const predictCommand: Command = {
  name: 'predict',
  summary: 'top-5 classes of image files, with probabilities',
  usage: 'convnet predict (--run DIR | --weights FILE [--model torchvision|paper]) [options] IMAGE...',
  description: "With --run: the run's model, classes and normalisation. With --weights and no run: a PyTorch state dict " +
    "(safetensors, .pth/.pt written by torch.save, or a checkpoint) for --model, ImageNet's 1000 class names when the net " +
    "has 1000 outputs, and torchvision's eval transform.",
  positionals: [0, Infinity],
  flags: [
    ...RUN_FLAGS,
    ...WEIGHTS_FLAGS,
    { name: 'invert', type: 'boolean', help: 'invert grey levels first (Fashion-MNIST items are light on black; a photo is dark on light)' },
  ],
  env: [ENV.CONVNET_NUM_THREADS, ENV.CONVNET_ISA],
  run: predictRun,
};

async function predictRun(args: Parsed): Promise<number> {
  const values = { checkpoint: 'best', ...args.values } as { run?: string; checkpoint: string; invert?: boolean; weights?: string; model?: string; preprocess?: string };
  const positionals = args.positionals;
  if (!positionals.length) throw new UsageError('give one or more image files: convnet predict --run DIR photo.jpg (or --weights FILE --model torchvision photo.jpg)');
  let preprocess = parsePreprocess(values.preprocess);
  let net: Net, classes: string[], inputSize: number, channels: number;
  let stats: { mean: number[]; std: number[]; shape: [number, number, number] } | null = null;
  if (values.run || !values.weights) {
    if (values.model) throw new UsageError('--model: a run knows its model; --model goes with --weights and no --run');
    const { ck, cfg } = openRun(values.run, values.checkpoint!);
    const st = ck.state.dataset;
    const ds = { name: st.name, classes: st.classes, shape: st.shape as [number, number, number], mean: st.mean, std: st.std };
    const geom = inputGeometry(cfg, ds.shape, ds.name);
    net = buildModel(cfg, ds, geom.crop);
    net.loadStateDict(ck.model);
    if (values.weights) loadWeights(net, readWeights(values.weights).stateDict, values.weights, { model: cfg.model });
    classes = ds.classes;
    inputSize = geom.crop;
    channels = ds.shape[0];
    stats = ds;
    preprocess ??= (ck.state as { preprocess?: PreprocessName }).preprocess ?? 'dataset';
  } else {
    const model = values.model ?? 'torchvision';
    const { stateDict } = readWeights(values.weights);
    let spec;
    try {
      spec = modelSpec(model);
    } catch (e) {
      throw new UsageError(`--model: ${(e as Error).message}`);
    }
    const headKey = `classifier.${spec.classifier.length - 1}.weight`;
    const numClasses = stateDict.get(headKey)?.shape[0] ?? 1000;
    // shapes first: a wrong file fails before 61M parameters are allocated and initialised
    checkWeights(specParamShapes(modelSpec(model, { numClasses })), stateDict, values.weights, { model });
    net = createModel(model, { numClasses });
    loadWeights(net, stateDict, values.weights, { model });
    classes = defaultClassNames(numClasses);
    inputSize = spec.input[1];
    channels = spec.input[0];
    if (preprocess === 'dataset') throw new UsageError('--preprocess dataset needs a run (--run DIR) for the training set\'s size and statistics; without one use --preprocess torchvision');
    preprocess ??= 'torchvision';
  }
  if (preprocess === 'torchvision' && channels !== 3) throw new UsageError(`--preprocess torchvision: the model takes ${channels}-channel images; use --preprocess dataset`);
  console.log(preprocess === 'torchvision'
    ? `preprocessing: torchvision (EXIF orientation, Resize(256) bilinear as PIL, CenterCrop(${inputSize}), ImageNet mean/std)`
    : `preprocessing: dataset (EXIF orientation, resize to ${stats!.shape[1]}×${stats!.shape[2]}, centre ${inputSize}×${inputSize}, the training set's mean/std)`);
  net.eval();
  const tops: number[][] = [];
  for (const file of positionals) {
    const x = Tensor.zeros([1, channels, inputSize, inputSize]);
    if (preprocess === 'torchvision') {
      const img = await decodeOriented(file, 3);
      if (values.invert) for (let i = 0; i < img.data.length; i++) img.data[i] = 255 - img.data[i];
      x.data.set(torchvisionTransform(img, { crop: inputSize }).x);
    } else {
      const ds = stats!;
      const pixels = await decode(file, ds);
      // Fashion-MNIST items are light on black: --invert turns a dark-on-light photo around
      if (values.invert) for (let i = 0; i < pixels.length; i++) pixels[i] = 255 - pixels[i];
      const [c, h, w] = ds.shape, off = (h - inputSize) >> 1;
      for (let ch = 0; ch < c; ch++)
        for (let y = 0; y < inputSize; y++)
          for (let xx = 0; xx < inputSize; xx++)
            x.data[(ch * inputSize + y) * inputSize + xx] = (pixels[((y + off) * w + xx + off) * c + ch] / 255 - ds.mean[ch]) / ds.std[ch];
    }
    const p = softmax(net.forward(x)).data;
    const top = Array.from(p, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
    tops.push(top.map(([, i]) => i));
    console.log(file);
    for (const [v, i] of top) console.log(`  ${(100 * v).toFixed(2).padStart(6)}%  ${classes[i]}`);
  }
  if (tops.length > 1 && new Set(positionals).size > 1 && tops.every((t) => t.join() === tops[0].join()))
    console.log(`note: every image got the same top-5 in the same order: this model's outputs do not depend on its input yet (trained only a few steps?)`);
  return 0;
}
