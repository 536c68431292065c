/**
 * Stopping a run on SIGINT (Ctrl-C), SIGTERM (Slurm, Kubernetes, mpirun) and SIGHUP (a closed terminal): the
 * first signal asks the loop to stop at the next step boundary (it checkpoints and exits 128 + the signal's
 * number); a second one exits at once (the last completed checkpoint stays valid: checkpoints are written to a
 * temp name and renamed). The loop yields to the event loop once per step (yieldToEventLoop) so the handler runs.
 */
import { constants } from 'node:os';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignalName = (typeof STOP_SIGNALS)[number];

/** The shell's convention: 128 + signal number (SIGINT 130, SIGTERM 143, SIGHUP 129). */
export const exitCodeFor = (s: StopSignalName) => 128 + constants.signals[s];

/** One macrotask turn: lets signal handlers (and I/O callbacks) run between steps. ~µs against ms-long steps. */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export class StopRequest {
  /** The first signal received, or null. */
  signal: StopSignalName | null = null;
  readonly #handlers = new Map<StopSignalName, () => void>();

  constructor(private readonly log: (line: string) => void) {}

  install(): this {
    for (const s of STOP_SIGNALS) {
      const h = () => {
        if (this.signal) {
          this.log(`${s}${s === this.signal ? ' again' : ` after ${this.signal}`}: exiting now (the last completed checkpoint is kept)`);
          process.exit(exitCodeFor(this.signal));
        }
        this.signal = s;
        this.log(`${s}: stopping after this step with a checkpoint (send it again to exit at once)`);
      };
      this.#handlers.set(s, h);
      process.on(s, h);
    }
    return this;
  }

  dispose(): void {
    for (const [s, h] of this.#handlers) process.off(s, h);
    this.#handlers.clear();
  }
}
