/**
 * `convnet train`: flags → configuration → train(). Defaults depend on the data and model (the paper's recipe for
 * image data and the ImageNet nets), and help shows the defaults that apply to the --data/--model given.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { BASE_CONFIG, PAPER_RECIPE, SMALL_RECIPE, configFlags, readConfigFile, validateConfig, type TrainConfig } from './config.js';
import { UsageError } from './errors.js';
import { ENV, camelCase, type Command, type FlagSpec, type Parsed } from './flags.js';
import { isImageTree, isPackedDataset } from './packsrc.js';
import { exitCodeFor } from './stop.js';
import { train } from './train.js';
import { silentProgress } from './progress.js';
import type { EpochMetrics } from './report.js';

/** train's own flags (not training settings). */
export const TRAIN_RUN_FLAGS: FlagSpec[] = [
  { name: 'run', type: 'string', value: 'DIR', group: 'run', help: 'run directory (default runs/<model>-<data>-<time>)' },
  { name: 'resume', type: 'string', value: 'DIR', group: 'run', help: 'continue the run in DIR exactly from its last checkpoint' },
  { name: 'force', type: 'boolean', group: 'run', help: 'start over in an existing --run directory (its checkpoints, metrics and report are deleted)' },
  { name: 'quiet', type: 'boolean', group: 'output', help: 'no progress or epoch lines: only errors and the final result line' },
  { name: 'json', type: 'boolean', group: 'output', help: 'for scripts: one JSON object per line on stdout (each epoch, then the result); nothing else but errors' },
  { name: 'config', type: 'string', value: 'FILE', group: 'run', help: 'JSON file of settings (camelCase keys: the flags below; schema: convnet schema); flags override it' },
];

/** The defaults that apply for this data, model and config file: BASE_CONFIG, the small nets' recipe, or the paper's (image data). */
export function defaultsFor(data: string | undefined, model: string | undefined): TrainConfig {
  let cfg: TrainConfig = { ...BASE_CONFIG };
  // ImageNet-like data (an image tree or a packed dataset) trains the paper's net unless told otherwise
  const imageData = data !== undefined && existsSync(data) && (isPackedDataset(data) || isImageTree(data));
  const m = model ?? (imageData ? 'paper' : cfg.model);
  // the paper's recipe (90 epochs, lr 0.01 ÷10 on plateau, 227 crops, PCA lighting) for the ImageNet nets
  if (m === 'paper' || m === 'torchvision') cfg = { ...cfg, ...PAPER_RECIPE, model: m, crop: m === 'paper' ? 227 : 224 };
  else {
    if (m === 'small' || m === 'cifar-18pct' || m === 'cifar-80sec') cfg = { ...cfg, ...SMALL_RECIPE, model: m };
    if (imageData) cfg = { ...cfg, lighting: 0.1 };
  }
  if (data !== undefined) cfg.data = data;
  return cfg;
}

function trainFlags(given: Record<string, unknown>): FlagSpec[] {
  let file: Partial<TrainConfig> = {};
  try {
    if (typeof given.config === 'string') file = readConfigFile(given.config);
  } catch {
    // help still shows; the run itself reports the file's error
  }
  const data = (given.data as string | undefined) ?? file.data;
  const model = (given.model as string | undefined) ?? file.model;
  return [...TRAIN_RUN_FLAGS, ...configFlags({ ...defaultsFor(data, model), ...file })];
}

/** The configuration from parsed flags: defaults for the data/model, then the --config file, then flags. */
export function configFromArgs(values: Record<string, unknown>): { cfg: TrainConfig; given: Partial<TrainConfig> } {
  const file = typeof values.config === 'string' ? readConfigFile(values.config) : {};
  const given: Record<string, unknown> = { ...file };
  for (const [k, v] of Object.entries(values)) if (camelCase(k) in BASE_CONFIG) given[camelCase(k)] = v;
  const cfg = validateConfig({ ...defaultsFor(given.data as string | undefined, given.model as string | undefined), ...given } as TrainConfig);
  return { cfg, given: given as Partial<TrainConfig> };
}

/** A fresh run's directory name: runs/<model>-<data>-<UTC time>-<4 random hex digits> (two runs in one second differ). */
export function defaultRunDir(cfg: TrainConfig): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const data = cfg.data === 'default' ? 'fashion-mnist' : basename(resolve(cfg.data)).replace(/[^\w.-]/g, '_');
  return join('runs', `${cfg.model}-${data}-${stamp}-${randomBytes(2).toString('hex')}`);
}

/** This process's rank when started by mpirun (0 otherwise): rank 0 alone reads and writes the run directory. */
const mpiRank = () => Number(process.env.OMPI_COMM_WORLD_RANK ?? process.env.PMIX_RANK ?? 0);

