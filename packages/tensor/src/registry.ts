/**
 * The kernel registry: implementations keyed by (kernel, backend). A backend is plain data, a name and
 * a table of kernels, registered explicitly with `registerBackend` (no import side effects). A backend
 * may name a `fallback` backend for kernels it does not implement.
 */
import { KERNEL_NAMES, type KernelImpl, type KernelName } from './kernels.js';
import type { Shape, Tensor } from './tensor.js';

export type KernelTable = { [K in KernelName]?: KernelImpl<K> };

export interface Backend {
  name: string;
  kernels: KernelTable;
  /** Backend to use for kernels missing here (e.g. 'cpu'). */
  fallback?: string;
  /** Optional description for `backends()` listings. */
  description?: string;
  /**
   * Allocates a zero-filled tensor of `shape` in this backend's own memory (a device). Absent: host memory.
   * Use `alloc(shape, backend)` from memory.ts rather than calling this directly (contract C3).
   */
  alloc?(shape: Shape): Tensor;
}

const backends = new Map<string, Backend>();
let current = '';
let lazyInit: (() => void) | null = null;

/** Set by index.ts: registers the built-in backends on first use. */
export function setBuiltinInitialiser(fn: () => void): void {
  lazyInit = fn;
}

function ensureInit(): void {
  if (lazyInit) {
    const f = lazyInit;
    lazyInit = null;
    f();
  }
}

export function registerBackend(backend: Backend): void {
  ensureInit();
  if (!backend || typeof backend.name !== 'string' || backend.name === '')
    throw new Error('registerBackend: backend needs a non-empty name');
  for (const k of Object.keys(backend.kernels)) {
    if (!(KERNEL_NAMES as readonly string[]).includes(k))
      throw new Error(`registerBackend('${backend.name}'): unknown kernel '${k}' (known: ${KERNEL_NAMES.join(', ')})`);
  }
  backends.set(backend.name, backend);
  if (!current) current = backend.name;
}

/** Adds or replaces one kernel of an existing backend. */
export function registerKernel<K extends KernelName>(kernel: K, backend: string, impl: KernelImpl<K>): void {
  ensureInit();
  const b = backends.get(backend);
  if (!b) throw new Error(`registerKernel: no backend '${backend}' (registered: ${listBackends().join(', ')})`);
  if (!(KERNEL_NAMES as readonly string[]).includes(kernel)) throw new Error(`registerKernel: unknown kernel '${kernel}'`);
  (b.kernels as Record<string, unknown>)[kernel] = impl;
}

export function listBackends(): string[] {
  ensureInit();
  return [...backends.keys()];
}

export function getBackend(name: string): Backend {
  ensureInit();
  const b = backends.get(name);
  if (!b) throw new Error(`unknown backend '${name}' (registered: ${[...backends.keys()].join(', ')})`);
  return b;
}

/** The backend ops use when none is given. */
export function setDefaultBackend(name: string): void {
  getBackend(name);
  current = name;
}

export function defaultBackend(): string {
  ensureInit();
  return current;
}

/** The implementation of `kernel` on `backend`, following fallbacks. */
export function getKernel<K extends KernelName>(kernel: K, backend: string = defaultBackend()): KernelImpl<K> {
  const seen: string[] = [];
  let name: string | undefined = backend;
  while (name) {
    if (seen.includes(name)) break;
    seen.push(name);
    const b = getBackend(name);
    const impl = b.kernels[kernel] as KernelImpl<K> | undefined;
    if (impl) return impl;
    name = b.fallback;
  }
  throw new Error(`kernel '${kernel}' is not implemented by backend '${backend}'${seen.length > 1 ? ` (nor its fallbacks ${seen.slice(1).join(', ')})` : ''}`);
}

/** Whether `backend` itself (not a fallback) implements `kernel`. */
export function hasKernel(kernel: KernelName, backend: string): boolean {
  return !!getBackend(backend).kernels[kernel];
}
