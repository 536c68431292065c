/**
 * @convnet/tensor/testing: the conformance and gradient-check machinery, published so that any backend or
 * kernel package runs it in its own (vitest) tests.
 *
 *   import { describeConformance } from '@convnet/tensor/testing';
 *   registerBackend(myBackend);
 *   describeConformance({ backends: ['mine'], cases: myKernelCases });
 *
 * Every backend under test is compared with `ref` on the built-in kernels' cases plus the given ones. A case
 * runs on a backend only when the backend implements all its kernels itself; for the others the suite reports
 * which backend runs them instead (a skipped test per case naming the fallback, and one coverage test), so a
 * backend that leaves a contributed kernel out is reported, not failed. What does fail: a required kernel
 * (by default every built-in) that a backend leaves out, a kernel it implements that no case exercises (among all
 * registered kernels with the built-in cases, else among the given cases' and required kernels), and any
 * disagreement with `ref`.
 */
import { describe, expect, it } from 'vitest';
import { KERNEL_NAMES, hasKernel, kernelNames, listBackends, resolveKernel } from '../index.js';
import { builtinConformanceCases } from './builtin-cases.js';
import type { ConformanceCase } from './compare.js';

export { builtinConformanceCases } from './builtin-cases.js';
export { GRAD_TOL, expectClose, gradError, type ConformanceCase } from './compare.js';

export interface ConformanceOptions {
  /** Backends to test against `ref`. Default: every registered backend but `ref`, narrowed by the environment
   * variable CONVNET_CONFORMANCE_BACKENDS=a,b when set. */
  backends?: string[];
  /** Extra cases (a kernel package's). */
  cases?: ConformanceCase[];
  /** Run the built-in kernels' cases too. Default true. */
  builtins?: boolean;
  /** Kernels each backend must implement itself. Default: the built-in kernels when `builtins`, else none. */
  require?: readonly string[];
}

/** Declares (with vitest's describe/it) the conformance suite for each backend. */
export function describeConformance(opts: ConformanceOptions = {}): void {
  const only = process.env.CONVNET_CONFORMANCE_BACKENDS?.split(',').filter(Boolean);
  const backends = opts.backends ?? listBackends().filter((b) => b !== 'ref' && (!only || only.includes(b)));
  const builtins = opts.builtins ?? true;
  const cases = [...(builtins ? builtinConformanceCases() : []), ...(opts.cases ?? [])];
  const required = opts.require ?? (builtins ? KERNEL_NAMES : []);
  for (const backend of backends) {
    describe(`backend '${backend}' vs ref`, () => {
      if (required.length) {
        it('implements every required kernel itself', () => {
          expect(required.filter((k) => !hasKernel(k, backend))).toEqual([]);
        });
      }
      for (const c of cases) {
        const missing = c.kernels.filter((k) => !hasKernel(k, backend));
        if (missing.length === 0) it(c.name, () => c.run(backend));
        else {
          const via = missing.map((k) => `${k} → ${resolveKernel(k, backend)?.backend ?? 'none'}`).join(', ');
          it.skip(`${c.name} (not run: '${backend}' leaves ${via})`, () => {});
        }
      }
      // the kernels this run is about: every registered one with the built-in cases, else those of the given cases
      const scope = builtins ? kernelNames() : [...new Set([...required, ...cases.flatMap((c) => c.kernels)])];
      const own = scope.filter((k) => hasKernel(k, backend));
      const fallsBack = scope.filter((k) => !hasKernel(k, backend)).map((k) => `${k} → ${resolveKernel(k, backend)?.backend ?? 'none'}`);
      it(`covers ${own.length} of ${scope.length} kernels itself${fallsBack.length ? `; falls back for ${fallsBack.join(', ')}` : ''}; every kernel it implements has a case`, () => {
        const exercised = new Set(cases.flatMap((c) => (c.kernels.every((k) => hasKernel(k, backend)) ? c.kernels : [])));
        expect(own.filter((k) => !exercised.has(k))).toEqual([]);
      });
    });
  }
}
