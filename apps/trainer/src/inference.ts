/** `convnet eval` (centre or 10-view test error) and `convnet predict` (top-5 classes of image files). */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, softmax } from '@convnet/tensor';
import { createModel, modelSpec, type Net } from '@convnet/alexnet';
import { loadCheckpoint } from './checkpoint.js';
import { UsageError } from './errors.js';
import { ENV, type Command, type FlagSpec, type Parsed } from './flags.js';
import { openSource, type Geometry } from './source.js';
import { isImageTree, scanTree } from './packsrc.js';
import { DataError, ILSVRC2012_WNIDS, isIlsvrc2012Wnid, scanImageFolder, type FileList } from '@convnet/imagenet';
import { buildModel, deviceBackend, inputGeometry, predictViews, type DataInfo } from './train.js';
import { deviceTransfers, perStep } from './device-io.js';
import { decodeOriented, parsePreprocess, torchvisionTransform, type PreprocessName } from './preprocess.js';
import { checkWeights, defaultClassNames, loadWeights, readWeights, specParamShapes } from './weights.js';

export function openRun(run: string | undefined, which: string) {
  if (!run) throw new UsageError('--run: the run directory to use is required (the one `convnet train` printed)');
  const file = which === 'best' || which === 'last' ? join(run, 'checkpoints', `${which}.safetensors`) : which;
  if (!existsSync(file)) throw new UsageError(`--checkpoint: ${file} does not exist${which === 'best' ? ' (a run writes best.safetensors after its first epoch; try --checkpoint last)' : ''}`);
  if (!statSync(file).isFile()) throw new UsageError(`--checkpoint: ${file} is not a regular file (a directory, FIFO or device)`);
  const ck = loadCheckpoint(file);
  const cfg = ck.state.config;
  try {
    modelSpec(cfg.model);
  } catch (e) {
    // the model a checkpoint names is not built in (nor given by a --plugin): the file is to blame, not --model
    throw new UsageError(`${file}: its training state names the model '${cfg.model}', which is not known here (${(e as Error).message}; a model from a plugin needs --plugin)`);
  }
  return { ck, cfg, file };
}

/** A checkpoint's model tensors into `net`; a file for another model or class count is a one-line user error. */
function loadCheckpointInto(net: Net, model: Map<string, Tensor>, file: string, name: string): void {
  try {
    net.loadStateDict(model);
  } catch (e) {
    throw new UsageError(`--checkpoint: ${file} does not fit the model it names (--model ${name}): ${(e as Error).message}`);
  }
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
  summary: 'top-1/top-5 error of a run on its test split (1 or 10 views), or of --weights on an image folder',
  usage: 'convnet eval (--run DIR | --weights FILE [--model torchvision|paper] --data DIR) [options]',
  description: "With --run: the run's model on its test split (or --data), prepared as the run was trained (--preprocess). " +
    'With --weights and no run: a PyTorch state dict (safetensors, .pth/.pt written by torch.save, or a checkpoint) for --model, ' +
    "on --data: class folders (DIR/<class>/<images> or DIR/val/<class>/...; ImageNet WordNet-id folders map to torchvision's " +
    "1000 outputs, other folders in sorted order as torchvision's ImageFolder), prepared by torchvision's eval transform.",
  flags: [
    ...RUN_FLAGS,
    ...WEIGHTS_FLAGS,
    { name: 'data', type: 'string', value: 'DIR', help: "the images to evaluate: with --weights, class folders of image files; with --run, default the run's --data" },
    { name: 'views', type: 'string', enum: ['1', '10'], default: '1', help: "1: the centre crop; 10: the paper's 4 corners + centre, each also flipped, softmax averaged (--preprocess dataset)" },
    { name: 'limit', type: 'integer', min: 1, help: 'only the first N test images' },
    { name: 'device', type: 'string', value: 'DEV', help: "with --run and --preprocess dataset: cpu (default), cuda, cuda:N or cuda-host (the CUDA kernels on the host emulator)" },
  ],
  env: [ENV.CONVNET_NUM_THREADS, ENV.CONVNET_ISA],
  run: evalRun,
};

interface EvalValues { run?: string; checkpoint: string; views: string; limit?: number; weights?: string; model?: string; preprocess?: string; data?: string; device?: string }

