/**
 * What a run writes besides checkpoints (rank 0 alone under mpirun): config.json and config-history.jsonl,
 * metrics.jsonl (a line per --log-every steps and one per epoch; after a resume exactly the lines the checkpoint
 * has done, see truncateMetrics), the epoch lines on the console, and report.html/report.png.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native, toHostTensor, writeFileAtomic } from '@convnet/tensor';
import type { Net } from '@convnet/alexnet';
import type { TrainConfig } from './config.js';
import { recordConfigHistory, type ResumeChanges } from './resume.js';
import { readMetrics, removeStaleTempFiles, truncateMetrics } from './runfiles.js';
import { reportInfo, writeReport, type EpochMetrics } from './report.js';
import { createRequire } from 'node:module';

const PACKAGE_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export class RunLog {
  readonly metricsPath: string;
  /** Every finished epoch's metrics (those before a resume read back from metrics.jsonl). */
  readonly epochs: EpochMetrics[] = [];

  constructor(readonly runDir: string, private readonly writer: boolean, private readonly log: (line: string) => void) {
    this.metricsPath = join(runDir, 'metrics.jsonl');
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
  }

  step(line: Record<string, unknown>): void {
    if (this.writer) appendFileSync(this.metricsPath, JSON.stringify({ type: 'step', ...line }) + '\n');
  }

  epoch(m: EpochMetrics, epochs: number): void {
    this.epochs.push(m);
    if (this.writer) appendFileSync(this.metricsPath, JSON.stringify({ type: 'epoch', ...m }) + '\n');
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
  }
}
