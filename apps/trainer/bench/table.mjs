#!/usr/bin/env node
// Markdown table of one or more `pnpm bench --json FILE` runs (for README.md): per workload the median over the
// runs of ours / PyTorch / onnxruntime / oneDNN images/s and of the same-run ratios, the spread of the ratios, and our
// share of the measured FMA peak (each run's ours over that run's peak).
//   node apps/trainer/bench/table.mjs run1.json [run2.json ...]
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (!files.length) throw new Error('table.mjs: give one or more JSON files written by `pnpm bench --json FILE`');
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
const median = (a) => { const s = a.filter((x) => x != null && Number.isFinite(x)).sort((p, q) => p - q); return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : null; };
const range = (a) => { const s = a.filter((x) => x != null && Number.isFinite(x)); return s.length > 1 ? ` (${Math.min(...s).toFixed(2)}–${Math.max(...s).toFixed(2)})` : ''; };
const f1 = (v) => (v == null ? '—' : v.toFixed(1));
const ips = (r, k) => r?.[k]?.imagesPerSec ?? null;
const names = [...new Set(runs.flatMap((r) => r.rows.map((x) => x.workload)))];
const rowsOut = ['| workload | ours img/s | PyTorch img/s | onnxruntime img/s | oneDNN img/s | ours / PyTorch | ours / onnxruntime | ours / oneDNN | % of FMA peak | command |', '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|'];
for (const w of names) {
  const rs = runs.map((run) => ({ run, row: run.rows.find((x) => x.workload === w) })).filter((x) => x.row);
  const ours = rs.map((x) => ips(x.row, 'ours')), torch = rs.map((x) => ips(x.row, 'torch')), ort = rs.map((x) => ips(x.row, 'ort')), dnn = rs.map((x) => ips(x.row, 'onednn'));
  const rt = rs.map((x) => (ips(x.row, 'ours') && ips(x.row, 'torch') ? ips(x.row, 'ours') / ips(x.row, 'torch') : null));
  const ro = rs.map((x) => (ips(x.row, 'ours') && ips(x.row, 'ort') ? ips(x.row, 'ours') / ips(x.row, 'ort') : null));
  const rd = rs.map((x) => (ips(x.row, 'ours') && ips(x.row, 'onednn') ? ips(x.row, 'ours') / ips(x.row, 'onednn') : null));
  const rat = (a) => (m(a) == null ? '—' : `${m(a).toFixed(2)}×${range(a)}`);
  const pk = rs.map((x) => (ips(x.row, 'ours') ? (100 * (x.row.gflop / x.row.batch) * ips(x.row, 'ours')) / x.run.peak : null));
  const m = (a) => median(a);
  rowsOut.push(`| ${w} | ${f1(m(ours))} | ${f1(m(torch))} | ${f1(m(ort))} | ${f1(m(dnn))} | ${rat(rt)} | ${rat(ro)} | ${rat(rd)} | ${m(pk) == null ? '—' : `${m(pk).toFixed(0)}%`} | \`pnpm bench --only ${w}\` |`);
}
const loaders = runs.map((r) => r.loader?.imagesPerSec).filter(Boolean);
console.log(rowsOut.join('\n'));
console.log();
console.log(`runs: ${runs.length} (${runs.map((r) => r.date.slice(0, 16).replace('T', ' ')).join(', ')} UTC); FMA peak per run: ${runs.map((r) => r.peak.toFixed(0)).join(', ')} GFLOP/s` +
  `${loaders.length ? `; loader: ${loaders.map((x) => x.toFixed(0)).join(', ')} images/s` : ''}`);
for (const w of ['train/paper/128', 'train/torchvision/128']) {
  const rss = runs.map((r) => r.rows.find((x) => x.workload === w)).filter(Boolean);
  if (rss.length) console.log(`peak RSS ${w}: ours ${rss.map((x) => x.ours?.peakRssMb?.toFixed(0) ?? '—').join(', ')} MB; PyTorch ${rss.map((x) => x.torch?.peakRssMb?.toFixed(0) ?? '—').join(', ')} MB`);
}
