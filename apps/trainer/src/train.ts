/**
 * The training loop: seeded and resumable to the step. Everything random is a pure function of
 * (seed, global step): the epoch's order is Rng(seed, 100 + epoch).permutation, augmentation draws from
 * Rng(seed, 2) at counter step·2^20, dropout from the model's Rng(seed, 1) at counter step·2^26. So a
 * checkpoint needs only the step counters to continue exactly as an uninterrupted run would.
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { alloc, axpy, defaultBackend, listBackends, memoryOf, native, registerBackend, setDefaultBackend, softmax, sumAndSquares, toHostTensor, writeFileAtomic } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { ReduceLROnPlateau, SGD, StepLR, WarmupCosineLR, ConstantLR, biasesWithoutDecay, type LRScheduler } from '@convnet/optim';
import { createModel, modelSpec, type Net } from '@convnet/alexnet';
import { initialiseFromWeights, trainableParameters } from './weights.js';
import { loadCheckpoint, pruneStepCheckpoints, saveCheckpoint, type TrainState } from './checkpoint.js';
import { UsageError, type TrainConfig } from './config.js';
import { RunError } from './errors.js';
import { pluginsOnBackend } from './plugins.js';
import { kebabCase } from './flags.js';
import { mergeResumeConfig, recordConfigHistory, type ResumeChanges } from './resume.js';
import { openSource, type Geometry, type Source } from './source.js';
import { Progress, silentProgress } from './progress.js';
import { reportInfo, writeReport, type EpochMetrics } from './report.js';
import { createRequire } from 'node:module';
import { initDistributed, type Distributed } from './distributed.js';
import { deviceBatches, deviceInput, perStep } from './device-io.js';
import { StopRequest, yieldToEventLoop, type StopSignalName } from './stop.js';
import { readMetrics, removeStaleTempFiles, truncateMetrics } from './runfiles.js';

const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;


export interface TrainResult {
  runDir: string;
  epochs: EpochMetrics[];
  stoppedEarly: boolean;
  finalValTop1Err: number | null;
  /** This process's rank when training data-parallel under mpirun (0 otherwise). */
  rank: number;
  /** Why the run ended before its last epoch: a signal (exit 128 + its number) or --max-steps. */
  stopped?: { reason: 'signal'; signal: StopSignalName } | { reason: 'max-steps' };
  /** Where it stopped: the step count and the checkpoint that continues it. */
  globalStep: number;
}

/** What the model checks need to know about a dataset. */
export interface DataInfo {
  name: string;
  classes: string[];
  /** Stored image size [c, h, w]. */
  shape: [number, number, number];
}