async function evalRun(args: Parsed): Promise<number> {
  const values = { checkpoint: 'best', views: '1', ...args.values } as EvalValues;
  const views = Number(values.views) as 1 | 10;
  if (!values.run && !values.weights) throw new UsageError('give --run DIR (a run of convnet train) or --weights FILE [--model torchvision|paper] --data DIR');
  let preprocess = parsePreprocess(values.preprocess);
  if (!values.run) {
    if (preprocess === 'dataset') throw new UsageError("--preprocess dataset needs a run (--run DIR) for the training set's statistics; without one use --preprocess torchvision");
    if (!values.data) throw new UsageError('--data: the images to evaluate --weights on are required (class folders: DIR/<class>/<images>)');
    if (views !== 1) throw new UsageError('--views 10: the 10 views are crops of the stored images of a run; with --weights use --views 1');
    if (values.device && values.device !== 'cpu') throw new UsageError(`--device ${values.device}: goes with --run (a run's test split); --weights alone runs on the cpu`);
    // a missing folder fails before the weights are read
    if (!existsSync(values.data) || !statSync(values.data).isDirectory()) evalFileList(values.data, 0);
    const w = netFromWeights(values.weights!, values.model, (n) => evalFileList(values.data!, n));
    console.log(describePreprocess('torchvision', { resize: 256, crop: w.inputSize }));
    const m = await evalFiles(w.net, values.data, { numClasses: w.numClasses, resize: 256, crop: w.inputSize, limit: values.limit });
    console.log(`${values.weights} (--model ${w.model}) on ${values.data}: ${m.line}`);
    return allNonFinite(m.tally, m.n, `eval: ${values.weights}`);
  }
  if (values.model) throw new UsageError('--model: a run knows its model; --model goes with --weights and no --run');
  const { ck, cfg: trained, file } = openRun(values.run, values.checkpoint);
  preprocess ??= trained.preprocess ?? 'dataset';
  if (values.device && values.device !== 'cpu' && preprocess !== 'dataset') throw new UsageError(`--device ${values.device}: goes with --preprocess dataset (the run's test split)`);
  // the run's kernels on the cpu (a device-trained run too), or --device's backend
  const device = values.device ?? 'cpu';
  const cfg = { ...trained, device, backend: device !== 'cpu' ? await deviceBackend(device) : trained.device === 'cpu' ? trained.backend : 'cpu' };
  const data = values.data ?? cfg.data;
  const st = ck.state.dataset;
  if (preprocess === 'torchvision') {
    if (views !== 1) throw new UsageError('--views 10 goes with --preprocess dataset (the stored images of the run); --preprocess torchvision takes the one centre crop');
    if (st.shape[0] !== 3) throw new UsageError(`--preprocess torchvision: the model takes ${st.shape[0]}-channel images; use --preprocess dataset`);
    const geom = inputGeometry(cfg, st.shape as [number, number, number], st.name);
    const net = buildModel(cfg, { name: st.name, classes: st.classes, shape: st.shape as [number, number, number] }, geom.crop);
    loadCheckpointInto(net, ck.model, file, cfg.model);
    if (values.weights) loadWeights(net, readWeights(values.weights).stateDict, values.weights, { model: cfg.model });
    console.log(describePreprocess('torchvision', { resize: st.shape[1], crop: geom.crop, trained: cfg.preprocess }));
    const m = await evalFiles(net, data, { numClasses: st.classes.length, resize: st.shape[1], crop: geom.crop, limit: values.limit });
    console.log(`${file} on ${data}: ${m.line}`);
    return allNonFinite(m.tally, m.n, `eval: ${file}`);
  }
  let geom: Geometry = { crop: 0, pad: 0 };
  const ds = await openSource({ ...cfg, data }, (shape, name) => (geom = inputGeometry(cfg, shape, name)));
  try {
    console.log(describePreprocess('dataset', { resize: ds.shape[1], crop: geom.crop, trained: cfg.preprocess }));
    const net = buildModel(cfg, ds, geom.crop);
    loadCheckpointInto(net, ck.model, file, cfg.model);
    if (values.weights) loadWeights(net, readWeights(values.weights).stateDict, values.weights, { model: cfg.model });
    const n = values.limit ? Math.min(Number(values.limit), ds.testN) : ds.testN;
    const t = newTally();
    const k = ds.classes.length;
    const chunk = ds.shape[1] > 64 ? 32 : 250;
    const xfer0 = deviceTransfers(cfg.backend);
    let chunks = 0;
    for (let s = 0; s < n; s += chunk, chunks++) {
      const idx = Array.from({ length: Math.min(chunk, n - s) }, (_, i) => s + i);
      const { probs: p, labels } = await predictViews(net, ds, idx, geom, views);
      tally(t, p, k, labels);
    }
    // device runs: the views go up, the averaged probabilities come down, once per chunk of images
    const xfer = xfer0 && perStep(xfer0, deviceTransfers(cfg.backend)!, chunks);
    if (xfer) console.error(`${cfg.device}: host↔device ${+xfer.uploadsPerStep.toFixed(2)} up + ${+xfer.downloadsPerStep.toFixed(2)} down per batch of ${Math.min(chunk, n)} images, ${xfer.bytesPerStep} bytes per batch`);
    console.log(`${file}: ${n} test images, ${views} view${views > 1 ? 's' : ''}: ${tallyLine(t, n)}`);
    return allNonFinite(t, n, `eval: ${file}`);
  } finally {
    await ds.close();
  }
}

