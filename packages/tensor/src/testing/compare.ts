// Comparison helpers shared by the conformance suite and kernel packages' own tests.
import { Rng, type Tensor } from '../index.js';

/** One conformance case: runs `kernels` on `backend` and on the reference, and throws when they disagree. */
export interface ConformanceCase {
  name: string;
  /** The kernels the case exercises; it runs on a backend only when the backend implements all of them itself. */
  kernels: readonly string[];
  run(backend: string): void;
}

/** Compares got with want element by element (|got − want| ≤ atol + rtol·|want|, NaN matches NaN); on failure throws
 * with the largest error and the first mismatches. */
export function expectClose(what: string, got: Tensor, want: Tensor, rtol = 1e-4, atol = 1e-5): void {
  if (got.shape.length !== want.shape.length || got.shape.some((d, i) => d !== want.shape[i]))
    throw new Error(`${what}: shape [${got.shape.join(', ')}], expected [${want.shape.join(', ')}]`);
  const bad: string[] = [];
  let worst = 0, worstAt = -1;
  const g = got.data, w = want.data;
  for (let i = 0; i < w.length; i++) {
    const err = Math.abs(g[i] - w[i]);
    const ok = err <= atol + rtol * Math.abs(w[i]) || (Number.isNaN(w[i]) && Number.isNaN(g[i]));
    if (err > worst) { worst = err; worstAt = i; }
    if (!ok && bad.length < 5) bad.push(`[${i}] expected ${w[i]}, got ${g[i]}`);
  }
  if (bad.length) throw new Error(`${what}: largest error ${worst.toExponential(3)} at ${worstAt}; first mismatches: ${bad.join('; ')}`);
}

/** Largest tolerated relative gradient error (see gradError). */
export const GRAD_TOL = 1e-6;

/**
 * Finite-difference gradient check in float64 of L = Σ r ⊙ f(x) for a random projection r: `f(x, y)` writes f(x)
 * to y; `backward(r, dx)` writes the analytic dL/dx (it must overwrite dx, which starts NaN-filled). Compares with
 * central differences (ε = 1e-6), element by element, and returns the largest |analytic − numeric| /
 * max(|analytic|, |numeric|, floor); logs where it occurred when it is over GRAD_TOL. x is perturbed in place and
 * restored.
 */
export function gradError(
  name: string, x: Float64Array, outSize: number,
  f: (x: Float64Array, y: Float64Array) => void,
  backward: (r: Float64Array, dx: Float64Array) => void,
  opts: { rng?: Rng; eps?: number; floor?: number } = {},
): number {
  const rng = opts.rng ?? new Rng(2024, 7);
  const eps = opts.eps ?? 1e-6, floor = opts.floor ?? 1e-2;
  const r = Float64Array.from(rng.normal(outSize));
  const analytic = new Float64Array(x.length).fill(NaN);
  backward(r, analytic);
  const up = new Float64Array(outSize), down = new Float64Array(outSize);
  let worst = 0, at = -1, worstNum = 0;
  for (let i = 0; i < x.length; i++) {
    const keep = x[i];
    x[i] = keep + eps;
    f(x, up);
    x[i] = keep - eps;
    f(x, down);
    x[i] = keep;
    // Σ r ⊙ (f(x⁺) − f(x⁻)) output by output: less cancellation than subtracting two large sums L⁺ − L⁻.
    let diff = 0;
    for (let j = 0; j < outSize; j++) diff += r[j] * (up[j] - down[j]);
    const numeric = diff / (2 * eps);
    const err = Math.abs(numeric - analytic[i]) / Math.max(floor, Math.abs(numeric), Math.abs(analytic[i]));
    if (!(err <= worst)) { worst = err; at = i; worstNum = numeric; }
  }
  if (!(worst < GRAD_TOL))
    console.error(`${name}: largest relative gradient error ${worst.toExponential(2)} at element ${at}: analytic ${analytic[at]}, numeric ${worstNum}`);
  return worst;
}
