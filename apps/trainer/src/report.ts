/**
 * The run report: one self-contained HTML file (inline SVG, no server, no scripts) with the loss and error
 * curves and the grid of first-layer filters (the paper's Figure 3), rewritten atomically each epoch.
 */
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
  seconds: number;
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function lineChart(title: string, series: { name: string; color: string; points: [number, number][] }[], yLabel: string): string {
  const W = 460, H = 260, L = 52, R = 12, T = 28, B = 36;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (all.length === 0) return `<svg width="${W}" height="${H}"><text x="10" y="20">${esc(title)}: no data yet</text></svg>`;
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const grid: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    grid.push(`<line x1="${L}" x2="${W - R}" y1="${py(y)}" y2="${py(y)}" stroke="#ddd"/><text x="${L - 6}" y="${py(y) + 4}" font-size="10" text-anchor="end">${y.toPrecision(3)}</text>`);
  }
  const lines = series.map((s, i) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y));
    const d = pts.map(([x, y], j) => `${j ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    const dots = pts.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`).join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>${dots}<text x="${W - R - 4}" y="${T + 14 * i + 2}" font-size="11" text-anchor="end" fill="${s.color}">${esc(s.name)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<text x="${L}" y="16" font-size="13" font-weight="bold">${esc(title)}</text>${grid.join('')}
<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">epoch</text>
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

export function renderReport(opts: {
  title: string;
  config: Record<string, unknown>;
  epochs: EpochMetrics[];
  conv1?: { data: Float32Array; shape: readonly number[] };
}): string {
  const e = opts.epochs;
  const { loss, err } = charts(e);
  const rows = e.map((m) => `<tr><td>${m.epoch}</td><td>${m.trainLoss.toFixed(4)}</td><td>${(100 * m.trainTop1Err).toFixed(2)}</td><td>${m.valTop1Err === undefined ? '' : (100 * m.valTop1Err).toFixed(2)}</td><td>${m.valTop5Err === undefined ? '' : (100 * m.valTop5Err).toFixed(2)}</td><td>${m.lr.toPrecision(3)}</td><td>${m.imagesPerSec.toFixed(0)}</td><td>${(100 * m.dataWaitShare).toFixed(1)}</td><td>${m.seconds.toFixed(1)}</td></tr>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(opts.title)}</title>
<style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}.row{display:flex;gap:24px;flex-wrap:wrap}pre{background:#f6f6f6;padding:8px}</style></head><body>
<h1>${esc(opts.title)}</h1><div class="row">${loss}${err}</div>
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
  const W = Math.max(2 * cw + 24, gw + 24) + 16, top = 40;
  const H = top + ch + (grid ? 40 + gh : 0) + 12;
  const gx = (W - gw) / 2;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif">
<rect width="${W}" height="${H}" fill="#fff"/><text x="16" y="26" font-size="16" font-weight="bold">${esc(opts.title)}</text>
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
