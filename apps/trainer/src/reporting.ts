/**
 * What a run writes besides checkpoints (rank 0 alone under mpirun): config.json and config-history.jsonl,
 * metrics.jsonl (a line per --log-every steps and one per epoch; after a resume exactly the lines the checkpoint
 * has done, see truncateMetrics), the epoch lines on the console, and report.html/report.png.
 */
import { appendFileSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { native, toHostTensor, writeFileAtomic } from '@convnet/tensor';
import type { Net } from '@convnet/alexnet';
import type { TrainConfig } from './config.js';
import { recordConfigHistory, type ResumeChanges } from './resume.js';
import { readMetrics, removeStaleTempFiles, truncateMetrics } from './runfiles.js';
import { reportInfo, writeReport, type EpochMetrics } from './report.js';
import { createRequire } from 'node:module';
import { EVENT_FILE, EventFileWriter, filterGridPixels, type SummaryValue } from './tfevents.js';
import { readRunStatus, writeRunStatus, type RunEnd } from './runstatus.js';

const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export class RunLog {
  readonly metricsPath: string;
  /** Every finished epoch's metrics (those before a resume read back from metrics.jsonl). */
  readonly epochs: EpochMetrics[] = [];
  /**
   * TensorBoard event files (tfevents.ts): the run directory, DIR/<run name> for `--tensorboard DIR`, or none; a
   * resume without --tensorboard keeps the run's choice (status.json's `events`).
   */
  eventsDir: string | null;
  private events: EventFileWriter | null = null;
  private epochStep = 0;
  private filtersDone = -1;
  private readonly tensorboardGiven: boolean;

  constructor(
    readonly runDir: string, private readonly writer: boolean, private readonly log: (line: string) => void,
    tensorboard?: string | false,
  ) {
    this.metricsPath = join(runDir, 'metrics.jsonl');
    this.tensorboardGiven = tensorboard !== undefined;
    if (tensorboard === false) this.eventsDir = null;
    else this.eventsDir = tensorboard ? join(resolve(tensorboard), basename(resolve(runDir))) : runDir;
  }

  private openEvents(cfg: TrainConfig, step: number, resumed: boolean): void {
    if (!this.writer || !this.eventsDir) return;
    // a fresh run: event files already there are an earlier run's of the same name (--force)
    if (!resumed && existsSync(this.eventsDir))
      for (const f of readdirSync(this.eventsDir))
        if (EVENT_FILE.test(f)) rmSync(join(this.eventsDir, f), { force: true });
    this.events = new EventFileWriter(this.eventsDir);
    if (resumed) this.events.sessionStart(step);
    const text = '    ' + JSON.stringify(cfg, null, 2).replace(/\n/g, '\n    ');
    this.events.summary(step, [{ tag: 'config', text }]);
  }

  /** Temp files of writes a killed run left behind (hundreds of MB each for the paper net's checkpoints). */
  clean(ckDir: string): void {
    if (this.writer) removeStaleTempFiles([this.runDir, ckDir], this.log);
  }

  /** A fresh run: its configuration, an empty metrics.jsonl, the start in config-history.jsonl. */
  start(cfg: TrainConfig): void {
    if (!this.writer) return;
    writeFileAtomic(join(this.runDir, 'config.json'), JSON.stringify(cfg, null, 2) + '\n', { mkdir: true });
    writeFileSync(this.metricsPath, '');
    recordConfigHistory(this.runDir, { event: 'start', globalStep: 0, config: cfg });
    writeRunStatus(this.runDir, { state: 'running', events: this.eventsDir });
    this.openEvents(cfg, 0, false);
  }

  /**
   * A resumed run at (globalStep, epoch in progress): the changed configuration recorded, metrics.jsonl cut to
   * what the checkpoint has done (lines of steps re-run now, an epoch line whose checkpoint was not written, a
   * torn last line are dropped), the finished epochs read back for the report.
   */
  resume(cfg: TrainConfig, changes: ResumeChanges, globalStep: number, epoch: number): void {
    if (this.writer && Object.keys(changes).length) {
      writeFileAtomic(join(this.runDir, 'config.json'), JSON.stringify({ ...cfg, maxSteps: 0 }, null, 2) + '\n');
      recordConfigHistory(this.runDir, { event: 'resume', globalStep, changes });
    }
    if (this.writer) truncateMetrics(this.metricsPath, globalStep, epoch);
    for (const m of readMetrics(this.metricsPath)) if (m.type === 'epoch' && (m.epoch as number) < epoch) this.epochs.push(m as unknown as EpochMetrics);
    if (!this.tensorboardGiven) {
      const before = readRunStatus(this.runDir);
      if (before && 'events' in before) this.eventsDir = before.events ?? null;
    }
    if (this.writer) writeRunStatus(this.runDir, { state: 'running', events: this.eventsDir });
    this.epochStep = globalStep;
    this.filtersDone = this.epochs.at(-1)?.epoch ?? -1;
    this.openEvents(cfg, globalStep, true);
  }

  step(line: Record<string, unknown>): void {
    if (this.writer) appendFileSync(this.metricsPath, JSON.stringify({ type: 'step', ...line }) + '\n');
    const n = (k: string) => (typeof line[k] === 'number' ? (line[k] as number) : NaN);
    this.events?.summary(n('step'), [
      { tag: 'step/loss', scalar: n('loss') }, { tag: 'step/top1_error', scalar: n('top1Err') },
      { tag: 'step/top5_error', scalar: n('top5Err') }, { tag: 'step/lr', scalar: n('lr') },
      { tag: 'step/images_per_s', scalar: n('imagesPerSec') }, { tag: 'step/data_wait', scalar: n('dataWaitShare') },
    ]);
  }

  /** A finished epoch at `globalStep` (the step of its last batch). */
  epoch(m: EpochMetrics, epochs: number, globalStep: number): void {
    this.epochs.push(m);
    this.epochStep = globalStep;
    if (this.writer) appendFileSync(this.metricsPath, JSON.stringify({ type: 'epoch', step: globalStep, ...m }) + '\n');
    const v: SummaryValue[] = [
      { tag: 'train/loss', scalar: m.trainLoss }, { tag: 'train/top1_error', scalar: m.trainTop1Err },
      { tag: 'train/top5_error', scalar: m.trainTop5Err }, { tag: 'val/loss', scalar: m.valLoss ?? NaN },
      { tag: 'val/top1_error', scalar: m.valTop1Err ?? NaN }, { tag: 'val/top5_error', scalar: m.valTop5Err ?? NaN },
      { tag: 'lr', scalar: m.lr }, { tag: 'images_per_s', scalar: m.imagesPerSec },
      { tag: 'data_wait', scalar: m.dataWaitShare },
      { tag: 'epoch', scalar: m.epoch },
    ];
    if (m.commWaitShare !== undefined) v.push({ tag: 'comm_wait', scalar: m.commWaitShare });
    this.events?.summary(globalStep, v);
    this.log(
      `epoch ${m.epoch}/${epochs}: train loss ${m.trainLoss.toFixed(4)}, val loss ${m.valLoss!.toFixed(4)}, val top-1 error ${(100 * m.valTop1Err!).toFixed(2)}% ` +
      `(accuracy ${(100 - 100 * m.valTop1Err!).toFixed(2)}%), top-5 error ${(100 * m.valTop5Err!).toFixed(2)}%, lr ${m.lr.toPrecision(3)}, ${m.imagesPerSec.toFixed(0)} img/s, ${m.seconds.toFixed(1)} s`);
  }

  /** report.html and report.png from the epochs so far. */
  async report(cfg: TrainConfig, dataName: string, net: Net): Promise<void> {
    if (!this.writer) return;
    const w = net.firstConvWeight();
    const h = w && toHostTensor(w);
    await writeReport(join(this.runDir, 'report.html'), {
      title: `convnet: ${cfg.model} on ${dataName}`, config: cfg as unknown as Record<string, unknown>, epochs: this.epochs,
      info: reportInfo(PACKAGE_VERSION, native().info().isa), conv1: h ? { data: h.data, shape: h.shape } : undefined,
    });
    const epoch = this.epochs.at(-1)?.epoch;
    if (h && epoch !== undefined && epoch !== this.filtersDone && h.shape.length === 4) {
      this.filtersDone = epoch;
      await this.filters(h.data, h.shape, epoch);
    }
  }

  /** The conv1 filter grid after each epoch: filters/conv1-epoch-N.png (for `convnet board`), an event-file image. */
  private async filters(data: Float32Array, shape: readonly number[], epoch: number): Promise<void> {
    let sharp: typeof import('sharp').default;
    try {
      sharp = (await import('sharp')).default;
    } catch {
      return;
    }
    if (typeof sharp !== 'function') return;
    const g = filterGridPixels(data, shape);
    const png = await sharp(g.data, { raw: { width: g.width, height: g.height, channels: g.channels } })
      .toColourspace(g.channels === 1 ? 'b-w' : 'srgb').png().toBuffer();
    const name = `conv1-epoch-${String(epoch).padStart(3, '0')}.png`;
    writeFileAtomic(join(this.runDir, 'filters', name), png, { mkdir: true });
    const image = { png, height: g.height, width: g.width, channels: g.channels };
    this.events?.summary(this.epochStep, [{ tag: 'conv1_filters', image }]);
  }

  /** How the run ended (status.json, read by `convnet board`); the event file is closed. */
  end(how: RunEnd): void {
    this.events?.close();
    this.events = null;
    if (this.writer && existsSync(this.runDir)) writeRunStatus(this.runDir, { ...how, events: this.eventsDir });
  }
}