/** How many classes score above the target (0: a top-1 hit; < 5: a top-5 hit). */
function rankOf(p: ArrayLike<number>, off: number, k: number, label: number): number {
  const target = p[off + label];
  let larger = 0;
  for (let j = 0; j < k; j++) if (p[off + j] > target) larger++;
  return larger;
}

/** True when every one of an image's `k` scores at `off` is finite (NaN > x is false: a NaN row would rank first). */
export function finiteRow(p: ArrayLike<number>, off: number, k: number): boolean {
  for (let j = 0; j < k; j++) if (!Number.isFinite(p[off + j])) return false;
  return true;
}

const errorLine = (top1: number, top5: number, n: number) =>
  `top-1 error ${(100 * (1 - top1 / n)).toFixed(2)}%, top-5 error ${(100 * (1 - top5 / n)).toFixed(2)}% (accuracy ${(100 * top1 / n).toFixed(2)}%)`;

/**
 * Top-1/top-5 hits and the summed cross-entropy of a set of images' (view-averaged) probabilities. An image whose
 * scores are not all finite is a miss in both and is counted in `nonFinite` (its cross-entropy is left out).
 */
export interface Tally { top1: number; top5: number; nll: number; nonFinite: number }
export const newTally = (): Tally => ({ top1: 0, top5: 0, nll: 0, nonFinite: 0 });
/** Adds a batch: `p` holds each image's `k` probabilities, in the order of `labels`. */
export function tally(t: Tally, p: ArrayLike<number>, k: number, labels: ArrayLike<number>): void {
  for (let b = 0; b < labels.length; b++) {
    if (!finiteRow(p, b * k, k)) { t.nonFinite++; continue; }
    const r = rankOf(p, b * k, k, labels[b]);
    t.nll -= Math.log(Math.max(p[b * k + labels[b]], 1e-30));
    if (r === 0) t.top1++;
    if (r < 5) t.top5++;
  }
}
/** The errors and the mean cross-entropy (with 1 view, the training run's test loss) of n images. */
export function tallyLine(t: Tally, n: number): string {
  const finite = n - t.nonFinite;
  const ce = finite > 0 ? (t.nll / finite).toFixed(4) : 'n/a';
  const nf = t.nonFinite ? `; ${t.nonFinite} of ${n} images had non-finite outputs (NaN or ±Inf), counted as misses` +
    `${finite > 0 ? ' and left out of the cross-entropy' : ''}` : '';
  return `${errorLine(t.top1, t.top5, n)}, cross-entropy ${ce}${nf}`;
}

/** Exit code 2 with a one-line reason when every image's outputs were non-finite (the weights are broken). */
function allNonFinite(t: Tally, n: number, what: string): number {
  if (n === 0 || t.nonFinite < n) return 0;
  console.error(`convnet ${what}: every one of the ${n} images got non-finite outputs (NaN or ±Inf): the weights are ` +
    'not usable (a diverged run? resume from an earlier checkpoint with a lower --lr)');
  return 2;
}

