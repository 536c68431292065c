/**
 * The kernel registry: kernel specs by name, and implementations keyed by (kernel, backend). A backend is
 * plain data, a name and a table of kernels, registered explicitly with `registerBackend` (no import side
 * effects). Kernels are declared with `registerKernelSpec` (the built-ins through the same call), and a
 * backend may implement any registered kernel. A backend may name a `fallback` backend for kernels it does
 * not implement; every chain ends at `ref`, the oracle every spec is implemented by, so a backend that
 * leaves a contributed kernel out still runs it.
 *
 * All registry state lives on `globalThis[Symbol.for('convnet.tensor.registry')]`, stamped with an ABI
 * number and the package version, so two copies of @convnet/tensor in one process (a duplicated install)
 * share one set of specs and backends, or, when their ABIs differ, fail at import with one message that
 * names both versions and the fix.
 */
import { createRequire } from 'node:module';
import type { AnyKernelImpl, KernelImpl, KernelName, KernelSpec } from './kernels.js';
import type { Shape, Tensor } from './tensor.js';

/**
 * Version of the registry's shape (this state object, Backend, KernelSpec, the kernel calling convention).
 * Bump it when a copy built from this source could not safely use state made by another version.
 */
export const REGISTRY_ABI = 1;
const REGISTRY_KEY = Symbol.for('convnet.tensor.registry');

/** @convnet/tensor's version, from the package.json above this file (src/, dist/ or dist/testing/). */
export const VERSION: string = (() => {
  const req = createRequire(import.meta.url);
  for (const p of ['../package.json', '../../package.json']) {
    try {
      const pkg = req(p) as { name?: string; version?: string };
      if (pkg.name === '@convnet/tensor' && pkg.version) return pkg.version;
    } catch {
      // not there: try the next level up
    }
  }
  return 'unknown';
})();

export type KernelTable = { [K in KernelName]?: KernelImpl<K> } & { [kernel: string]: AnyKernelImpl | undefined };

export interface Backend {
  name: string;
  kernels: KernelTable;
  /** Backend to use for kernels missing here (e.g. 'cpu'); `ref` is always the last resort. */
  fallback?: string;
  /** Optional description for `backends()` listings. */
  description?: string;
  /**
   * Allocates a zero-filled tensor of `shape` in this backend's own memory (a device). Absent: host memory.
   * Use `alloc(shape, backend)` from memory.ts rather than calling this directly (contract C3).
   */
  alloc?(shape: Shape): Tensor;
}

interface RegistryState {
  readonly abi: number;
  /** Version of the copy of @convnet/tensor that created the state. */
  readonly version: string;
  readonly specs: Map<string, KernelSpec>;
  readonly backends: Map<string, Backend>;
  current: string;
  /** Registers the built-in specs and backends on first use; set by the first copy that loads. */
  builtins: (() => void) | null;
  builtinsDone: boolean;
}

function attach(): RegistryState {
  const g = globalThis as unknown as Record<symbol, RegistryState | undefined>;
  const found = g[REGISTRY_KEY];
  if (found) {
    if (found.abi !== REGISTRY_ABI) {
      throw new Error(
        `@convnet/tensor: two incompatible copies are loaded: ${VERSION} (registry ABI ${REGISTRY_ABI}) and ` +
          `${found.version} (registry ABI ${found.abi}), which cannot share kernels and backends. Fix: install one ` +
          `version (every @convnet/* package takes @convnet/tensor as a peer dependency): run \`npm ls @convnet/tensor\`, ` +
          `align the versions in package.json, then \`npm dedupe\` (or \`pnpm dedupe\`)`,
      );
    }
    return found;
  }
  const state: RegistryState = {
    abi: REGISTRY_ABI, version: VERSION, specs: new Map(), backends: new Map(), current: '', builtins: null, builtinsDone: false,
  };
  Object.defineProperty(globalThis, REGISTRY_KEY, { value: state, enumerable: false, configurable: true, writable: false });
  return state;
}

const S = attach();

