/**
 * Evaluation: the loss and top-1/top-5 error on the test set (centre views), and the averaged softmax over
 * views for `convnet eval --views 10`. The per-epoch test pass can be interrupted: with `stop`, it yields to the
 * event loop after every batch (so a signal handler runs) and ends early when `stop()` says so.
 */
import { alloc, axpy, defaultBackend, softmax, toHostTensor } from '@convnet/tensor';
import { CrossEntropyLoss } from '@convnet/layers';
import type { Net } from '@convnet/alexnet';
import type { Geometry, Source } from './source.js';
import { yieldToEventLoop } from './stop.js';
import { deviceBatches, perStep } from './device-io.js';

export interface EvalResult {
  loss: number;
  top1Err: number;
  top5Err: number;
  /** Images evaluated (this rank's share under mpirun). */
  n: number;
  /** Images in batches whose loss was not finite (scored as misses). */
  nonFinite?: number;
  /** True when `stop` ended the pass before its last batch (the figures are then partial). */
  interrupted?: boolean;
  /** Device backends: host↔device copies per batch and their bytes. */
  transfers?: { perBatch: number; bytesPerBatch: number };
}

/**
 * Loss and top-1/top-5 error of `net` on the first `limit` (0: all) test images (centre views, eval mode).
 * `stop`, asked after every batch: true ends the pass (result marked interrupted). On a device backend each
 * batch goes up from pinned memory asynchronously and only the loss/hit scalars come down (device-io.ts).
 */
export async function evaluate(net: Net, src: Source, limit = 0, batch = 0, stop?: () => boolean): Promise<EvalResult> {
  const n = limit ? Math.min(limit, src.testN) : src.testN;
  // small images: 128 per batch (500 held ~270 MB more activations and Winograd workspace for no measurable speed)
  const b = batch || (src.shape[1] > 64 ? 64 : 128);
  net.eval();
  const ce = new CrossEntropyLoss();
  ce.backend = net.backend;
  const io = deviceBatches(net.backend ?? defaultBackend());
  const xfer0 = io.transfers();
  let loss = 0, top1 = 0, top5 = 0, seen = 0, batches = 0, interrupted = false, nonFinite = 0;
  try {
    for await (const { x, labels } of src.testBatches(n, b, io.host)) {
      const r = ce.forward(net.forward(io.upload(x)), labels);
      batches++;
      loss += r.loss * labels.length;
      // a non-finite loss: some image's scores are NaN/Inf, which rank "first" in the kernel's hit count (NaN > x is
      // false), so the batch scores no hits rather than up to 100%
      if (Number.isFinite(r.loss)) {
        top1 += r.top1Hits;
        top5 += r.top5Hits;
      } else nonFinite += labels.length;
      seen += labels.length;
      if (stop) {
        await yieldToEventLoop();
        if (stop()) { interrupted = true; break; }
      }
    }
    // a data-parallel source ends its batches early when the ranks agreed to stop (distributed.ts)
    if (stop?.()) interrupted = true;
  } finally {
    net.train();
  }
  const xfer = xfer0 && perStep(xfer0, io.transfers()!, batches);
  return {
    loss: loss / seen, top1Err: 1 - top1 / seen, top5Err: 1 - top5 / seen, n: seen, ...(interrupted ? { interrupted } : {}),
    ...(nonFinite ? { nonFinite } : {}),
    ...(xfer ? { transfers: { perBatch: xfer.transfersPerStep, bytesPerBatch: xfer.bytesPerStep } } : {}),
  };
}

/** Averaged softmax over views: the centre (1) or 4 corners + centre, each also flipped (10). */
export async function predictViews(net: Net, src: Source, indices: number[], geom: Geometry, views: 1 | 10): Promise<{ probs: Float32Array; labels: Int32Array }> {
  const h = src.shape[1];
  const k = src.classes.length, B = indices.length;
  const probs = new Float32Array(B * k);
  let labels: Int32Array = new Int32Array(B);
  const span = h + 2 * geom.pad - geom.crop;
  const offsets = views === 1 ? [[span >> 1, span >> 1]] : [[0, 0], [0, span], [span, 0], [span, span], [span >> 1, span >> 1]];
  const nViews = offsets.length * (views === 1 ? 1 : 2);
  // on a device: each view goes up from pinned memory, the views' softmax is averaged there, one download at the end
  const backend = net.backend ?? defaultBackend();
  const io = deviceBatches(backend);
  const sum = io.transfers() ? alloc([B, k], backend) : null;
  net.eval();
  try {
    for (const flip of views === 1 ? [false] : [false, true]) {
      for (const [oy, ox] of offsets) {
        const b = await src.viewBatch(indices, { oy, ox, flip });
        labels = b.labels;
        const p = softmax(net.forward(io.upload(b.x)), sum ? { backend } : {});
        if (sum) {
          axpy(1 / nViews, p, sum, { backend });
          p.dispose();
        } else for (let i = 0; i < p.size; i++) probs[i] += p.data[i] / nViews;
      }
    }
    if (sum) probs.set(toHostTensor(sum).data);
  } finally {
    sum?.dispose();
    net.train();
  }
  return { probs, labels };
}
