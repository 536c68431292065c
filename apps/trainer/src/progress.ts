/** Per-epoch progress: a redrawn bar on a terminal, plain log lines (every `every` steps) otherwise. */
export interface ProgressStats {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  top1Err: number;
  top5Err: number;
  imagesPerSec: number;
  dataWaitShare: number;
  /** Data-parallel runs: share of the time spent waiting for gradient communication. */
  commWaitShare?: number;
  /** Device runs: host↔device copies per step and their bytes (images + labels up, loss/hits down). */
  transfersPerStep?: number;
  transferBytesPerStep?: number;
  etaSec: number;
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec)) return '--:--';
  const s = Math.max(0, Math.round(sec));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

export function formatStats(p: ProgressStats): string {
  return (
    `epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.steps}  loss ${p.loss.toFixed(4)}  ` +
    `top-1 err ${(100 * p.top1Err).toFixed(2)}%  top-5 err ${(100 * p.top5Err).toFixed(2)}%  ` +
    `${p.imagesPerSec.toFixed(0)} img/s  data wait ${(100 * p.dataWaitShare).toFixed(0)}%  ` +
    (p.commWaitShare === undefined ? '' : `comm wait ${(100 * p.commWaitShare).toFixed(0)}%  `) +
    (p.transfersPerStep === undefined ? '' : `h↔d ${+p.transfersPerStep.toFixed(2)}/step ${((p.transferBytesPerStep ?? 0) / 2 ** 20).toFixed(2)} MiB/step  `) +
    `ETA ${formatDuration(p.etaSec)}`
  );
}

export class Progress {
  private readonly tty: boolean;
  private lastPlain = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly plainEverySec = 10,
    tty?: boolean,
  ) {
    this.tty = tty ?? !!out.isTTY;
  }

  update(p: ProgressStats): void {
    if (this.tty) {
      const width = 24;
      const filled = Math.round((width * p.step) / Math.max(1, p.steps));
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      this.out.write(`\r\x1b[2K${bar} ${formatStats(p)}`);
    } else {
      const now = Date.now();
      if (now - this.lastPlain >= this.plainEverySec * 1000 || p.step === p.steps) {
        this.lastPlain = now;
        this.out.write(`${formatStats(p)}\n`);
      }
    }
  }

  /** Ends the epoch's bar. */
  done(): void {
    if (this.tty) this.out.write('\n');
  }

  log(line: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
  }
}
