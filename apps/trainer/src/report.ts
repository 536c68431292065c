/**
 * The run report: one self-contained HTML file (inline SVG, no server, no scripts) with the loss and error
 * curves and the grid of first-layer filters (the paper's Figure 3), rewritten atomically each epoch.
 */
import { cpus } from 'node:os';
import { writeFileAtomic } from '@convnet/tensor';

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainTop1Err: number;
  trainTop5Err: number;
  valLoss?: number;
  valTop1Err?: number;
  valTop5Err?: number;
  lr: number;
  imagesPerSec: number;
  dataWaitShare: number;
  /** Data-parallel runs: share of the time the loop waited for gradient communication, and the rank count. */
  commWaitShare?: number;
  ranks?: number;
  /** Device runs: host↔device copies per training step and their bytes. */
  transfersPerStep?: number;
  transferBytesPerStep?: number;
  /** Device runs: host↔device copies per evaluation batch and their bytes. */
  valTransfersPerBatch?: number;
  valTransferBytesPerBatch?: number;
  seconds: number;
}

/**
 * Round-number axis ticks covering [lo, hi] (d3-scale's nice(): steps of 1, 2 or 5 × 10^k, about `count` of
 * them), e.g. 0.312..0.875 → 0.3, 0.4, ..., 0.9.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) { const d = Math.abs(lo) > 0 ? Math.abs(lo) * 0.1 : 1; lo -= d; hi += d; }
  // d3's tickIncrement: the 1/2/5 step nearest (geometrically) to the raw step
  const raw = (hi - lo) / count, mag = 10 ** Math.floor(Math.log10(raw)), r = raw / mag;
  const step = mag * (r >= Math.sqrt(50) ? 10 : r >= Math.sqrt(10) ? 5 : r >= Math.sqrt(2) ? 2 : 1);
  const start = Math.floor(lo / step + 1e-9), end = Math.ceil(hi / step - 1e-9);
  const out: number[] = [];
  for (let i = start; i <= end; i++) out.push(Number((i * step).toPrecision(12)));
  return out.length >= 2 ? out : [out[0], out[0] + step];
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function lineChart(title: string, series: { name: string; color: string; points: [number, number][] }[], yLabel: string): string {
  const W = 460, H = 260, L = 52, R = 12, T = 28, B = 36;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (all.length === 0) return `<svg width="${W}" height="${H}"><text x="10" y="20">${esc(title)}: no data yet</text></svg>`;
  let x0 = Infinity, x1 = -Infinity, lo = Infinity, hi = -Infinity;
  for (const [x, y] of all) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); lo = Math.min(lo, y); hi = Math.max(hi, y); }
  if (x1 <= x0) { x0 -= 0.5; x1 += 0.5; }
  const yt = niceTicks(lo, hi, 5);
  const y0 = yt[0], y1 = yt[yt.length - 1];
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const grid: string[] = [];
  const decimals = Math.max(0, -Math.floor(Math.log10(yt[1] - yt[0] || 1) + 1e-9));
  for (const y of yt)
    grid.push(`<line x1="${L}" x2="${W - R}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/><text x="${L - 6}" y="${py(y) + 4}" font-size="10" text-anchor="end">${y.toFixed(decimals)}</text>`);
  // epoch numbers on the x-axis: every epoch, or a round step when there are many
  const xstep = niceTicks(x0, x1, 8).slice(0, 2).reduce((a, b) => Math.max(1, Math.round(b - a)));
  for (let e = Math.ceil(x0 / xstep) * xstep; e <= x1 + 1e-9; e += xstep)
    grid.push(`<line x1="${px(e)}" x2="${px(e)}" y1="${H - B}" y2="${H - B + 4}" stroke="#333"/><text x="${px(e)}" y="${H - B + 15}" font-size="10" text-anchor="middle">${e}</text>`);
  const lines = series.map((s, i) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    const d = pts.map(([x, y], j) => `${j ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    const dots = pts.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`).join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>${dots}<text x="${W - R - 4}" y="${T + 14 * i + 2}" font-size="11" text-anchor="end" fill="${s.color}">${esc(s.name)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<text x="${L}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>${grid.join('')}
<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><text x="${(L + W - R) / 2}" y="${H - 2}" font-size="11" text-anchor="middle">epoch</text>
<text x="12" y="${(T + H - B) / 2}" font-size="11" transform="rotate(-90 12 ${(T + H - B) / 2})" text-anchor="middle">${esc(yLabel)}</text>
${lines.join('')}</svg>`;
}

/**
 * conv1 filters as an SVG grid of RGB (or grey) cells, each filter min-max scaled on its own, like the paper's
 * figure. weight: [o, c, kh, kw] data.
 */
