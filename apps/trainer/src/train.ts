/**
 * The training loop: seeded and resumable to the step. Everything random is a pure function of the seed and
 * the step counters: the data order and augmentation are @convnet/imagenet's Loader's (epoch e's order from
 * Rng(seed, 2^20 + e), batch b's augmentation from Rng(seed, 2·2^20 + e) at counter b·batchSize·8), dropout draws
 * from the model's Rng(seed, 1) at counter globalStep·2^26. So a checkpoint needs only the step counters to
 * continue exactly as an uninterrupted run would.
 *
 * The jobs around the loop live beside it: setting up (setup.ts: geometry, model, device), the schedule
 * (schedule.ts), checkpoints (checkpoint.ts), evaluation (evaluate.ts), what the run writes (reporting.ts),
 * stopping on signals (stop.ts) and data-parallel glue (distributed.ts).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { native, setDefaultBackend } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import { SGD, biasesWithoutDecay } from '@convnet/optim';
import { initialiseFromWeights, trainableParameters } from './weights.js';
import { Checkpoints, loadCheckpoint, type Checkpoint, type EpochSums, type TrainState } from './checkpoint.js';
import { UsageError, type TrainConfig } from './config.js';
import { mergeResumeConfig, type ResumeChanges } from './resume.js';
import { openSource, type Geometry, type Source } from './source.js';
import { Progress, silentProgress } from './progress.js';
import type { EpochMetrics } from './report.js';
import { initDistributed, openProcessGroup, shareCheckpoint, type Distributed } from './distributed.js';
import { deviceInput, perStep } from './device-io.js';
import { StopRequest, yieldToEventLoop, type StopSignalName } from './stop.js';
import { buildModel, deviceBackend, inputGeometry } from './setup.js';
import { applyResumeChanges, makeScheduler } from './schedule.js';
import { evaluate } from './evaluate.js';
import { RunLog } from './reporting.js';
import { makeDirectory } from './runfiles.js';

// what other modules (inference, export) import from here
export { buildModel, deviceBackend, inputGeometry, type DataInfo } from './setup.js';
export { evaluate, predictViews } from './evaluate.js';

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
  // under mpirun: one rank of a data-parallel job (see distributed.ts); rank 0 alone reads the checkpoint,
  // prints and writes
  const pg = openProcessGroup();
  let resumeFrom: Checkpoint | null = null;
  let changes: ResumeChanges = {};
  if (o.resume) {
    const last = join(ckDir, 'last.safetensors');
    resumeFrom = shareCheckpoint(pg, () => {
      if (!existsSync(last)) throw new UsageError(`--resume: ${o.runDir} has no checkpoints/last.safetensors to resume from`);
      return loadCheckpoint(last);
    });
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
  const dist = initDistributed(cfg, { pg, log });
  if (!dist.isRoot) log = () => {};

  let geom: Geometry = { crop: 0, pad: 0 };
  const ds = await openSource(cfg, (shape, name) => (geom = inputGeometry(cfg, shape, name)), { log });
  let result: TrainResult;
  try {
    result = await trainOn(cfg, o, dist.shard(ds), geom, resumeFrom, changes, log, ckDir, dist);
  } finally {
    await ds.close();
  }
  // every rank waits for rank 0's files, then MPI ends cleanly (the exit code may then say "interrupted")
  dist.close();
  return result;
}

const noSums = (): EpochSums => ({ loss: 0, top1: 0, top5: 0, seen: 0, seconds: 0 });

async function trainOn(cfg: TrainConfig, o: TrainOptions, ds: Source, geom: Geometry, resumeFrom: Checkpoint | null, changes: ResumeChanges, log: (l: string) => void, ckDir: string, dist: Distributed): Promise<TrainResult> {
  const net = buildModel(cfg, ds, geom.crop);
  // --weights initialises a fresh run (a resumed one continues from its checkpoint); --freeze features
  // keeps the feature layers out of the optimiser
  if (cfg.weights && !resumeFrom) initialiseFromWeights(net, cfg, log);
  const params = biasesWithoutDecay(trainableParameters(net, cfg.freeze, log), 1);
  const opt = new SGD(params, { lr: cfg.lr, momentum: cfg.momentum, weightDecay: cfg.weightDecay, rule: cfg.sgdRule, backend: cfg.backend });
  const ce = new CrossEntropyLoss();
  ce.backend = cfg.backend;
  const stepsPerEpoch = Math.floor(ds.trainN / cfg.batchSize);
  if (stepsPerEpoch < 1) throw new UsageError(`--batch-size ${cfg.batchSize} is larger than the training set (${ds.trainN} images)`);
  const sched = makeScheduler(cfg, opt, stepsPerEpoch);

  // one level at a time (Node 20's recursive mkdir spins on /proc/x): an unusable --run is a one-line error
  if (dist.isRoot) for (const d of [o.runDir, ckDir]) makeDirectory(d, o.resume ? '--resume' : '--run');
  const runLog = new RunLog(o.runDir, dist.isRoot, log);
  runLog.clean(ckDir);
  let state: TrainState = {
    epoch: 1, stepInEpoch: 0, globalStep: 0, bestValTop1Err: Infinity,
    optimizer: { step: 0, groups: [] }, scheduler: null, config: cfg,
    dataset: { name: ds.name, mean: ds.mean, std: ds.std, classes: ds.classes, shape: ds.shape },
  };
  if (resumeFrom) {
    try {
      net.loadStateDict(resumeFrom.model);
      opt.loadStateDict({ ...resumeFrom.state.optimizer, buffers: resumeFrom.optimBuffers });
      sched.load(resumeFrom.state.scheduler);
    } catch (e) {
      throw new UsageError(`${join(ckDir, 'last.safetensors')}: does not fit --model ${cfg.model} on ${ds.name}: ${(e as Error).message}`);
    }
    applyResumeChanges(changes, opt, sched, cfg, log);
    state = { ...resumeFrom.state, config: cfg };
    runLog.resume(cfg, changes, state.globalStep, state.epoch);
    log(`resuming ${o.runDir} at epoch ${state.epoch}, step ${state.stepInEpoch} (global step ${state.globalStep})`);
  } else {
    runLog.start(cfg);
  }
  // every rank starts from rank 0's weights; dropout draws and gradient buckets set up
  dist.attach(net);
  const ck = new Checkpoints(ckDir, o.runDir, dist.isRoot, net, opt, sched, resumeFrom ? state.globalStep : null);

  const B = cfg.batchSize;
  // the batch the loader fills; on a device backend pinned memory, uploaded asynchronously each step (device-io.ts)
  const io = deviceInput(cfg.backend, [dist.localBatch, ds.shape[0], geom.crop, geom.crop]);
  const x = io.host;
  const labels = new Int32Array(dist.localBatch);
  const progress = dist.isRoot ? o.progress ?? new Progress() : silentProgress;

  const stop = new StopRequest(log).install();
  dist.watchStop(() => stop.signal !== null);
  const stopLine = (where: string) => {
    const signal = stop.signal ?? 'SIGTERM';
    log(`stopped by ${signal} ${where} (global step ${state.globalStep}); checkpoint ${ck.lastFile}; continue with: convnet train --resume ${o.runDir}`);
    return { reason: 'signal' as const, signal };
  };

  let stoppedEarly = false;
  let stopped: TrainResult['stopped'];
  // a fresh run's weights at step 0: what a NaN in the first epoch can resume from with a lower --lr
  if (!resumeFrom) ck.save('last.safetensors', state);
  try {
    for (; state.epoch <= cfg.epochs; state.epoch++, state.stepInEpoch = 0) {
      // the epoch's sums so far (a run resumed mid-epoch continues them: its epoch line equals an uninterrupted run's)
      const sums = state.epochSums ?? noSums();
      delete state.epochSums;
      const t0 = performance.now() - sums.seconds * 1000;
      const seconds = () => (performance.now() - t0) / 1000;
      const save = (name: string) => ck.save(name, { ...state, epochSums: { ...sums, seconds: seconds() } });
      const wait0 = ds.waitMs;
      const comm0 = dist.commWaitMs;
      let steps = 0, interrupted = false;
      const xfer0 = io.transfers();
      if (state.stepInEpoch < stepsPerEpoch && !(cfg.maxSteps && state.globalStep >= cfg.maxSteps)) {
        const batches = ds.trainBatches(state.epoch, state.stepInEpoch, stepsPerEpoch, state.globalStep, x, labels);
        // returned however the loop ends (a NaN stop too): batches still being made are then collected before the
        // source closes (a pending prefetch rejected by the close was an unhandled "Loader: closed")
        try {
          for (; state.stepInEpoch < stepsPerEpoch; ) {
            if (cfg.maxSteps && state.globalStep >= cfg.maxSteps) { stoppedEarly = true; break; }
            io.beforeFill();
            if ((await batches.next()).done) throw new Error(`internal: the data source ended at step ${state.stepInEpoch} of ${stepsPerEpoch}`);
            const dataMs = ds.waitMs - wait0;
            net.dropoutRng.counter = state.globalStep * 2 ** 26;
            const local = ce.forward(net.forward(io.upload()), labels);
            if (!Number.isFinite(local.loss)) throw ck.diverged(`the loss became ${local.loss}`, state);
            dist.beforeBackward();
            net.backward(ce.backward());
            dist.afterBackward();
            sched.beforeStep?.(state.globalStep);
            opt.step();
            // signal handlers run here; then the global batch's loss and hits, and a stop any rank was asked for
            // (so all ranks stop after the same step)
            await yieldToEventLoop();
            const r = dist.reduceStep(local, stop.signal !== null);
            interrupted = r.interrupted;
            state.stepInEpoch++;
            state.globalStep++;
            ck.noteLoss(r.loss);
            sums.loss += r.loss * B; sums.top1 += r.top1Hits; sums.top5 += r.top5Hits; sums.seen += B; steps++;
            // device runs: host↔device copies per step so far this epoch (images + labels up, scalars down)
            const xfer = xfer0 && perStep(xfer0, io.transfers()!, steps);
            const el = seconds();
            if (cfg.logEvery && state.globalStep % cfg.logEvery === 0)
              runLog.step({ epoch: state.epoch, step: state.globalStep, loss: r.loss, seconds: +el.toFixed(4), ...(xfer ? { transfersPerStep: xfer.transfersPerStep, transferBytesPerStep: xfer.bytesPerStep } : {}) });
            progress.update({
              epoch: state.epoch, epochs: cfg.epochs, step: state.stepInEpoch, steps: stepsPerEpoch, loss: sums.loss / sums.seen,
              top1Err: 1 - sums.top1 / sums.seen, top5Err: 1 - sums.top5 / sums.seen, imagesPerSec: sums.seen / el, dataWaitShare: dataMs / 1000 / el,
              ...(dist.size > 1 ? { commWaitShare: (dist.commWaitMs - comm0) / 1000 / el } : {}),
              ...(xfer ? { transfersPerStep: xfer.transfersPerStep, transferBytesPerStep: xfer.bytesPerStep } : {}),
              etaSec: (el / sums.seen) * B * (stepsPerEpoch - state.stepInEpoch),
            });
            if (cfg.checkpointEvery && state.globalStep % cfg.checkpointEvery === 0) {
              const st = { ...state, epochSums: { ...sums, seconds: el } };
              // its copies (finiteness scalars, one download per tensor) are not counted as the steps' transfers
              io.aside(() => ck.periodic(st, cfg.keepCheckpoints));
            }
            if (interrupted) break;
          }
        } finally {
          await batches.return(undefined);
        }
      } else if (state.stepInEpoch < stepsPerEpoch) {
        stoppedEarly = true;
      }
      const dataMs = ds.waitMs - wait0;
      const xferEpoch = xfer0 && perStep(xfer0, io.transfers()!, steps);
      progress.done();
      if (interrupted) {
        save('last.safetensors');
        stopped = stopLine(`at epoch ${state.epoch}, step ${state.stepInEpoch}/${stepsPerEpoch}`);
        stoppedEarly = true;
        break;
      }
      if (stoppedEarly) {
        save('last.safetensors');
        stopped = { reason: 'max-steps' };
        log(`stopped at --max-steps ${cfg.maxSteps}: epoch ${state.epoch}, step ${state.stepInEpoch}/${stepsPerEpoch}; checkpoint ${ck.lastFile}; continue with: convnet train --resume ${o.runDir} (add --max-steps N to stop again)`);
        break;
      }
      const trainSeconds = seconds();
      // the test pass stops within a batch on a signal: the checkpoint then holds the whole epoch's training,
      // and the resumed run evaluates it
      dist.syncBuffers(net);
      const v = await evaluate(net, ds, cfg.limitTest, 0, dist.evalStop);
      if (v.interrupted) {
        save('last.safetensors');
        stopped = stopLine(`during the test pass after epoch ${state.epoch}`);
        stoppedEarly = true;
        break;
      }
      const val = dist.reduceEval(v);
      const lr = opt.paramGroups[0].lr;
      const m: EpochMetrics = {
        epoch: state.epoch, trainLoss: sums.loss / sums.seen, trainTop1Err: 1 - sums.top1 / sums.seen, trainTop5Err: 1 - sums.top5 / sums.seen,
        valLoss: val.loss, valTop1Err: val.top1Err, valTop5Err: val.top5Err, lr, imagesPerSec: sums.seen / trainSeconds,
        dataWaitShare: dataMs / 1000 / trainSeconds, seconds: trainSeconds,
        ...(dist.size > 1 ? { commWaitShare: (dist.commWaitMs - comm0) / 1000 / trainSeconds, ranks: dist.size } : {}),
        ...(xferEpoch ? { transfersPerStep: xferEpoch.transfersPerStep, transferBytesPerStep: xferEpoch.bytesPerStep } : {}),
        ...(v.transfers ? { valTransfersPerBatch: v.transfers.perBatch, valTransferBytesPerBatch: v.transfers.bytesPerBatch } : {}),
      };
      runLog.epoch(m, cfg.epochs);
      if (dist.isRoot) o.onEpoch?.(m);
      sched.epochEnd(val.top1Err);
      // the checkpoint of a finished epoch resumes at the start of the next one
      // a non-finite test loss never makes a best checkpoint (its error rate is not a score)
      const isBest = Number.isFinite(val.loss) && val.top1Err < state.bestValTop1Err;
      if (!Number.isFinite(val.loss)) log(`epoch ${state.epoch}: the test loss is ${val.loss}: best.safetensors is not replaced`);
      if (isBest) state.bestValTop1Err = val.top1Err;
      state.epoch++;
      state.stepInEpoch = 0;
      ck.save('last.safetensors', state);
      if (isBest) ck.save('best.safetensors', state);
      await runLog.report(cfg, ds.name, net);
      state.epoch--;
    }
  } finally {
    stop.dispose();
    ck.dispose();
  }
  await runLog.report(cfg, ds.name, net);
  const epochs = runLog.epochs;
  return { runDir: o.runDir, epochs, stoppedEarly, finalValTop1Err: epochs.at(-1)?.valTop1Err ?? null, rank: dist.rank, stopped, globalStep: state.globalStep };
}
