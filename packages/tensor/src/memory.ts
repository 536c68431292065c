/**
 * Memory placement belongs to the backend (contract C3). A backend with its own memory (CUDA) gives
 * `Backend.alloc(shape)`; everything that owns a tensor (ops' outputs, layers' parameters, gradients and
 * reused buffers, losses, optimiser state, containers' buffers) asks `alloc(shape, backend)` here, so a net
 * whose backend is 'cuda' keeps all of its memory on the device. Backends without `alloc` (cpu, ref) get
 * plain zero-filled host tensors: exactly `Tensor.zeros`, so the CPU path is unchanged.
 *
 * Every tensor `alloc` returns is zero-filled. Tensors made by a backend's `alloc` are remembered (a WeakMap,
 * nothing on the tensor) with the backend that made them, which `memoryOf` reports: 'host' for everything
 * else. Layers compare it with `memoryFor(backend)` to know when a buffer must move.
 */
import { OpError, fmtShape } from './errors.js';
import { defaultBackend, getBackend, type Backend } from './registry.js';
import { Tensor, checkShape, type Shape } from './tensor.js';

// on globalThis like the registry (contract C2), so two copies of this package agree on where a tensor lives
const OWNER = Symbol.for('convnet.tensor.memory');
const g = globalThis as { [OWNER]?: WeakMap<object, string> };
const owner: WeakMap<object, string> = (g[OWNER] ??= new WeakMap<object, string>());

/** `backend` (default: the registry default) when it allocates its own memory; fallbacks do not lend theirs. */
function allocator(backend: string | undefined): Backend | null {
  const b = getBackend(backend ?? defaultBackend());
  return typeof b.alloc === 'function' ? b : null;
}

/** A zero-filled tensor of `shape` in the memory of `backend` (default: the registry default backend). */
export function alloc(shape: Shape, backend?: string): Tensor {
  const b = allocator(backend);
  if (!b) return Tensor.zeros(shape);
  checkShape('alloc', 'shape', shape);
  const t = b.alloc!(shape);
  if (t.size !== t.shape.reduce((a, d) => a * d, 1) || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
    throw new OpError('alloc', `backend '${b.name}'`, `a tensor of shape ${fmtShape(shape)}`, fmtShape(t.shape));
  owner.set(t, b.name);
  return t;
}

/** Where `backend`'s tensors live: its name when it allocates its own memory, else 'host'. */
export function memoryFor(backend?: string): string {
  return allocator(backend)?.name ?? 'host';
}

/** Which backend's `alloc` made `t` ('host' for every other tensor). */
export function memoryOf(t: Tensor): string {
  return owner.get(t) ?? 'host';
}

/** `buf` when it has `shape` and lives in `backend`'s memory, else a fresh `alloc(shape, backend)`. */
export function reuseOrAlloc(buf: Tensor | null, shape: Shape, backend?: string): Tensor {
  if (buf && !buf.disposed && buf.shape.length === shape.length && buf.shape.every((d, i) => d === shape[i]) && memoryOf(buf) === memoryFor(backend))
    return buf;
  // a device buffer being replaced goes back to its allocator now (the garbage collector does not see device memory)
  if (buf && !buf.disposed && memoryOf(buf) !== 'host') buf.dispose();
  return alloc(shape, backend);
}

/** `t` itself when it is in host memory, else a host copy (one download): for saving and printing. */
export function toHostTensor(t: Tensor): Tensor {
  const h = (t as { toHost?: () => Tensor }).toHost;
  return typeof h === 'function' ? h.call(t) : t;
}

/** `t` when it already lives in `backend`'s memory, else a copy there (an upload for a device backend). */
export function toBackend(t: Tensor, backend?: string): Tensor {
  if (memoryOf(t) === memoryFor(backend)) return t;
  return alloc(t.shape, backend).copyFrom(t);
}
