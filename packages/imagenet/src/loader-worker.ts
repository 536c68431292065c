/** worker_threads entry for Loader: fills the batches it is sent and hands the buffers back. */
import { parentPort, workerData } from 'node:worker_threads';
import type { AugmentOptions, AugmentParams } from '@convnet/augment';
import { BatchMaker, type SourceSpec } from './batch.js';

if (!parentPort) throw new Error('loader-worker must run in a worker thread');
const port = parentPort;
const { spec, augment } = workerData as { spec: SourceSpec; augment: AugmentOptions };
let maker: BatchMaker;
try {
  maker = new BatchMaker(spec, augment);
} catch (e) {
  port.postMessage({ type: 'fatal', message: (e as Error).message });
  throw e;
}
port.on('message', async (m: { id: number; indices: Int32Array; params: AugmentParams; x: Float32Array }) => {
  const t0 = performance.now();
  try {
    await maker.make(m.indices, m.params, m.x);
    port.postMessage({ type: 'batch', id: m.id, x: m.x, ms: performance.now() - t0 }, [m.x.buffer as ArrayBuffer]);
  } catch (e) {
    port.postMessage({ type: 'error', id: m.id, message: (e as Error).message, x: m.x }, [m.x.buffer as ArrayBuffer]);
  }
});