export function filterGrid(weight: Float32Array, shape: readonly number[], cell = 5): string {
  const [o, c, kh, kw] = shape;
  const cols = Math.min(o, o >= 48 ? 16 : 8), rows = Math.ceil(o / cols), pad = 2;
  const W = cols * (kw * cell + pad) + pad, H = rows * (kh * cell + pad) + pad;
  const rects: string[] = [];
  for (let f = 0; f < o; f++) {
    const base = f * c * kh * kw;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < c * kh * kw; i++) { lo = Math.min(lo, weight[base + i]); hi = Math.max(hi, weight[base + i]); }
    const span = hi - lo || 1;
    const ox = pad + (f % cols) * (kw * cell + pad), oy = pad + Math.floor(f / cols) * (kh * cell + pad);
    for (let y = 0; y < kh; y++) {
      for (let x = 0; x < kw; x++) {
        const ch = (k: number) => Math.round((255 * (weight[base + (k * kh + y) * kw + x] - lo)) / span);
        const [r, g, b] = c >= 3 ? [ch(0), ch(1), ch(2)] : [ch(0), ch(0), ch(0)];
        rects.push(`<rect x="${ox + x * cell}" y="${oy + y * cell}" width="${cell}" height="${cell}" fill="rgb(${r},${g},${b})"/>`);
      }
    }
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" style="background:#222">${rects.join('')}</svg>`;
}

function charts(e: EpochMetrics[]): { loss: string; err: string } {
  const loss = lineChart('Loss', [
    { name: 'train', color: '#1f77b4', points: e.map((m) => [m.epoch, m.trainLoss]) },
    { name: 'validation', color: '#d62728', points: e.filter((m) => m.valLoss !== undefined).map((m) => [m.epoch, m.valLoss!]) },
  ], 'cross-entropy');
  const err = lineChart('Error (%)', [
    { name: 'train top-1', color: '#1f77b4', points: e.map((m) => [m.epoch, 100 * m.trainTop1Err]) },
    { name: 'val top-1', color: '#d62728', points: e.filter((m) => m.valTop1Err !== undefined).map((m) => [m.epoch, 100 * m.valTop1Err!]) },
    { name: 'val top-5', color: '#ff7f0e', points: e.filter((m) => m.valTop5Err !== undefined).map((m) => [m.epoch, 100 * m.valTop5Err!]) },
  ], 'error %');
  return { loss, err };
}

export interface ReportInfo {
  /** When the report was written, the package and Node versions, and the machine (CPU, cores, kernel path). */
  date: string;
  versions: string;
  machine: string;
}

/** The machine and versions for the report's header. */
export function reportInfo(version: string, isa: string): ReportInfo {
  const cpu = cpus();
  return {
    date: new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC',
    versions: `@convnet/trainer ${version}, Node ${process.version}`,
    machine: `${cpu[0]?.model?.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${isa} kernels, ${process.platform} ${process.arch}`,
  };
}

/** One line: final and best validation top-1/top-5 (as accuracy and error) and the mean images/s. */
export function headline(e: EpochMetrics[]): string {
  const v = e.filter((m) => m.valTop1Err !== undefined);
  if (!v.length) return 'no finished epoch yet';
  const last = v[v.length - 1];
  const best = v.reduce((b, m) => (m.valTop1Err! < b.valTop1Err! ? m : b));
  const pc = (x: number) => `${(100 * x).toFixed(2)}%`;
  const ips = e.reduce((a, m) => a + m.imagesPerSec * m.seconds, 0) / Math.max(1e-9, e.reduce((a, m) => a + m.seconds, 0));
  return `final (epoch ${last.epoch}): top-1 accuracy ${pc(1 - last.valTop1Err!)} (error ${pc(last.valTop1Err!)}), top-5 error ${pc(last.valTop5Err!)} · ` +
    `best (epoch ${best.epoch}): top-1 accuracy ${pc(1 - best.valTop1Err!)}, top-5 error ${pc(best.valTop5Err!)} · ${ips.toFixed(0)} images/s`;
}