export function inputGeometry(cfg: TrainConfig, shape: [number, number, number], name: string): Geometry {
  const size = shape[1];
  let want: number[];
  try {
    want = modelSpec(cfg.model, { channels: shape[0], imageSize: cfg.crop || size }).input;
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`);
  }
  if (want[0] !== shape[0] || want[1] > size + 2 * cfg.cropPadding)
    throw new UsageError(`--model ${cfg.model} expects ${want.join('×')} inputs; ${name} has ${shape.join('×')} images (use --data with larger images, or a small net: small, cifar-18pct, cifar-80sec)`);
  const crop = cfg.crop || size;
  if (crop > size + 2 * cfg.cropPadding)
    throw new UsageError(`--crop ${crop} is larger than the images (${size}) plus padding (${cfg.cropPadding})`);
  return { crop, pad: cfg.cropPadding };
}

export function buildModel(cfg: TrainConfig, ds: DataInfo, crop: number): Net {
  const opts = { numClasses: ds.classes.length, channels: ds.shape[0], imageSize: crop, seed: cfg.seed, backend: cfg.backend };
  let want: number[];
  try {
    want = modelSpec(cfg.model, opts).input;
  } catch (e) {
    throw new UsageError(`--model: ${(e as Error).message}`);
  }
  if (want[0] !== ds.shape[0] || want[1] !== crop)
    throw new UsageError(`--model ${cfg.model} expects ${want.join('×')} inputs; ${ds.name} gives ${ds.shape[0]}×${crop}×${crop} (use --data with ${want[1]}-pixel images or a small net)`);
  try {
    const net = createModel(cfg.model, opts);
    net.outputShape([1, ds.shape[0], crop, crop]);
    return net;
  } catch (e) {
    throw new UsageError(`--model ${cfg.model} does not fit ${ds.shape[0]}×${crop}×${crop} inputs of ${ds.name}: ${(e as Error).message}`);
  }
}

/**
 * Loss and top-1/top-5 error of `net` on the first `limit` (0: all) test images (centre views, eval mode).
 * On a device backend each batch goes up from pinned memory asynchronously and only the loss/hit scalars come
 * down (device-io.ts); `transfers` then gives the host↔device copies per batch.
 */
export async function evaluate(net: Net, src: Source, limit = 0, batch = 0): Promise<{ loss: number; top1Err: number; top5Err: number; n: number; transfers?: { perBatch: number; bytesPerBatch: number } }> {
  const n = limit ? Math.min(limit, src.testN) : src.testN;
  const b = batch || (src.shape[1] > 64 ? 64 : 500);
  net.eval();
  const ce = new CrossEntropyLoss();
  ce.backend = net.backend;
  const io = deviceBatches(net.backend ?? defaultBackend());
  const xfer0 = io.transfers();
  let loss = 0, top1 = 0, top5 = 0, seen = 0, batches = 0;
  try {
    for await (const { x, labels } of src.testBatches(n, b, io.host)) {
      const r = ce.forward(net.forward(io.upload(x)), labels);
      loss += r.loss * labels.length;
      top1 += r.top1Hits;
      top5 += r.top5Hits;
      seen += labels.length;
      batches++;
    }
  } finally {
    net.train();
  }
  const xfer = xfer0 && perStep(xfer0, io.transfers()!, batches);
  return {
    loss: loss / seen, top1Err: 1 - top1 / seen, top5Err: 1 - top5 / seen, n: seen,
    ...(xfer ? { transfers: { perBatch: xfer.transfersPerStep, bytesPerBatch: xfer.bytesPerStep } } : {}),
  };
}

/** Averaged softmax over views: the centre (1) or 4 corners + centre, each also flipped (10). */
export async function predictViews(net: Net, src: Source, indices: number[], geom: Geometry, views: 1 | 10): Promise<{ probs: Float32Array; labels: Int32Array }> {
  const h = src.shape[1];
  const k = src.classes.length, B = indices.length;
  const probs = new Float32Array(B * k);
  let labels: Int32Array = new Int32Array(B);
  const span = h + 2 * geom.pad - geom.crop;
  const offsets = views === 1 ? [[span >> 1, span >> 1]] : [[0, 0], [0, span], [span, 0], [span, span], [span >> 1, span >> 1]];
  const nViews = offsets.length * (views === 1 ? 1 : 2);
  // on a device: each view goes up from pinned memory, the views' softmax is averaged there, one download at the end
  const backend = net.backend ?? defaultBackend();
  const io = deviceBatches(backend);
  const sum = io.transfers() ? alloc([B, k], backend) : null;
  net.eval();
  try {
    for (const flip of views === 1 ? [false] : [false, true]) {
      for (const [oy, ox] of offsets) {
        const b = await src.viewBatch(indices, { oy, ox, flip });
        labels = b.labels;
        const p = softmax(net.forward(io.upload(b.x)), sum ? { backend } : {});
        if (sum) {
          axpy(1 / nViews, p, sum, { backend });
          p.dispose();
        } else for (let i = 0; i < p.size; i++) probs[i] += p.data[i] / nViews;
      }
    }
    if (sum) probs.set(toHostTensor(sum).data);
  } finally {
    sum?.dispose();
    net.train();
  }
  return { probs, labels };
}

interface Schedule {
  epochEnd: (valErr: number) => void;
  state: () => TrainState['scheduler'];
  load: (s: TrainState['scheduler']) => void;
  /** After load: the lr the schedule gives at its epoch for this configuration (a changed length or step size). */
  recompute: () => void;
}

function makeScheduler(cfg: TrainConfig, opt: SGD): Schedule {
  if (cfg.schedule === 'plateau') {
    const s = new ReduceLROnPlateau(opt, { factor: 0.1, patience: cfg.plateauPatience, threshold: 1e-3 });
    return { epochEnd: (e) => { s.step(e); }, state: () => s.stateDict(), load: (st) => st && s.loadStateDict(st), recompute: () => {} };
  }
  const s: LRScheduler =
    cfg.schedule === 'step' ? new StepLR(opt, cfg.stepSize, 0.1)
    : cfg.schedule === 'cosine' ? new WarmupCosineLR(opt, cfg.warmupEpochs, cfg.epochs, 0, 0.1)
    : new ConstantLR(opt);
  const recompute = () => {
    // closed forms: cosine over cfg.epochs, ÷10 every cfg.stepSize epochs
    if (cfg.schedule === 'cosine') s.step(s.lastEpoch);
    else if (cfg.schedule === 'step') for (const g of opt.paramGroups) g.lr = g.initialLr * 0.1 ** Math.floor(s.lastEpoch / cfg.stepSize);
  };
  return { epochEnd: () => s.step(), state: () => s.stateDict(), load: (st) => st && s.loadStateDict(st), recompute };
}

/** Applies --lr / --epochs / --step-size given on resume to the loaded optimiser and schedule, saying what changed. */
function applyResumeChanges(changes: ResumeChanges, opt: SGD, sched: Schedule, cfg: TrainConfig, log: (l: string) => void): void {
  const before = opt.paramGroups[0].lr;
  if (changes.lr) {
    // a new base lr: every group's base and current lr scaled (the schedule's progress is kept)
    const scale = cfg.lr / opt.paramGroups[0].initialLr;
    for (const g of opt.paramGroups) { g.initialLr *= scale; g.lr *= scale; }
  }
  if (changes.epochs || changes.stepSize) sched.recompute();
  const now = opt.paramGroups[0].lr;
  const what = Object.entries(changes).map(([k, [a, b]]) => `--${kebabCase(k)} ${JSON.stringify(a)} → ${JSON.stringify(b)}`).join(', ');
  if (!what) return;
  const schedNote = changes.epochs || changes.stepSize
    ? cfg.schedule === 'cosine' || cfg.schedule === 'step' ? `; the ${cfg.schedule} schedule is rebuilt for ${cfg.epochs} epochs${cfg.schedule === 'step' ? ` (÷10 every ${cfg.stepSize})` : ''}` : `; the ${cfg.schedule} schedule does not depend on the run's length`
    : '';
  log(`resume: ${what}${schedNote}; lr now ${now.toPrecision(4)}${now !== before ? ` (was ${before.toPrecision(4)})` : ''} (recorded in config-history.jsonl)`);
}

/** True when every parameter is finite (a checkpoint of non-finite weights would resume into NaN). */
function finiteWeights(net: Net): boolean {
  for (const p of net.parameters()) {
    // device memory: Σw² on the device is finite iff every weight is (one scalar down, no copy of the weights)
    if (memoryOf(p.value) !== 'host') {
      if (!Number.isFinite(sumAndSquares(p.value, { backend: net.backend }).sumSquares)) return false;
      continue;
    }
    const d = p.value.data;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return false;
  }
  return true;
}

/**
 * Registers the kernel backend of --device cuda / cuda:N (or cuda-host, the CUDA kernels on the host emulator,
 * for testing) and returns its name; a one-line error says why when the device cannot be used.
 */
export async function deviceBackend(device: string): Promise<string> {
  if (!/^cuda(:\d+|-host)?$/.test(device)) throw new UsageError(`--device: expected cpu, cuda or cuda:N, got '${device}'`);
  let cuda: typeof import('@convnet/cuda');
  try {
    cuda = await import('@convnet/cuda');
  } catch (e) {
    throw new UsageError(`--device ${device}: @convnet/cuda cannot be loaded (${(e as Error).message.split('\n')[0]}); install it, or use --device cpu`);
  }
  if (listBackends().includes(device)) return device;
  if (device === 'cuda-host') {
    registerBackend(cuda.createCudaBackend({ emulator: true, name: 'cuda-host' }));
    pluginsOnBackend(device);
    return device;
  }
  const reason = cuda.cudaUnavailableReason(device);
  if (reason) throw new UsageError(`--device ${device}: ${reason}; use --device cpu`);
  registerBackend(cuda.createCudaBackend({ device: Number(device.split(':')[1] ?? 0), name: device }));
  pluginsOnBackend(device);
  return device;
}

export interface TrainOptions {
  runDir: string;
  resume?: boolean;
  /** Where progress goes (stderr by default). */
  progress?: Progress;
  /** Called with each finished epoch's metrics (rank 0). */
  onEpoch?: (m: EpochMetrics) => void;
  log?: (line: string) => void;
  /** The settings given on this command line (with resume: applied or refused, see resume.ts). */
  given?: Partial<TrainConfig>;
}

export async function train(cfg: TrainConfig, o: TrainOptions): Promise<TrainResult> {
  let log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const ckDir = join(o.runDir, 'checkpoints');
  let resumeFrom: ReturnType<typeof loadCheckpoint> | null = null;
  let changes: ResumeChanges = {};
  if (o.resume) {
    const last = join(ckDir, 'last.safetensors');
    if (!existsSync(last)) throw new UsageError(`--resume: ${o.runDir} has no checkpoints/last.safetensors to resume from`);
    resumeFrom = loadCheckpoint(last);
    // the run's own configuration, with the changes this invocation may make (others are refused)
    const m = mergeResumeConfig(resumeFrom.state.config, o.given ?? {}, o.runDir);
    cfg = m.cfg;
    changes = m.changes;
    const { epoch, stepInEpoch } = resumeFrom.state;
    if (changes.epochs && cfg.epochs < epoch)
      throw new UsageError(`--epochs ${cfg.epochs}: ${o.runDir} has finished ${epoch - 1} epoch${epoch === 2 ? '' : 's'}${stepInEpoch ? ` and is in epoch ${epoch}` : ''}; give --epochs ${epoch} or more`);
  }
  if (cfg.threads) native().setNumThreads(cfg.threads);
  if (cfg.device !== 'cpu') cfg = { ...cfg, backend: await deviceBackend(cfg.device) };
  setDefaultBackend(cfg.backend);
  // under mpirun: one rank of a data-parallel job (see distributed.ts); rank 0 alone prints and writes
  const dist = initDistributed(cfg, { log });
  if (!dist.isRoot) log = () => {};

  let geom: Geometry = { crop: 0, pad: 0 };
  const ds = await openSource(cfg, (shape, name) => (geom = inputGeometry(cfg, shape, name)), { log });
  try {
    return await trainOn(cfg, o, dist.shard(ds), geom, resumeFrom, changes, log, ckDir, dist);
  } finally {
    await ds.close();
  }
}

async function trainOn(cfg: TrainConfig, o: TrainOptions, ds: Source, geom: Geometry, resumeFrom: ReturnType<typeof loadCheckpoint> | null, changes: ResumeChanges, log: (l: string) => void, ckDir: string, dist: Distributed): Promise<TrainResult> {
  const net = buildModel(cfg, ds, geom.crop);
  // --weights initialises a fresh run (a resumed one continues from its checkpoint); --freeze features
  // keeps the feature layers out of the optimiser
  if (cfg.weights && !resumeFrom) initialiseFromWeights(net, cfg, log);
  const params = biasesWithoutDecay(trainableParameters(net, cfg.freeze, log), 1);
  const opt = new SGD(params, { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay, rule: cfg.sgdRule, backend: cfg.backend });
  const sched = makeScheduler(cfg, opt);
  const ce = new CrossEntropyLoss();
  ce.backend = cfg.backend;

  mkdirSync(ckDir, { recursive: true });
  // temp files of checkpoint writes a killed run left behind (hundreds of MB each for the paper net)
  if (dist.isRoot) removeStaleTempFiles([o.runDir, ckDir], log);
  const metricsPath = join(o.runDir, 'metrics.jsonl');
  let state: TrainState = {
    epoch: 1, stepInEpoch: 0, globalStep: 0, bestValTop1Err: Infinity,
    optimizer: { step: 0, groups: [] }, scheduler: null, config: cfg,
    dataset: { name: ds.name, mean: ds.mean, std: ds.std, classes: ds.classes, shape: ds.shape },
  };
  const epochs: EpochMetrics[] = [];
  if (resumeFrom) {
    const file = join(ckDir, 'last.safetensors');
    try {
      net.loadStateDict(resumeFrom.model);
      opt.loadStateDict({ ...resumeFrom.state.optimizer, buffers: resumeFrom.optimBuffers });
      sched.load(resumeFrom.state.scheduler);
    } catch (e) {
      throw new UsageError(`${file}: does not fit --model ${cfg.model} on ${ds.name}: ${(e as Error).message}`);
    }
    applyResumeChanges(changes, opt, sched, cfg, log);
    state = { ...resumeFrom.state, config: cfg };
    if (dist.isRoot && Object.keys(changes).length) {
      writeFileAtomic(join(o.runDir, 'config.json'), JSON.stringify({ ...cfg, maxSteps: 0 }, null, 2) + '\n');
      recordConfigHistory(o.runDir, { event: 'resume', globalStep: state.globalStep, changes });
    }
    // metrics.jsonl holds exactly what the checkpoint has done: lines written after it (steps re-run now, an
    // epoch line whose checkpoint was not written, a torn last line) are dropped
    if (dist.isRoot) truncateMetrics(metricsPath, state.globalStep, state.epoch);
    for (const m of readMetrics(metricsPath)) if (m.type === 'epoch' && (m.epoch as number) < state.epoch) epochs.push(m as unknown as EpochMetrics);
    log(`resuming ${o.runDir} at epoch ${state.epoch}, step ${state.stepInEpoch} (global step ${state.globalStep})`);
  } else if (dist.isRoot) {
    writeFileAtomic(join(o.runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n', { mkdir: true });
    writeFileSync(metricsPath, '');
    recordConfigHistory(o.runDir, { event: 'start', globalStep: 0, config: cfg });
  }
  // every rank starts from rank 0's weights; dropout draws and gradient buckets set up
  dist.attach(net);

  const trainN = ds.trainN;
  const stepsPerEpoch = Math.floor(trainN / cfg.batchSize);
  if (stepsPerEpoch < 1) throw new UsageError(`--batch-size ${cfg.batchSize} is larger than the training set (${trainN} images)`);
  const B = cfg.batchSize;
  // the batch the loader fills; on a device backend pinned memory, uploaded asynchronously each step (device-io.ts)
  const io = deviceInput(cfg.backend, [dist.localBatch, ds.shape[0], geom.crop, geom.crop]);
  const x = io.host;
  const labels = new Int32Array(dist.localBatch);
  const progress = dist.isRoot ? o.progress ?? new Progress() : silentProgress;

  const stop = new StopRequest(log).install();
  let interrupted = false;
  let lastGood = resumeFrom ? state.globalStep : -1;
  const lastFile = join(ckDir, 'last.safetensors');
  const diverged = (what: string) => new RunError(
    `${what} at epoch ${state.epoch}, step ${state.stepInEpoch} (global ${state.globalStep}): training stopped. ` +
    (lastGood >= 0 ? `${lastFile} (global step ${lastGood}) has the last finite weights; continue from it with a lower learning rate: convnet train --resume ${o.runDir} --lr ${(opt.paramGroups[0].initialLr / 10).toPrecision(2)}` : 'no checkpoint was written yet; start again with a lower --lr'));
  // a checkpoint's copies (finiteness scalars, one download per tensor) are not counted in the per-step transfers
  const checkpoint = (name: string) => io.aside(() => {
    if (!finiteWeights(net)) throw diverged('the weights became non-finite');
    if (name === 'last.safetensors') lastGood = state.globalStep;
    if (!dist.isRoot) return;
    state.optimizer = { step: opt.stepCount, groups: opt.paramGroups.map((g) => ({ lr: g.lr, initialLr: g.initialLr })) };
    state.scheduler = sched.state();
    saveCheckpoint(join(ckDir, name), net, opt, state);
  });
  const report = async () =>
    dist.isRoot && writeReport(join(o.runDir, 'report.html'), {
      title: `convnet: ${cfg.model} on ${ds.name}`, config: cfg as unknown as Record<string, unknown>, epochs, info: reportInfo(PACKAGE_VERSION, native().info().isa),
      conv1: (() => { const w = net.firstConvWeight(); const h = w && toHostTensor(w); return h ? { data: h.data, shape: h.shape } : undefined; })(),
    });

  let stoppedEarly = false;
  let stopped: TrainResult['stopped'];
  // a fresh run's weights at step 0: what a NaN in the first epoch can resume from with a lower --lr
  if (!resumeFrom) checkpoint('last.safetensors');
  try {
    for (; state.epoch <= cfg.epochs; state.epoch++, state.stepInEpoch = 0) {
      const t0 = performance.now();
      const wait0 = ds.waitMs;
      const comm0 = dist.commWaitMs;
      let lossSum = 0, top1 = 0, top5 = 0, seen = 0, steps = 0;
      const xfer0 = io.transfers();
      const batches = ds.trainBatches(state.epoch, state.stepInEpoch, stepsPerEpoch, state.globalStep, x, labels);
      for (; state.stepInEpoch < stepsPerEpoch; ) {
        if (cfg.maxSteps && state.globalStep >= cfg.maxSteps) { stoppedEarly = true; break; }
        io.beforeFill();
        if ((await batches.next()).done) throw new Error(`internal: the data source ended at step ${state.stepInEpoch} of ${stepsPerEpoch}`);
        const dataMs = ds.waitMs - wait0;
        net.dropoutRng.counter = state.globalStep * 2 ** 26;
        const local = ce.forward(net.forward(io.upload()), labels);
        if (!Number.isFinite(local.loss)) throw diverged(`the loss became ${local.loss}`);
        dist.beforeBackward();
        net.backward(ce.backward());
        dist.afterBackward();
        opt.step();
        // signal handlers run here; then the global batch's loss and hits, and a stop any rank was asked for
        // (so all ranks stop after the same step)
        await yieldToEventLoop();
        const r = dist.reduceStep(local, stop.signal !== null);
        interrupted = r.interrupted;
        state.stepInEpoch++;
        state.globalStep++;
        lossSum += r.loss * B; top1 += r.top1Hits; top5 += r.top5Hits; seen += B; steps++;
        // device runs: host↔device copies per step so far this epoch (images + labels up, scalars down)
        const xfer = xfer0 && perStep(xfer0, io.transfers()!, steps);
        if (dist.isRoot && cfg.logEvery && state.globalStep % cfg.logEvery === 0)
          appendFileSync(metricsPath, JSON.stringify({ type: 'step', epoch: state.epoch, step: state.globalStep, loss: r.loss, seconds: +((performance.now() - t0) / 1000).toFixed(4), ...(xfer ? { transfersPerStep: xfer.transfersPerStep, transferBytesPerStep: xfer.bytesPerStep } : {}) }) + '\n');
        const el = (performance.now() - t0) / 1000;
        progress.update({
          epoch: state.epoch, epochs: cfg.epochs, step: state.stepInEpoch, steps: stepsPerEpoch, loss: lossSum / seen,
          top1Err: 1 - top1 / seen, top5Err: 1 - top5 / seen, imagesPerSec: seen / el, dataWaitShare: dataMs / 1000 / el,
          ...(dist.size > 1 ? { commWaitShare: (dist.commWaitMs - comm0) / 1000 / el } : {}),
          ...(xfer ? { transfersPerStep: xfer.transfersPerStep, transferBytesPerStep: xfer.bytesPerStep } : {}),
          etaSec: (el / seen) * B * (stepsPerEpoch - state.stepInEpoch),
        });
        if (cfg.checkpointEvery && state.globalStep % cfg.checkpointEvery === 0) {
          checkpoint(`step-${state.globalStep}.safetensors`);
          checkpoint('last.safetensors');
          if (dist.isRoot) pruneStepCheckpoints(ckDir, cfg.keepCheckpoints);
        }
        if (interrupted) break;
      }
      await batches.return(undefined);
      const dataMs = ds.waitMs - wait0;
      const xferEpoch = xfer0 && perStep(xfer0, io.transfers()!, steps);
      progress.done();
      if (interrupted) {
        checkpoint('last.safetensors');
        stopped = { reason: 'signal', signal: stop.signal ?? 'SIGTERM' };
        log(`stopped by ${stopped.signal} at epoch ${state.epoch}, step ${state.stepInEpoch}/${stepsPerEpoch} (global step ${state.globalStep}); checkpoint ${join(ckDir, 'last.safetensors')}; continue with: convnet train --resume ${o.runDir}`);
        stoppedEarly = true;
        break;
      }
      if (stoppedEarly) {
        checkpoint('last.safetensors');
        stopped = { reason: 'max-steps' };
        log(`stopped at --max-steps ${cfg.maxSteps}: epoch ${state.epoch}, step ${state.stepInEpoch}/${stepsPerEpoch}; checkpoint ${join(ckDir, 'last.safetensors')}; continue with: convnet train --resume ${o.runDir} (add --max-steps N to stop again)`);
        break;
      }
      const seconds = (performance.now() - t0) / 1000;
      const ev = await evaluate(net, ds, cfg.limitTest);
      const val = dist.reduceEval(ev);
      const lr = opt.paramGroups[0].lr;
      const m: EpochMetrics = {
        epoch: state.epoch, trainLoss: lossSum / seen, trainTop1Err: 1 - top1 / seen, trainTop5Err: 1 - top5 / seen,
        valLoss: val.loss, valTop1Err: val.top1Err, valTop5Err: val.top5Err, lr, imagesPerSec: seen / seconds,
        dataWaitShare: dataMs / 1000 / seconds, seconds,
        ...(dist.size > 1 ? { commWaitShare: (dist.commWaitMs - comm0) / 1000 / seconds, ranks: dist.size } : {}),
        ...(xferEpoch ? { transfersPerStep: xferEpoch.transfersPerStep, transferBytesPerStep: xferEpoch.bytesPerStep } : {}),
        ...(ev.transfers ? { valTransfersPerBatch: ev.transfers.perBatch, valTransferBytesPerBatch: ev.transfers.bytesPerBatch } : {}),
      };
      epochs.push(m);
      if (dist.isRoot) appendFileSync(metricsPath, JSON.stringify({ type: 'epoch', ...m }) + '\n');
      if (dist.isRoot) o.onEpoch?.(m);
      log(`epoch ${state.epoch}/${cfg.epochs}: train loss ${m.trainLoss.toFixed(4)}, val loss ${val.loss.toFixed(4)}, val top-1 error ${(100 * val.top1Err).toFixed(2)}% (accuracy ${(100 - 100 * val.top1Err).toFixed(2)}%), top-5 error ${(100 * val.top5Err).toFixed(2)}%, lr ${lr.toPrecision(3)}, ${m.imagesPerSec.toFixed(0)} img/s, ${seconds.toFixed(1)} s`);
      sched.epochEnd(val.top1Err);
      // the checkpoint of a finished epoch resumes at the start of the next one
      const isBest = val.top1Err < state.bestValTop1Err;
      if (isBest) state.bestValTop1Err = val.top1Err;
      state.epoch++;
      state.stepInEpoch = 0;
      checkpoint('last.safetensors');
      if (isBest) checkpoint('best.safetensors');
      await report();
      state.epoch--;
    }
  } finally {
    stop.dispose();
  }
  await report();
  return { runDir: o.runDir, epochs, stoppedEarly, finalValTop1Err: epochs.at(-1)?.valTop1Err ?? null, rank: dist.rank, stopped, globalStep: state.globalStep };
}
