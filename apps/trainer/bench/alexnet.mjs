#!/usr/bin/env node
// `pnpm bench`: AlexNet images/s of our trainer next to PyTorch, onnxruntime-node and oneDNN, measured in the same run.
//
//   node apps/trainer/bench/alexnet.mjs [--quick] [--steps N] [--only train/paper/128,infer/torchvision/1,...]
//                                       [--no-torch] [--no-ort] [--no-onednn] [--no-loader] [--bf16] [--json FILE]
//
// Every workload runs in a process of its own (ours: workload.mjs, PyTorch: test/pytorch/bench_torch.py, ONNX
// Runtime: ort.mjs, oneDNN: onednn.cpp built on demand by onednn.mjs), one after another and interleaved per
// workload (ours, PyTorch, onnxruntime, oneDNN), so each peak RSS is that workload's own and slow drifts of a shared
// machine hit the peers alike. Peers run at their best: PyTorch's OpenBLAS gets the core type that matches the CPU
// (OPENBLAS_CORETYPE, for that child only; the table prints the library and the core type it reports), oneDNN picks
// its own layouts and kernels. A train step = forward +
// cross-entropy + backward + SGD (momentum 0.9, weight decay 5e-4); inference = forward in eval mode. Figures
// are medians of the timed steps after one (ours, ORT) or two (PyTorch; one with --quick) warm-up steps.
// "% peak" = our GFLOP/s (spec FLOPs: forward × 1 for inference, × 3 for training) over the machine's FMA
// peak measured at the start and end of the run by @convnet/native's fmaPeak (best round).
// Peers that are not installed are reported as skipped with the command that installs them.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native, writeFileAtomic } from '@convnet/tensor';
import { modelSpec, summarize } from '@convnet/alexnet';
import { buildOnednn, runOnednn } from './onednn.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../../..');
const args = process.argv.slice(2);
const flag = (k) => args.includes(k);
const arg = (k, d) => (flag(k) ? args[args.indexOf(k) + 1] : d);
const quick = flag('--quick');
const steps = Number(arg('--steps', quick ? 2 : 5));
if (!(Number.isInteger(steps) && steps > 0)) throw new Error(`bench: --steps must be a positive integer, got '${arg('--steps')}'`);
const ALL = [
  'train/paper/128', 'train/paper/32', 'train/torchvision/128', 'train/torchvision/32',
  'infer/paper/1', 'infer/paper/32', 'infer/paper/128', 'infer/torchvision/1', 'infer/torchvision/32', 'infer/torchvision/128',
];
const workloads = arg('--only', '') ? arg('--only').split(',') : ALL;
for (const w of workloads)
  if (!ALL.includes(w)) throw new Error(`bench: --only: unknown workload '${w}' (known: ${ALL.join(', ')})`);
const bf16 = flag('--bf16');
const info = native().info();
const threads = info.threads;
const onnxFile = join(root, 'test/.cache/alexnet.onnx');

/** Runs a child that prints one JSON line last; returns the parsed line, or {error}. */
function child(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 26, cwd: root, ...opts });
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  if (r.status === 0 && last.startsWith('{')) return JSON.parse(last);
  const why = (r.stderr ?? '').trim().split('\n').filter((l) => /error/i.test(l)).pop() ?? r.error?.message ?? `exit ${r.status}`;
  return { error: why.slice(0, 200) };
}
const log = (s) => process.stderr.write(`${s}\n`);