export function renderReport(opts: {
  title: string;
  config: Record<string, unknown>;
  epochs: EpochMetrics[];
  conv1?: { data: Float32Array; shape: readonly number[] };
  info?: ReportInfo;
}): string {
  const e = opts.epochs;
  const { loss, err } = charts(e);
  const meta = opts.info ? `<p>${esc(opts.info.date)} · ${esc(opts.info.versions)} · ${esc(opts.info.machine)}</p>` : '';
  const rows = e.map((m) => `<tr><td>${m.epoch}</td><td>${m.trainLoss.toFixed(4)}</td><td>${(100 * m.trainTop1Err).toFixed(2)}</td><td>${m.valTop1Err === undefined ? '' : (100 * m.valTop1Err).toFixed(2)}</td><td>${m.valTop5Err === undefined ? '' : (100 * m.valTop5Err).toFixed(2)}</td><td>${m.lr.toPrecision(3)}</td><td>${m.imagesPerSec.toFixed(0)}</td><td>${(100 * m.dataWaitShare).toFixed(1)}</td><td>${m.seconds.toFixed(1)}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(opts.title)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}.row{display:flex;gap:24px;flex-wrap:wrap}pre{background:#f6f6f6;padding:8px}</style></head><body>
<h1>${esc(opts.title)}</h1><p><b>${esc(headline(e))}</b></p>${meta}<div class="row">${loss}${err}</div>
${opts.conv1 ? `<h2>First-layer filters (${opts.conv1.shape.join('×')})</h2>${filterGrid(opts.conv1.data, opts.conv1.shape)}` : ''}
<h2>Epochs</h2><table><tr><th>epoch</th><th>train loss</th><th>train top-1 %</th><th>val top-1 %</th><th>val top-5 %</th><th>lr</th><th>img/s</th><th>data wait %</th><th>s</th></tr>${rows}</table>
<h2>Configuration</h2><pre>${esc(JSON.stringify(opts.config, null, 2))}</pre></body></html>`;
}

/** The report's picture as one SVG: the two charts side by side, the conv1 filter grid below. */
export function reportSvg(opts: Parameters<typeof renderReport>[0]): string {
  const { loss, err } = charts(opts.epochs);
  const inner = (svg: string) => svg.replace(/^<svg[^>]*>/, '').replace(/<\/svg>$/, '');
  const size = (svg: string) => { const m = /width="(\d+)" height="(\d+)"/.exec(svg)!; return [Number(m[1]), Number(m[2])]; };
  const [cw, ch] = size(loss);
  const grid = opts.conv1 ? filterGrid(opts.conv1.data, opts.conv1.shape) : null;
  const [gw, gh] = grid ? size(grid) : [0, 0];
  const W = Math.max(2 * cw + 24, gw + 24) + 16, top = 84;
  const H = top + ch + (grid ? 40 + gh : 0) + 12;
  const gx = (W - gw) / 2;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/><text x="16" y="26" font-size="16" font-weight="bold">${esc(opts.title)}</text>
<text x="16" y="48" font-size="11" font-weight="bold">${esc(headline(opts.epochs))}</text>
${opts.info ? `<text x="16" y="68" font-size="11" fill="#555">${esc(`${opts.info.date} · ${opts.info.versions} · ${opts.info.machine}`)}</text>` : ''}
<g transform="translate(8 ${top})">${inner(loss)}</g><g transform="translate(${8 + cw + 24} ${top})">${inner(err)}</g>
${grid ? `<text x="${gx}" y="${top + ch + 28}" font-size="13" font-weight="bold">First-layer filters (${opts.conv1!.shape.join('×')})</text><g transform="translate(${gx} ${top + ch + 36})"><rect width="${gw}" height="${gh}" fill="#222"/>${inner(grid)}</g>` : ''}
</svg>`;
}

/** Writes report.html (self-contained) and, next to it, report.png (the curves and filters as a picture). */
export async function writeReport(path: string, opts: Parameters<typeof renderReport>[0]): Promise<void> {
  writeFileAtomic(path, renderReport(opts), { mkdir: true });
  let sharp: typeof import('sharp').default;
  try {
    sharp = (await import('sharp')).default;
  } catch {
    return;  // an install without sharp: report.html only, no report.png
  }
  if (typeof sharp !== 'function') return;  // the device-check bundle's stand-in (packages/cuda/scripts/sharp-stub)
  const png = await sharp(Buffer.from(reportSvg(opts))).png().toBuffer();
  writeFileAtomic(path.replace(/\.html$/, '') + '.png', png);
}
