// Device-resident training, evaluation and checkpoints on `cuda-host` (the CUDA kernels and the device memory
// model on the host emulator), in strict memory mode: a host access to a device tensor that would be a hidden
// copy on a GPU throws (CONVNET_CUDA_STRICT=1), so every copy is an explicit, counted one. The runs equal the
// cpu backend's; each training step moves exactly the input batch up (images + labels) and the loss/hit scalars
// down, each evaluation batch the same; a checkpoint downloads each tensor once and a resumed run (a fresh
// process) continues exactly.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryOf, registerBackend, toHostTensor } from '@convnet/tensor';
import { createCudaBackend } from '@convnet/cuda';
import { createModel } from '@convnet/alexnet';
import { CrossEntropyLoss } from '@convnet/layers';
import { SGD } from '@convnet/optim';
import { BASE_CONFIG, type TrainConfig } from '../src/config.js';
import { syntheticDataset } from '../src/data.js';
import { deviceInput } from '../src/device-io.js';
import { memorySource } from '../src/source.js';
import { evaluate } from '../src/train.js';
import { loadCheckpoint, saveCheckpoint, type TrainState } from '../src/checkpoint.js';

const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const root = mkdtempSync(join(tmpdir(), 'convnet-device-'));
const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync('node', [cli, ...args], { encoding: 'utf8', env: { ...process.env, CONVNET_NUM_THREADS: '2', CONVNET_CUDA_STRICT: '1', ...env } });

interface Line { type: string; loss: number; transfersPerStep?: number; transferBytesPerStep?: number; valLoss?: number; valTop1Err?: number; valTransfersPerBatch?: number; valTransferBytesPerBatch?: number }
const metrics = (dir: string): Line[] => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const steps = (dir: string) => metrics(dir).filter((m) => m.type === 'step');
const epoch = (dir: string) => metrics(dir).find((m) => m.type === 'epoch')!;
const near = (a: number, b: number, rtol: number, what: string) => expect(Math.abs(a - b), `${what}: ${a} vs ${b}`).toBeLessThanOrEqual(rtol * Math.abs(b));

/** Elements that differ (a typed array's toEqual is slow at a million elements). */
const differ = (a: Float32Array, b: Float32Array) => (a.length !== b.length ? Infinity : a.reduce((n, v, i) => n + (Object.is(v, b[i]) ? 0 : 1), 0));

let backend: ReturnType<typeof createCudaBackend> | null = null;
const device = () => {
  if (!backend) registerBackend((backend = createCudaBackend({ emulator: true, name: 'cuda-host', strict: true })));
  return backend.device;
};

