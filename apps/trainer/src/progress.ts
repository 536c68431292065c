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

/**
 * The progress line cut to `columns`: optional fields are dropped (top-5, waits, images/s, top-1) before the bar
 * shrinks, so the line never wraps (a wrapped line makes the terminal scroll a new line per step).
 */
export function fitLine(p: ProgressStats, columns: number): string {
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const fields: [string, number][] = [
    // [text, priority: higher is dropped first]
    [`epoch ${p.epoch}/${p.epochs}`, 0], [`step ${p.step}/${p.steps}`, 0], [`loss ${p.loss.toFixed(4)}`, 0],
    [`top-1 err ${pct(p.top1Err)}`, 3], [`top-5 err ${pct(p.top5Err)}`, 6], [`${p.imagesPerSec.toFixed(0)} img/s`, 4],
    [`data wait ${(100 * p.dataWaitShare).toFixed(0)}%`, 5], ...(p.commWaitShare === undefined ? [] : [[`comm wait ${(100 * p.commWaitShare).toFixed(0)}%`, 5] as [string, number]]),
    ...(p.transfersPerStep === undefined ? [] : [[`h↔d ${+p.transfersPerStep.toFixed(2)}/step ${((p.transferBytesPerStep ?? 0) / 2 ** 20).toFixed(2)} MiB/step`, 5] as [string, number]]),
    [`ETA ${formatDuration(p.etaSec)}`, 1],
  ];
  const text = (fs: [string, number][]) => fs.map((f) => f[0]).join('  ');
  let kept = fields;
  for (let drop = 6; drop >= 1 && text(kept).length + 12 > columns; drop--) kept = kept.filter((f) => f[1] < drop);
  const body = text(kept);
  const room = columns - body.length - 1;
  if (room < 5) return body.slice(0, Math.max(0, columns));
  const width = Math.min(30, room);
  const filled = Math.round((width * p.step) / Math.max(1, p.steps));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${body}`;
}

export class Progress {
  private readonly tty: boolean;
  private lastPlain = 0;
  private last: ProgressStats | null = null;
  private readonly onResize = () => { if (this.last) this.draw(this.last); };
  private listening = false;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly plainEverySec = 10,
    tty?: boolean,
  ) {
    this.tty = tty ?? !!out.isTTY;
  }

  private draw(p: ProgressStats): void {
    // one terminal line, redrawn in place: fits the width (redrawn when the terminal is resized)
    this.out.write(`\r${fitLine(p, (this.out.columns || 80) - 1)}\x1b[K`);
  }

  update(p: ProgressStats): void {
    if (this.tty) {
      this.last = p;
      if (!this.listening) { this.out.on('resize', this.onResize); this.listening = true; }
      this.draw(p);
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
    if (this.listening) { this.out.off('resize', this.onResize); this.listening = false; }
    if (this.tty && this.last) this.out.write('\n');
    this.last = null;
  }

  log(line: string): void {
    if (this.tty) this.out.write('\r\x1b[2K');
    this.out.write(`${line}\n`);
  }
}

/** No output (--quiet, --json, and ranks other than 0). */
export const silentProgress = { update() {}, done() {}, log() {} } as unknown as Progress;