const RUN_FILES = ['config.json', 'config-history.jsonl', 'metrics.jsonl', 'report.html', 'report.png', 'checkpoints'];

/** A fresh run never lands silently on an earlier one: an existing run directory needs --resume or --force. */
function claimRunDir(dir: string, force: boolean): void {
  // under mpirun rank 0 alone decides (the others would see the files rank 0 is writing)
  if (mpiRank() !== 0) return;
  const present = RUN_FILES.filter((f) => existsSync(join(dir, f)));
  if (!present.length) return;
  if (!force) throw new UsageError(`--run ${dir} holds a run already (${present.join(', ')}): continue it with --resume ${dir}, or start over with --force`);
  for (const f of present) rmSync(join(dir, f), { recursive: true, force: true });
}

async function run(args: Parsed): Promise<number> {
  const { cfg, given } = configFromArgs(args.values);
  const resume = args.values.resume as string | undefined;
  const runDir = args.values.run as string | undefined;
  // under mpirun rank 0 alone reads the run (the others need no copy of it: multi-host without a shared file system)
  if (resume && !existsSync(resume) && mpiRank() === 0) throw new UsageError(`--resume: no run directory ${resume}`);
  if (resume && runDir && resolve(resume) !== resolve(runDir)) throw new UsageError(`--run ${runDir} and --resume ${resume} name different directories (give --resume alone)`);
  if (resume && args.values.force) throw new UsageError('--force starts a run over; it cannot go with --resume');
  const dir = resolve(resume ?? runDir ?? defaultRunDir(cfg));
  if (!resume) claimRunDir(dir, !!args.values.force);
  const quiet = !!args.values.quiet || !!args.values.json;
  const json = !!args.values.json;
  const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
  const r = await train(cfg, {
    runDir: dir, resume: !!resume, given,
    ...(quiet ? { log: () => {}, progress: silentProgress } : {}),
    ...(json ? { onEpoch: (m: EpochMetrics) => out({ type: 'epoch', ...m }) } : {}),
  });
  const code = r.stopped?.reason === 'signal' ? exitCodeFor(r.stopped.signal) : 0;
  if (r.rank) return code; // data-parallel: rank 0 alone reports
  const last = r.epochs.at(-1);
  if (json) {
    const best = r.epochs.reduce<EpochMetrics | null>((b, m) => (m.valTop1Err !== undefined && (!b || m.valTop1Err < b.valTop1Err!) ? m : b), null);
    out({
      type: 'result', runDir: dir, globalStep: r.globalStep, epochs: r.epochs.length, stopped: r.stopped ?? null, exitCode: code,
      final: last ? { epoch: last.epoch, top1Err: last.valTop1Err, top5Err: last.valTop5Err } : null,
      best: best ? { epoch: best.epoch, top1Err: best.valTop1Err, top5Err: best.valTop5Err } : null,
    });
    return code;
  }
  if (r.stopped) {
    console.log(`stopped (${r.stopped.reason === 'signal' ? r.stopped.signal : '--max-steps'}) at step ${r.globalStep}; run directory: ${dir}; continue with: convnet train --resume ${dir}`);
    return code;
  }
  if (last?.valTop1Err !== undefined) console.log(`test accuracy ${(100 * (1 - last.valTop1Err)).toFixed(2)}% (top-1 error ${(100 * last.valTop1Err).toFixed(2)}%, top-5 error ${(100 * last.valTop5Err!).toFixed(2)}%) after ${last.epoch} epoch${last.epoch === 1 ? '' : 's'}`);
  console.log(`run directory: ${dir} (report.html, metrics.jsonl, checkpoints/)`);
  return 0;
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a network (default: a small convnet on Fashion-MNIST); --resume DIR continues a run',
  usage: 'convnet train [--data D] [--model M] [--run DIR] [options]   |   convnet train --resume DIR [options]',
  description:
    'Every setting is a flag and a key of a --config JSON file: the flag is the key in kebab-case (--weight-decay =\n' +
    'weightDecay). The defaults shown are those that apply to the --data and --model given (the paper\'s recipe for\n' +
    'image data and the paper/torchvision nets).',
  flags: trainFlags,
  env: [ENV.CONVNET_NUM_THREADS, ENV.CONVNET_ISA, ENV.CONVNET_MATMUL_PRECISION, ENV.CONVNET_CACHE, ENV.CONVNET_DIST_TIMEOUT],
  notes: 'examples:\n  convnet train --epochs 10 --lr 0.02\n  convnet train --data /data/inet            # packed ImageNet: the paper\'s net and recipe\n  mpirun -n 2 convnet train --data /data/inet  # data-parallel, one process per rank',
  run,
};