/** The registry's ABI number and the version of the copy of @convnet/tensor that created it. */
export function registryInfo(): { abi: number; version: string; thisCopy: string } {
  return { abi: S.abi, version: S.version, thisCopy: VERSION };
}

/** Set by index.ts: registers the built-in specs and backends on first use (the first copy loaded wins). */
export function setBuiltinInitialiser(fn: () => void): void {
  if (!S.builtinsDone && !S.builtins) S.builtins = fn;
}

function ensureInit(): void {
  if (S.builtins && !S.builtinsDone) {
    const f = S.builtins;
    S.builtins = null;
    S.builtinsDone = true;
    f();
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function sameDeclaration(a: KernelSpec, b: KernelSpec): boolean {
  const decl = (s: KernelSpec) => JSON.stringify([s.inputs, s.attrs, s.outputs]);
  return decl(a) === decl(b);
}

/**
 * Declares a kernel. Registering the same declaration again (a package loaded twice) is a no-op; a
 * different declaration under a taken name is an error.
 */
export function registerKernelSpec(spec: KernelSpec): void {
  ensureInit();
  const where = `registerKernelSpec(${spec && typeof spec.name === 'string' ? `'${spec.name}'` : '?'})`;
  if (!spec || typeof spec.name !== 'string' || !IDENT.test(spec.name))
    throw new Error(`${where}: the spec needs a name that is an identifier (letters, digits, _), got ${JSON.stringify(spec?.name)}`);
  for (const field of ['inputs', 'attrs'] as const) {
    const v = spec[field];
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: '${field}' must be an object of name → type`);
  }
  if (!Array.isArray(spec.outputs) || spec.outputs.length === 0 || spec.outputs.some((o) => typeof o !== 'string' || !IDENT.test(o)))
    throw new Error(`${where}: 'outputs' must be a non-empty array of output names`);
  for (const [name, t] of Object.entries(spec.inputs)) {
    if (!IDENT.test(name) || !['tensor', 'tensor?', 'int32'].includes(t as string))
      throw new Error(`${where}: input '${name}' must have type 'tensor', 'tensor?' or 'int32', got ${JSON.stringify(t)}`);
  }
  for (const [name, t] of Object.entries(spec.attrs)) {
    const ok = ['number', 'int', 'boolean'].includes(t as string) || (Array.isArray(t) && t.length > 0 && t.every((o) => typeof o === 'string'));
    if (!IDENT.test(name) || !ok)
      throw new Error(`${where}: attribute '${name}' must have type 'number', 'int', 'boolean' or a list of strings, got ${JSON.stringify(t)}`);
  }
  if (spec.validate !== undefined && typeof spec.validate !== 'function') throw new Error(`${where}: 'validate' must be a function`);
  const prev = S.specs.get(spec.name);
  if (prev) {
    if (prev === spec || sameDeclaration(prev, spec)) return;
    throw new Error(`${where}: a different kernel named '${spec.name}' is already registered (inputs ${JSON.stringify(prev.inputs)}, attrs ${JSON.stringify(prev.attrs)}, outputs ${JSON.stringify(prev.outputs)})`);
  }
  S.specs.set(spec.name, Object.freeze({ ...spec }));
}

/** The spec of a registered kernel. */
export function getKernelSpec(kernel: string): KernelSpec {
  ensureInit();
  const s = S.specs.get(kernel);
  if (!s) throw new Error(`unknown kernel '${kernel}': no spec is registered under that name (registerKernelSpec declares one; known: ${[...S.specs.keys()].join(', ')})`);
  return s;
}

/** Names of every registered kernel, built-in and contributed. */
export function kernelNames(): string[] {
  ensureInit();
  return [...S.specs.keys()];
}

export function registerBackend(backend: Backend): void {
  ensureInit();
  if (!backend || typeof backend.name !== 'string' || backend.name === '')
    throw new Error('registerBackend: backend needs a non-empty name');
  if (!backend.kernels || typeof backend.kernels !== 'object')
    throw new Error(`registerBackend('${backend.name}'): 'kernels' must be an object of kernel name → function`);
  for (const [k, impl] of Object.entries(backend.kernels)) {
    if (!S.specs.has(k))
      throw new Error(`registerBackend('${backend.name}'): unknown kernel '${k}' (register its spec first with registerKernelSpec; known: ${[...S.specs.keys()].join(', ')})`);
    if (typeof impl !== 'function') throw new Error(`registerBackend('${backend.name}'): kernel '${k}' is not a function`);
  }
  S.backends.set(backend.name, backend);
  if (!S.current) S.current = backend.name;
}

/** Adds or replaces one kernel of an existing backend; the kernel's spec must be registered. */
export function registerKernel<K extends KernelName>(kernel: K, backend: string, impl: KernelImpl<K>): void;
export function registerKernel(kernel: string, backend: string, impl: AnyKernelImpl): void;
export function registerKernel(kernel: string, backend: string, impl: AnyKernelImpl): void {
  ensureInit();
  const b = S.backends.get(backend);
  if (!b) throw new Error(`registerKernel: no backend '${backend}' (registered: ${listBackends().join(', ')})`);
  getKernelSpec(kernel);
  if (typeof impl !== 'function') throw new Error(`registerKernel('${kernel}', '${backend}'): the implementation is not a function`);
  (b.kernels as Record<string, AnyKernelImpl>)[kernel] = impl;
}

export function listBackends(): string[] {
  ensureInit();
  return [...S.backends.keys()];
}

export function getBackend(name: string): Backend {
  ensureInit();
  const b = S.backends.get(name);
  if (!b) throw new Error(`unknown backend '${name}' (registered: ${[...S.backends.keys()].join(', ')})`);
  return b;
}

/** The backend ops use when none is given. */
export function setDefaultBackend(name: string): void {
  getBackend(name);
  S.current = name;
}

export function defaultBackend(): string {
  ensureInit();
  return S.current;
}

/**
 * Which backend runs `kernel` when asked for `backend`: the backend itself, else its fallback chain, else
 * `ref`. Undefined when none implements it.
 */
export function resolveKernel(kernel: string, backend: string = defaultBackend()): { backend: string; impl: AnyKernelImpl } | undefined {
  const seen: string[] = [];
  let name: string | undefined = backend;
  for (;;) {
    if (!name || seen.includes(name)) {
      if (seen.includes('ref')) return undefined;
      name = 'ref';
    }
    seen.push(name);
    const b = getBackend(name);
    const impl = b.kernels[kernel];
    if (impl) return { backend: name, impl };
    name = b.fallback;
  }
}

/** The implementation of `kernel` on `backend`, following fallbacks (and `ref` last). */
export function getKernel<K extends KernelName>(kernel: K, backend?: string): KernelImpl<K>;
export function getKernel(kernel: string, backend?: string): AnyKernelImpl;
export function getKernel(kernel: string, backend: string = defaultBackend()): AnyKernelImpl {
  const r = resolveKernel(kernel, backend);
  if (r) return r.impl;
  getKernelSpec(kernel);  // an unknown name says so
  const b = getBackend(backend);
  throw new Error(`kernel '${kernel}' is not implemented by backend '${backend}'${b.fallback ? ` (nor its fallback '${b.fallback}')` : ''}, nor by 'ref'`);
}

/** Whether `backend` itself (not a fallback) implements `kernel`. */
export function hasKernel(kernel: string, backend: string): boolean {
  return !!getBackend(backend).kernels[kernel];
}

/**
 * For every registered kernel, which backend runs it when each backend is asked: `{ cpu: { gemm: 'cpu',
 * myKernel: 'ref' }, ... }` (undefined: none).
 */
export function kernelCoverage(backends: string[] = listBackends()): Record<string, Record<string, string | undefined>> {
  const out: Record<string, Record<string, string | undefined>> = {};
  for (const b of backends) {
    out[b] = {};
    for (const k of kernelNames()) out[b][k] = resolveKernel(k, b)?.backend;
  }
  return out;
}
