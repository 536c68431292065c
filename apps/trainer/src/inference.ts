/** `convnet eval` (centre or 10-view test error) and `convnet predict` (top-5 classes of image files). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Tensor, softmax } from '@convnet/tensor';
import { loadCheckpoint } from './checkpoint.js';
import { UsageError } from './errors.js';
import { ENV, type Command, type FlagSpec, type Parsed } from './flags.js';
import { openSource, type Geometry } from './source.js';
import { buildModel, inputGeometry, predictViews, type DataInfo } from './train.js';

function openRun(run: string | undefined, which: string) {
  if (!run) throw new UsageError('--run: the run directory to use is required (the one `convnet train` printed)');
  const file = which === 'best' || which === 'last' ? join(run, 'checkpoints', `${which}.safetensors`) : which;
  if (!existsSync(file)) throw new UsageError(`--checkpoint: ${file} does not exist${which === 'best' ? ' (a run writes best.safetensors after its first epoch; try --checkpoint last)' : ''}`);
  const ck = loadCheckpoint(file);
  const cfg = ck.state.config;
  return { ck, cfg, file };
}

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
  ],
  env: [ENV.CONVNET_NUM_THREADS, ENV.CONVNET_ISA],
  run: evalRun,
};

async function evalRun(args: Parsed): Promise<number> {
  const values = { checkpoint: 'best', views: '1', ...args.values } as { run?: string; checkpoint: string; views: string; limit?: number };
  const views = Number(values.views);
  const { ck, cfg, file } = openRun(values.run, values.checkpoint);
  let geom: Geometry = { crop: 0, pad: 0 };
  const ds = await openSource(cfg, (shape, name) => (geom = inputGeometry(cfg, shape, name)));
  try {
    const net = buildModel(cfg, ds, geom.crop);
    net.loadStateDict(ck.model);
    const n = values.limit ? Math.min(Number(values.limit), ds.testN) : ds.testN;
    let top1 = 0, top5 = 0;
    const k = ds.classes.length;
    const chunk = ds.shape[1] > 64 ? 32 : 250;
    for (let s = 0; s < n; s += chunk) {
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
    console.log(`${file}: ${n} test images, ${views} view${views > 1 ? 's' : ''}: top-1 error ${(100 * (1 - top1 / n)).toFixed(2)}%, top-5 error ${(100 * (1 - top5 / n)).toFixed(2)}% (accuracy ${(100 * top1 / n).toFixed(2)}%)`);
  } finally {
    await ds.close();
  }
  return 0;
}

/** Decodes an image file with sharp to the dataset's channels and size, as uint8 HWC. */
async function decode(path: string, ds: Pick<DataInfo, 'shape'>): Promise<Uint8Array> {
  if (!existsSync(path)) throw new UsageError(`${path}: no such file`);
  const sharp = (await import('sharp')).default;
  const [c, h, w] = ds.shape;
  try {
    let img = sharp(path).resize(w, h, { fit: 'cover', position: 'centre' }).removeAlpha();
    img = c === 1 ? img.greyscale() : img.toColourspace('srgb');
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== c) throw new Error(`decoded ${info.channels} channels, expected ${c}`);
    return new Uint8Array(data);
  } catch (e) {
    throw new UsageError(`${path}: cannot decode image (${(e as Error).message})`);
  }
}

export const predictCommand: Command = {
  name: 'predict',
  summary: 'top-5 classes of image files, with probabilities',
  usage: 'convnet predict --run DIR [options] IMAGE...',
  description: 'Each image is resized to cover the training images\' size, centre-cropped, and normalised as in training.',
  positionals: [0, Infinity],
  flags: [
    ...RUN_FLAGS,
    { name: 'invert', type: 'boolean', help: 'invert grey levels first (Fashion-MNIST items are light on black; a photo is dark on light)' },
  ],
  env: [ENV.CONVNET_NUM_THREADS, ENV.CONVNET_ISA],
  run: predictRun,
};

async function predictRun(args: Parsed): Promise<number> {
  const values = { checkpoint: 'best', ...args.values } as { run?: string; checkpoint: string; invert?: boolean };
  const positionals = args.positionals;
  if (!positionals.length) throw new UsageError('give one or more image files: convnet predict --run DIR photo.jpg');
  const { ck, cfg } = openRun(values.run, values.checkpoint);
  const st = ck.state.dataset;
  const ds = { name: st.name, classes: st.classes, shape: st.shape as [number, number, number], mean: st.mean, std: st.std };
  const geom = inputGeometry(cfg, ds.shape, ds.name);
  const net = buildModel(cfg, ds, geom.crop);
  net.loadStateDict(ck.model);
  net.eval();
  for (const file of positionals) {
    const pixels = await decode(file, ds);
    // Fashion-MNIST items are light on black: --invert turns a dark-on-light photo around
    if (values.invert) for (let i = 0; i < pixels.length; i++) pixels[i] = 255 - pixels[i];
    const x = Tensor.zeros([1, ds.shape[0], geom.crop, geom.crop]);
    const [c, h, w] = ds.shape, off = (h - geom.crop) >> 1;
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < geom.crop; y++)
        for (let xx = 0; xx < geom.crop; xx++)
          x.data[(ch * geom.crop + y) * geom.crop + xx] = (pixels[((y + off) * w + xx + off) * c + ch] / 255 - ds.mean[ch]) / ds.std[ch];
    const p = softmax(net.forward(x)).data;
    const top = Array.from(p, (v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 5);
    console.log(file);
    for (const [v, i] of top) console.log(`  ${(100 * v).toFixed(2).padStart(6)}%  ${ds.classes[i]}`);
  }
  return 0;
}
