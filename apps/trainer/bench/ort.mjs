#!/usr/bin/env node
// onnxruntime-node inference of torchvision's AlexNet (the ONNX file that test/pytorch/bench_torch.py exports),
// in a process of its own, for `pnpm bench`: prints one JSON line like workload.mjs.
//   node apps/trainer/bench/ort.mjs MODEL.onnx BATCH [--steps N] [--threads T]
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [file, b, ...rest] = process.argv.slice(2);
const batch = Number(b);
if (!file || !existsSync(file)) throw new Error(`ort.mjs: ONNX file '${file}' not found (test/pytorch/bench_torch.py --onnx writes it)`);
if (!(Number.isInteger(batch) && batch > 0)) throw new Error(`ort.mjs: batch must be a positive integer, got '${b}'`);
const opt = (k, d) => (rest.includes(k) ? Number(rest[rest.indexOf(k) + 1]) : d);
const stepsArg = opt('--steps', 3), threads = opt('--threads', 2);
// installed on demand by `pnpm bench:peers` into test/.cache/bench-peers (not a devDependency: 288 MB)
const peers = join(import.meta.dirname, '../../../test/.cache/bench-peers/x.js');
const ortModule = await import(pathToFileURL(createRequire(peers).resolve('onnxruntime-node')).href);
const ort = ortModule.InferenceSession ? ortModule : ortModule.default;
const session = await ort.InferenceSession.create(file, {
  intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
});
const data = new Float32Array(batch * 3 * 224 * 224);
for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.7) * 2; // deterministic, input-independent cost
const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, 224, 224]) };
const steps = batch === 1 ? stepsArg * 4 : stepsArg;
await session.run(feeds); // warm-up
const wall = [], cpu = [];
for (let i = 0; i < steps; i++) {
  const c0 = process.cpuUsage(), t0 = performance.now();
  await session.run(feeds);
  const t = performance.now() - t0, c = process.cpuUsage(c0);
  wall.push(t / 1000);
  cpu.push((c.user + c.system) / 1e6);
}
const median = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
console.log(JSON.stringify({
  workload: `infer/torchvision/${batch}`, steps, threads, version: ort.env.versions?.common ?? '',
  imagesPerSec: batch / median(wall), bestImagesPerSec: batch / Math.min(...wall),
  cpuImagesPerSec: (batch * threads) / median(cpu), peakRssMb: process.resourceUsage().maxRSS / 1024,
}));