describe('training on the device (cuda-host, strict memory)', () => {
  // small net, one epoch of 4 steps of 16 with a step checkpoint in the middle, then the evaluation pass
  const small = ['train', '--data', 'synthetic', '--model', 'small', '--batch-size', '16', '--limit-train', '64', '--epochs', '1', '--log-every', '1', '--checkpoint-every', '2'];
  const dev = join(root, 'small-cuda-host'), cpu = join(root, 'small-cpu');
  const image = 1 * 28 * 28 * 4;

  it("small net, a whole epoch: the cpu backend's losses (1e-5); 3 transfers per step and per evaluation batch", () => {
    const a = run([...small, '--device', 'cuda-host', '--run', dev]);
    expect(a.status, a.stderr).toBe(0);
    // the cpu backend's portable kernels: this batch has max-pool windows tied up to the last bit of the conv
    // output, so the argmax (and where the gradient goes) follows rounding; the AVX2 kernels round those outputs
    // differently from ref, the portable ones and the device alike (conv weights after one step: 4e-9 from ref)
    const b = run([...small, '--run', cpu], { CONVNET_ISA: 'generic' });
    expect(b.status, b.stderr).toBe(0);
    const sa = steps(dev), sb = steps(cpu);
    expect(sa).toHaveLength(4);
    sa.forEach((s, i) => near(s.loss, sb[i].loss, 1e-5, `step ${i + 1}`));
    // per step: the images and the labels up, the three float64 scalars (loss, top-1, top-k hits) down; the
    // step-2 checkpoint's downloads are not counted as the steps'
    for (const s of sa) {
      expect(s.transfersPerStep).toBe(3);
      expect(s.transferBytesPerStep).toBe(16 * image + 16 * 4 + 3 * 8);
    }
    expect(sb[0].transfersPerStep).toBeUndefined();  // host runs have none to report
    expect(a.stderr).toMatch(/h↔d 3\/step/);
    // evaluation: the 128 synthetic test images in one batch, the same three transfers
    const ea = epoch(dev), eb = epoch(cpu);
    near(ea.valLoss!, eb.valLoss!, 1e-5, 'val loss');
    expect(ea.valTop1Err).toBe(eb.valTop1Err);
    expect(ea.valTransfersPerBatch).toBe(3);
    expect(ea.valTransferBytesPerBatch).toBe(128 * image + 128 * 4 + 3 * 8);
    expect(eb.valTransfersPerBatch).toBeUndefined();
  });

  it('a checkpoint taken on the device resumes in a fresh process to the uninterrupted run, step for step', () => {
    const part = join(root, 'small-resumed');
    const a = run([...small, '--device', 'cuda-host', '--run', part, '--max-steps', '2']);
    expect(a.status, a.stderr).toBe(0);
    const b = run(['train', '--resume', part]);
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/resuming .* at epoch 1, step 2/);
    const whole = steps(dev), resumed = steps(part);
    expect(resumed.map((s) => s.loss)).toEqual(whole.map((s) => s.loss));
    for (const s of resumed) expect(s.transfersPerStep).toBe(3);
    expect(epoch(part).valLoss).toBe(epoch(dev).valLoss);
  });

  it('convnet eval --device cuda-host: the cpu errors; per batch the 10 views go up and the averaged probabilities come down', () => {
    const args = ['eval', '--run', dev, '--checkpoint', 'last', '--views', '10', '--limit', '32'];
    const a = run([...args, '--device', 'cuda-host']);
    expect(a.status, a.stderr).toBe(0);
    const b = run(args);
    expect(b.status, b.stderr).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stdout).toMatch(/32 test images, 10 views: top-1 error/);
    expect(a.stderr).toContain(`cuda-host: host↔device 10 up + 1 down per batch of 32 images, ${10 * 32 * image + 32 * 10 * 4} bytes per batch`);
    expect(b.stderr).not.toMatch(/host↔device/);
  });
});