/** The line predict and eval print first: what was done to each image before the net saw it. */
function describePreprocess(p: PreprocessName, o: { resize: number; crop: number; trained?: PreprocessName }): string {
  const line = p === 'torchvision'
    ? `preprocessing: torchvision (EXIF orientation, Resize(${o.resize}) bilinear as PIL, CenterCrop(${o.crop}), ImageNet mean/std)`
    : `preprocessing: dataset (EXIF orientation, resize to ${o.resize}×${o.resize}, centre ${o.crop}×${o.crop}, ${o.trained === 'torchvision' ? "the run's ImageNet mean/std" : "the training set's mean/std"})`;
  return p === 'torchvision' && o.trained === 'dataset' ? `${line}; note: the run was trained on its own mean/std (--preprocess dataset)` : line;
}

/**
 * The labelled image files of --data for eval: an image tree (train/ + val/: its val split, labelled as training
 * labels it) or class folders (DIR/<class>/<images>; ImageNet WordNet-id folders with a 1000-output net get
 * ImageNet's indices, as torchvision's models do; otherwise the sorted folder names, as ImageFolder).
 */
export function evalFileList(dir: string, numClasses: number): FileList {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--data: ${dir} is not a directory (eval with --preprocess torchvision reads image files in class folders: DIR/<class>/<images>)`);
  let list: FileList;
  try {
    if (isImageTree(dir)) list = scanTree(dir).val;
    else {
      const folders = readdirSync(dir).filter((d) => !d.startsWith('.') && statSync(join(dir, d)).isDirectory());
      const imagenet = numClasses === 1000 && folders.length > 0 && folders.every(isIlsvrc2012Wnid);
      list = scanImageFolder(dir, imagenet ? { classes: [...ILSVRC2012_WNIDS] } : {});
    }
  } catch (e) {
    if (e instanceof DataError) throw new UsageError(`--data: ${e.message}`);
    throw e;
  }
  if (list.classes.length !== numClasses)
    throw new UsageError(`--data: ${dir} has ${list.classes.length} class folders, the model has ${numClasses} outputs (folders map to outputs in sorted order; ImageNet WordNet ids map to a 1000-output net's indices)`);
  if (!list.samples.length) throw new UsageError(`--data: ${dir}: no image files in its class folders`);
  return list;
}

/** eval over image files with the torchvision transform; undecodable files are counted and reported, not fatal. */
async function evalFiles(net: Net, dir: string, o: { numClasses: number; resize: number; crop: number; limit?: number }): Promise<{ n: number; tally: Tally; line: string }> {
  const list = evalFileList(dir, o.numClasses);
  const samples = o.limit ? list.samples.slice(0, o.limit) : list.samples;
  net.eval();
  const per = 3 * o.crop * o.crop, chunk = 16, k = o.numClasses;
  const t = newTally();
  let n = 0;
  const skipped: string[] = [];
  for (let s = 0; s < samples.length; s += chunk) {
    const inputs: Float32Array[] = [], labels: number[] = [];
    for (const sm of samples.slice(s, s + chunk)) {
      try {
        inputs.push(torchvisionTransform(await decodeOriented(sm.path, 3), { resize: o.resize, crop: o.crop }).x);
        labels.push(sm.label);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        skipped.push(e.message);
      }
    }
    if (!inputs.length) continue;
    const x = Tensor.zeros([inputs.length, 3, o.crop, o.crop]);
    inputs.forEach((v, i) => x.data.set(v, i * per));
    const p = softmax(net.forward(x)).data;
    tally(t, p, k, labels);
    n += inputs.length;
  }
  if (!n) throw new UsageError(`--data: ${dir}: none of its ${samples.length} image files could be decoded (${skipped[0]})`);
  const skip = skipped.length ? ` (${skipped.length} skipped: ${skipped.slice(0, 2).join('; ')}${skipped.length > 2 ? '; ...' : ''})` : '';
  return { n, tally: t, line: `${n} images${skip}, 1 view: ${tallyLine(t, n)}` };
}

/** A net for --model built from --weights alone (no run): the class count is read from the file's last layer. */
function netFromWeights(file: string, modelName: string | undefined, checkClasses?: (numClasses: number) => void): { net: Net; model: string; numClasses: number; classes: string[]; inputSize: number; channels: number } {
  const model = modelName ?? 'torchvision';
  const { stateDict } = readWeights(file);
  let spec;
  try {
    spec = modelSpec(model);
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`);
  }
  const headKey = `classifier.${spec.classifier.length - 1}.weight`;
  const numClasses = stateDict.get(headKey)?.shape[0] ?? 1000;
  checkClasses?.(numClasses);
  // shapes first: a wrong file fails before 61M parameters are allocated and initialised
  checkWeights(specParamShapes(modelSpec(model, { numClasses })), stateDict, file, { model });
  const net = createModel(model, { numClasses });
  loadWeights(net, stateDict, file, { model });
  return { net, model, numClasses, classes: defaultClassNames(numClasses), inputSize: spec.input[1], channels: spec.input[0] };
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
  let net: Net, classes: string[], inputSize: number, channels: number, resize = 256;
  let stats: { mean: number[]; std: number[]; shape: [number, number, number] } | null = null;
  let trained: PreprocessName | undefined;
  if (values.run || !values.weights) {
    if (values.model) throw new UsageError('--model: a run knows its model; --model goes with --weights and no --run');
    const { ck, cfg, file } = openRun(values.run, values.checkpoint!);
    const st = ck.state.dataset;
    const ds = { name: st.name, classes: st.classes, shape: st.shape as [number, number, number], mean: st.mean, std: st.std };
    const geom = inputGeometry(cfg, ds.shape, ds.name);
    net = buildModel(cfg, ds, geom.crop);
    loadCheckpointInto(net, ck.model, file, cfg.model);
    if (values.weights) loadWeights(net, readWeights(values.weights).stateDict, values.weights, { model: cfg.model });
    classes = ds.classes;
    inputSize = geom.crop;
    channels = ds.shape[0];
    stats = ds;
    resize = ds.shape[1];
    trained = cfg.preprocess;
    // what the run was trained with (runs from before the setting: dataset)
    preprocess ??= cfg.preprocess ?? 'dataset';
  } else {
    const w = netFromWeights(values.weights, values.model);
    ({ net, classes, inputSize, channels } = w);
    if (preprocess === 'dataset') throw new UsageError('--preprocess dataset needs a run (--run DIR) for the training set\'s size and statistics; without one use --preprocess torchvision');
    preprocess ??= 'torchvision';
  }
  if (preprocess === 'torchvision' && channels !== 3) throw new UsageError(`--preprocess torchvision: the model takes ${channels}-channel images; use --preprocess dataset`);
  console.log(describePreprocess(preprocess, { resize, crop: inputSize, trained }));
  net.eval();
  const tops: number[][] = [];
  let nonFinite = 0;
  for (const file of positionals) {
    const x = Tensor.zeros([1, channels, inputSize, inputSize]);
    if (preprocess === 'torchvision') {
      const img = await decodeOriented(file, 3);
      if (values.invert) for (let i = 0; i < img.data.length; i++) img.data[i] = 255 - img.data[i];
      x.data.set(torchvisionTransform(img, { resize, crop: inputSize }).x);
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
    console.log(file);
    if (!finiteRow(p, 0, p.length)) {
      // NaN > x is false: sorting NaN scores would list arbitrary classes with "NaN%"
      nonFinite++;
      console.log('  no prediction: the model\'s outputs are not finite (NaN or ±Inf)');
      continue;
    }
    const top = Array.from(p, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
    tops.push(top.map(([, i]) => i));
    for (const [v, i] of top) console.log(`  ${(100 * v).toFixed(2).padStart(6)}%  ${classes[i]}`);
  }
  if (nonFinite) {
    const where = values.weights ?? values.run;
    console.error(`convnet predict: ${where}: ${nonFinite} of ${positionals.length} images got non-finite outputs (NaN or ±Inf)` +
      `${nonFinite === positionals.length ? ': the weights are not usable (a diverged run?)' : ''}`);
    if (nonFinite === positionals.length) return 2;
  }
  if (tops.length > 1 && new Set(positionals).size > 1 && tops.every((t) => t.join() === tops[0].join()))
    console.log(`note: every image got the same top-5 in the same order: this model's outputs do not depend on its input yet (trained only a few steps?)`);
  return 0;
}