// ----- peers available? -----
const python = '/usr/bin/python3';
let torchNote = '';
if (flag('--no-torch')) torchNote = 'not run (--no-torch)';
else if (!existsSync(python) || spawnSync(python, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status !== 0)
  torchNote = 'skipped, not installed: apt-get install python3-torch python3-torchvision libopenblas0-openmp';
const torchArgs = ['--threads', String(threads), '--steps', String(steps), '--warmup', quick ? '1' : '2'];
let torchMeta = null;

/** OpenBLAS's core type for this CPU (read from /proc/cpuinfo, not from CONVNET_ISA, which caps only our kernels):
 * SkylakeX with AVX-512 F/BW/DQ/VL, Zen on AMD and Haswell on Intel with AVX2 + FMA, else OpenBLAS's own choice. */
function openblasCoretype() {
  let text = '';
  try { text = readFileSync('/proc/cpuinfo', 'utf8'); } catch { return null; }
  const flags = new Set((text.match(/^flags\s*:(.*)$/m)?.[1] ?? '').trim().split(/\s+/));
  const amd = /AuthenticAMD/.test(text);
  if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'SkylakeX';
  if (flags.has('avx2') && flags.has('fma')) return amd ? 'Zen' : 'Haswell';
  return null;
}
const coretype = openblasCoretype();
const torchEnv = { ...process.env };
if (coretype) torchEnv.OPENBLAS_CORETYPE = coretype;
else delete torchEnv.OPENBLAS_CORETYPE;

let onednnNote = '', onednnBinary = null;
if (flag('--no-onednn')) onednnNote = 'not run (--no-onednn)';
else {
  const built = buildOnednn();
  if (built.note) onednnNote = built.note;
  else onednnBinary = built.binary;
}

let ortNote = '';
if (flag('--no-ort')) ortNote = 'not run (--no-ort)';
else {
  try {
    // not a devDependency (288 MB every contributor would download): `pnpm bench:peers` installs it into
    // test/.cache/bench-peers (git-ignored), where ort.mjs looks first
    createRequire(join(root, 'test/.cache/bench-peers/x.js')).resolve('onnxruntime-node');
  } catch {
    ortNote = 'skipped, not installed: pnpm bench:peers (npm install --prefix test/.cache/bench-peers --ignore-scripts onnxruntime-node@1.30.0)';
  }
}
if (!ortNote && !existsSync(onnxFile)) {
  if (torchNote) ortNote = `skipped: needs ${onnxFile}, which the PyTorch script exports (install PyTorch, see above)`;
  else {
    log('exporting torchvision AlexNet to ONNX (test/.cache/alexnet.onnx) ...');
    const r = child(python, [join(root, 'test/pytorch/bench_torch.py'), '--only', 'none', '--onnx', onnxFile]);
    if (r.error || !existsSync(onnxFile)) ortNote = `skipped: ONNX export failed: ${r.error}`;
  }
}

// ----- FMA peak (start) -----
const peaks = [native().fmaPeak(quick ? 0.5 : 1, threads)];
log(`FMA peak: ${peaks[0].bestGflops.toFixed(0)} GFLOP/s best, ${peaks[0].medianGflops.toFixed(0)} median (${threads} threads)`);

// ----- workloads -----
const rows = [];
for (const w of workloads) {
  const [kind, model, b] = w.split('/');
  const batch = Number(b);
  const gflop = (summarize(modelSpec(model)).flops * (kind === 'train' ? 3 : 1) * batch) / 1e9;
  const row = { workload: w, batch, gflop };
  row.ours = child(process.execPath, [join(here, 'workload.mjs'), w, '--steps', String(steps), ...(bf16 ? ['--bf16'] : [])]);
  log(`ours    ${w}: ${row.ours.error ?? `${row.ours.imagesPerSec.toFixed(1)} images/s`}`);
  if (!torchNote) {
    const t = child(python, [join(root, 'test/pytorch/bench_torch.py'), ...torchArgs, '--only', w], { env: torchEnv });
    if (t.error) row.torch = t;
    else {
      torchMeta = { torch: t.torch, blas: t.blas, blasCore: t.blas_core, coretypeEnv: t.openblas_coretype_env };
      const r = t.results.find((x) => x.workload === w);
      row.torch = { imagesPerSec: r.images_per_sec, bestImagesPerSec: r.best_images_per_sec, cpuImagesPerSec: r.cpu_images_per_sec, peakRssMb: t.peak_rss_mb };
    }
    log(`PyTorch ${w}: ${row.torch.error ?? `${row.torch.imagesPerSec.toFixed(1)} images/s`}`);
  }
  if (!ortNote && kind === 'infer' && model === 'torchvision') {
    row.ort = child(process.execPath, [join(here, 'ort.mjs'), onnxFile, b, '--steps', String(steps), '--threads', String(threads)]);
    log(`ORT     ${w}: ${row.ort.error ?? `${row.ort.imagesPerSec.toFixed(1)} images/s`}`);
  }
  if (onednnBinary) {
    row.onednn = runOnednn(onednnBinary, w, { steps, threads });
    log(`oneDNN  ${w}: ${row.onednn.error ?? `${row.onednn.imagesPerSec.toFixed(1)} images/s`}`);
  }
  rows.push(row);
}
const loader = flag('--no-loader') ? null : child(process.execPath, [join(here, 'loader.mjs'), '--images', quick ? '256' : '512', '--seconds', quick ? '2' : '4', '--workers', String(threads)]);

// ----- FMA peak (end) -----
peaks.push(native().fmaPeak(quick ? 0.5 : 1, threads));
const peak = Math.max(...peaks.map((p) => p.bestGflops));

// ----- table -----
const f1 = (v) => (v == null ? '-' : v.toFixed(1));
const ratio = (a, b) => (a?.imagesPerSec && b?.imagesPerSec ? `${(a.imagesPerSec / b.imagesPerSec).toFixed(2)}×` : '-');
const ips = (r) => (r == null ? '-' : r.error ? 'error' : f1(r.imagesPerSec));
const ortVersion = rows.find((r) => r.ort?.version)?.ort.version;
const onednnVersion = rows.find((r) => r.onednn?.version)?.onednn.version;
const blasText = (m) => `BLAS ${m.blas}${m.blasCore ? `, OpenBLAS core ${m.blasCore}` : ''}` +
  `${m.coretypeEnv ? ` (OPENBLAS_CORETYPE=${m.coretypeEnv})` : ''}${/openblas/i.test(m.blas ?? '') ? '' : ' (not OpenBLAS: apt-get install libopenblas0-openmp)'}`;
const out = [];
out.push(`machine: ${cpus()[0]?.model.trim()} (${cpus().length} cores), ${threads} threads, ISA ${info.isa}` +
  `${info.avx512bf16 ? ' + AVX512-BF16' : ''}${info.amx ? ' + AMX' : ''}; Node ${process.version}` +
  `${bf16 ? '; ours with --bf16 (bf16 GEMM inputs, fp32 accumulation)' : ''}`);
out.push(`peers: ${torchMeta ? `PyTorch ${torchMeta.torch} (${blasText(torchMeta)})` : `PyTorch ${torchNote || 'failed'}`}; ` +
  `${ortNote ? `onnxruntime-node ${ortNote}` : `onnxruntime-node ${ortVersion ?? ''}`}; ` +
  `${onednnNote ? `oneDNN ${onednnNote}` : `oneDNN ${onednnVersion ?? ''} (apps/trainer/bench/onednn.cpp, conv1 ${rows.find((r) => r.onednn?.conv1Impl)?.onednn.conv1Impl ?? '?'})`}`);
out.push(`FMA peak (measured, ${threads} threads, ${peaks[0].vectorFloats} floats/vector): best ${peak.toFixed(0)} GFLOP/s; ` +
  `median rounds ${peaks.map((p) => p.medianGflops.toFixed(0)).join(' / ')} at start / end (lower = other load on the cores)`);
out.push(`images/s: median of ${steps} steps (batch 1: ${steps * 4}) after warm-up; ratio = ours / peer; RSS = each process's peak`);
const head = ['workload', 'ours', 'PyTorch', 'onnxrt', 'oneDNN', 'vs PyTorch', 'vs onnxrt', 'vs oneDNN', 'GFLOP/s', '% peak', 'RSS ours', 'RSS PyTorch', 'RSS onnxrt', 'RSS oneDNN'];
const widths = [22, 7, 8, 7, 7, 10, 9, 9, 8, 7, 9, 11, 10, 10];
out.push(head.map((h, i) => (i ? h.padStart(widths[i]) : h.padEnd(widths[i]))).join(' '));
for (const r of rows) {
  const g = r.ours?.imagesPerSec ? (r.gflop / r.batch) * r.ours.imagesPerSec : null;
  const rss = (x) => (x?.peakRssMb ? `${x.peakRssMb.toFixed(0)} MB` : '-');
  const cells = [r.workload, ips(r.ours), ips(r.torch), ips(r.ort), ips(r.onednn), ratio(r.ours, r.torch), ratio(r.ours, r.ort),
    ratio(r.ours, r.onednn), f1(g), g ? `${((100 * g) / peak).toFixed(1)}%` : '-', rss(r.ours), rss(r.torch), rss(r.ort), rss(r.onednn)];
  out.push(cells.map((c, i) => (i ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join(' '));
}
if (loader) out.push(`loader: ${loader.error ?? `${loader.imagesPerSec.toFixed(0)} images/s`} (raw pack of 256×256 images → 224×224 random crop + flip + PCA lighting + normalise, batch 128, ${threads} worker threads)`);
for (const [name, note] of [['PyTorch', torchNote], ['onnxruntime-node', ortNote], ['oneDNN', onednnNote]]) if (note) out.push(`${name}: ${note}`);
for (const r of rows) for (const [k, v] of Object.entries({ ours: r.ours, PyTorch: r.torch, onnxrt: r.ort, oneDNN: r.onednn })) if (v?.error) out.push(`${k} ${r.workload} failed: ${v.error}`);

// ----- the issue's targets (same-run ratios) -----
const get = (w) => rows.find((r) => r.workload === w);
const check = (label, w, peer, min) => {
  const r = get(w);
  const a = r?.ours?.imagesPerSec, b = r?.[peer]?.imagesPerSec;
  if (!a || !b) return `  ${label}: not measured`;
  const x = a / b;
  return `  ${label}: ${x.toFixed(2)}× (target ≥ ${min}×) ${x >= min ? 'met' : 'MISSED'}`;
};
// Issue 14's targets: training ≥ 1.0× oneDNN; torchvision inference ≥ 1.0× onnxruntime and oneDNN; paper inference
// ≥ 1.0× oneDNN; peak RSS ≤ PyTorch's.
const targets = [];
for (const w of workloads) {
  const [kind, model] = w.split('/');
  targets.push(check(`${w} vs oneDNN`, w, 'onednn', 1.0));
  if (kind === 'infer' && model === 'torchvision') targets.push(check(`${w} vs onnxruntime`, w, 'ort', 1.0));
}
for (const w of ['train/paper/128', 'train/torchvision/128']) {
  const r = get(w);
  if (r?.ours?.peakRssMb && r?.torch?.peakRssMb)
    targets.push(`  peak RSS ${w}: ours ${r.ours.peakRssMb.toFixed(0)} MB, PyTorch ${r.torch.peakRssMb.toFixed(0)} MB ${r.ours.peakRssMb <= r.torch.peakRssMb ? 'met' : 'MISSED'}`);
}
out.push('targets (this run):', ...targets);
console.log(out.join('\n'));

if (arg('--json')) {
  const json = { date: new Date().toISOString(), threads, isa: info.isa, bf16, steps, peaks, peak, torch: torchMeta, torchNote, ortNote, onednnNote, rows, loader };
  writeFileAtomic(arg('--json'), JSON.stringify(json, null, 1));
}