describe('in process (cuda-host, strict memory)', () => {
  it("paper net, 2 steps of 1: the cpu backend's losses (1e-4); exactly 3 transfers per step", () => {
    const d = device();
    const losses: Record<string, number[]> = {};
    // one net (initialising 61M weights costs more than the steps): 2 steps on the cpu, then the same initial
    // weights moved to the device (net.backend = ...) for the same 2 steps there
    const net = createModel('paper', { seed: 3, backend: 'cpu' });
    const initial = new Map([...net.stateDict()].map(([k, v]) => [k, v.clone()]));
    for (const backend of ['cpu', 'cuda-host']) {
      if (backend !== 'cpu') {
        net.loadStateDict(initial);
        net.backend = backend;
        expect(memoryOf(net.parameters()[0].value)).toBe(backend);
      }
      const ce = new CrossEntropyLoss();
      ce.backend = backend;
      const opt = new SGD(net.parameters(), { lr: 0.001, momentum: 0.9, weightDecay: 5e-4, backend });
      const io = deviceInput(backend, [1, 3, 227, 227]);
      losses[backend] = [];
      for (let s = 0; s < 2; s++) {
        const t0 = d.transfers();
        io.beforeFill();
        const h = io.host.data;
        for (let i = 0; i < h.length; i++) h[i] = Math.sin(0.37 * i + s);
        net.dropoutRng.counter = s * 2 ** 26;
        const r = ce.forward(net.forward(io.upload()), [100 * s + 7]);
        net.backward(ce.backward());
        opt.step();
        losses[backend].push(r.loss);
        const t1 = d.transfers();
        const moved = [t1.uploads - t0.uploads, t1.downloads - t0.downloads, t1.uploadBytes - t0.uploadBytes, t1.downloadBytes - t0.downloadBytes];
        expect(moved).toEqual(backend === 'cpu' ? [0, 0, 0, 0] : [2, 1, 3 * 227 * 227 * 4 + 4, 3 * 8]);
      }
    }
    losses['cuda-host'].forEach((l, i) => near(l, losses.cpu[i], 1e-4, `step ${i + 1}`));
  }, 120_000);

  it('a checkpoint downloads each tensor once; loading puts parameters and optimiser state on the device (one upload each)', () => {
    const d = device();
    const backend = 'cuda-host';
    const net = createModel('small', { seed: 5, backend, channels: 1, imageSize: 28, numClasses: 10 });
    const ce = new CrossEntropyLoss();
    ce.backend = backend;
    const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9, backend });
    const io = deviceInput(backend, [4, 1, 28, 28]);
    io.host.data.forEach((_, i, a) => (a[i] = Math.cos(i)));
    ce.forward(net.forward(io.upload()), [1, 2, 3, 4]);
    net.backward(ce.backward());
    opt.step();
    const params = net.parameters();
    const elements = params.reduce((a, p) => a + p.value.size, 0);
    // strict mode: the implicit copy fails, the explicit one works
    expect(() => params[0].value.data).toThrow(/CONVNET_CUDA_STRICT=1.*toHost/);
    const state: TrainState = {
      epoch: 1, stepInEpoch: 1, globalStep: 1, bestValTop1Err: Infinity, optimizer: { step: opt.stepCount, groups: [{ lr: 0.05, initialLr: 0.05 }] },
      scheduler: null, config: { ...BASE_CONFIG, model: 'small' }, dataset: { name: 'synthetic', mean: [0.5], std: [0.29], classes: Array.from({ length: 10 }, (_, i) => `c${i}`), shape: [1, 28, 28] },
    };
    const file = join(root, 'in-process.safetensors');
    const t0 = d.transfers();
    saveCheckpoint(file, net, opt, state);
    const t1 = d.transfers();
    // every parameter and every momentum buffer: one download each, its bytes exactly; nothing up
    expect([t1.downloads - t0.downloads, t1.downloadBytes - t0.downloadBytes, t1.uploads - t0.uploads]).toEqual([2 * params.length, 2 * elements * 4, 0]);

    const ck = loadCheckpoint(file);
    const net2 = createModel('small', { seed: 6, backend, channels: 1, imageSize: 28, numClasses: 10 });
    const opt2 = new SGD(net2.parameters(), { lr: 0.05, momentum: 0.9, backend });
    const t2 = d.transfers();
    net2.loadStateDict(ck.model);
    opt2.loadStateDict({ step: ck.state.optimizer.step, groups: ck.state.optimizer.groups, buffers: ck.optimBuffers });
    const t3 = d.transfers();
    expect([t3.uploads - t2.uploads, t3.uploadBytes - t2.uploadBytes, t3.downloads - t2.downloads]).toEqual([2 * params.length, 2 * elements * 4, 0]);
    const p2 = net2.parameters();
    p2.forEach((p, i) => {
      expect(memoryOf(p.value)).toBe(backend);
      expect(differ(toHostTensor(p.value).data, toHostTensor(params[i].value).data), p.name).toBe(0);
    });
    const sd = opt2.stateDict().buffers;
    expect(sd.size).toBe(params.length);
    for (const [k, v] of opt.stateDict().buffers) expect(differ(sd.get(k)!.data, v.data), k).toBe(0);
  });

  it('evaluation in batches of 48 (the last one short): 3 transfers per batch, bytes exact, the cpu loss', async () => {
    const d = device();
    const cfg: TrainConfig = { ...BASE_CONFIG, data: 'synthetic', model: 'small', workers: 1 };
    const ds = syntheticDataset([1, 28, 28], 10, 512, 4);  // 128 test images
    const results = [];
    for (const backend of ['cuda-host', 'cpu']) {
      const net = createModel('small', { seed: 7, backend, channels: 1, imageSize: 28, numClasses: 10 });
      const src = memorySource(ds, { crop: 28, pad: 0 }, cfg);
      const t0 = d.transfers();
      results.push({ ...(await evaluate(net, src, 0, 48)), moved: d.transfers().uploadBytes - t0.uploadBytes + d.transfers().downloadBytes - t0.downloadBytes });
      await src.close();
    }
    const [a, b] = results;
    expect(a.n).toBe(128);
    near(a.loss, b.loss, 1e-5, 'loss');
    expect(a.top1Err).toBe(b.top1Err);
    expect(a.transfers?.perBatch).toBe(3);
    expect(a.moved).toBe(128 * 28 * 28 * 4 + 128 * 4 + 3 * 3 * 8);
    expect(b.transfers).toBeUndefined();
  });
});
