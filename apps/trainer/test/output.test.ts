// What `convnet train` shows: a progress line that fits the terminal, --quiet and --json for scripts, a report with
// round-number ticks, epoch numbers, the headline result, date, versions and machine.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Progress, fitLine, type ProgressStats } from '../src/progress.js';
import { headline, niceTicks, renderReport, reportSvg, type EpochMetrics } from '../src/report.js';

const p: ProgressStats = { epoch: 12, epochs: 90, step: 4321, steps: 10009, loss: 2.345678, top1Err: 0.51234, top5Err: 0.2789, imagesPerSec: 1234.5, dataWaitShare: 0.031, commWaitShare: 0.12, etaSec: 3725 };

describe('progress line', () => {
  it('fits 80 and 120 columns (fields dropped before the bar goes), never a line break', () => {
    for (const cols of [40, 80, 120, 200]) {
      const line = fitLine(p, cols - 1);
      expect(line.length, `${cols}: ${line}`).toBeLessThanOrEqual(cols - 1);
      expect(line).not.toContain('\n');
      expect(line).toContain('epoch 12/90');
      if (cols >= 80) expect(line).toContain('loss 2.3457');
    }
    expect(fitLine(p, 79)).toContain('ETA 1:02:05');
    expect(fitLine(p, 199)).toContain('top-5 err 27.89%');
    expect(fitLine(p, 79)).not.toContain('top-5');
    expect(fitLine(p, 119)).toMatch(/^█+░+ /);
  });

  it('redraws in place on a terminal and again when it is resized', () => {
    const out = Object.assign(new EventEmitter(), { isTTY: true, columns: 120, written: [] as string[], write(s: string) { this.written.push(s); return true; } });
    const pr = new Progress(out as unknown as NodeJS.WriteStream);
    pr.update(p);
    out.columns = 60;
    out.emit('resize');
    expect(out.written).toHaveLength(2);
    expect(out.written.every((w) => w.startsWith('\r') && !w.includes('\n'))).toBe(true);
    expect(out.written[1].replace(/\r|\x1b\[K/g, '').length).toBeLessThanOrEqual(59);
    pr.done();
    expect(out.listenerCount('resize')).toBe(0);
  });
});

describe('report', () => {
  it('y ticks are round numbers covering the data; x ticks are epochs', () => {
    expect(niceTicks(0.312, 0.875)).toEqual([0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    expect(niceTicks(8.31, 13.34)).toEqual([8, 9, 10, 11, 12, 13, 14]);
    expect(niceTicks(0, 2.3)).toEqual([0, 0.5, 1, 1.5, 2, 2.5]);
    const ep = (epoch: number, err: number): EpochMetrics => ({ epoch, trainLoss: err * 3, trainTop1Err: err + 0.01, trainTop5Err: 0.01, valLoss: err * 3, valTop1Err: err, valTop5Err: err / 10, lr: 0.1, imagesPerSec: 1000 + epoch, dataWaitShare: 0, seconds: 10 });
    const e = [ep(1, 0.2), ep(2, 0.1), ep(3, 0.12)];
    expect(headline(e)).toBe('final (epoch 3): top-1 accuracy 88.00% (error 12.00%), top-5 error 1.20% · best (epoch 2): top-1 accuracy 90.00%, top-5 error 1.00% · 1002 images/s');
    const info = { date: '2026-12-03 10:00 UTC', versions: '@convnet/trainer 0.1.0, Node v20', machine: 'Some CPU, 2 cores, avx2 kernels' };
    const html = renderReport({ title: 't', config: {}, epochs: e, info });
    expect(html).toContain(headline(e));
    expect(html).toContain('2026-12-03 10:00 UTC · @convnet/trainer 0.1.0, Node v20 · Some CPU, 2 cores, avx2 kernels');
    for (const k of ['1', '2', '3']) expect(html).toContain(`text-anchor="middle">${k}</text>`); // epoch numbers
    expect(html).toMatch(/text-anchor="end">10<\/text>/); // error % axis: 10, 12, ..., 20
    const svg = reportSvg({ title: 't', config: {}, epochs: e, info });
    expect(svg).toContain(headline(e).replace(/·/g, '·'));
    expect(svg).toContain('Some CPU, 2 cores');
  });
});

describe('--quiet and --json', () => {
  const root = mkdtempSync(join(tmpdir(), 'convnet-out-'));
  const data = join(root, 'd');
  mkdirSync(data, { recursive: true });
  const idx = (dims: number[], bytes: Uint8Array) => {
    const head = Buffer.alloc(4 + 4 * dims.length);
    head.writeUInt32BE(0x800 | dims.length, 0);
    dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
    return Buffer.concat([head, Buffer.from(bytes)]);
  };
  for (const [prefix, n] of [['train', 128], ['t10k', 32]] as const) {
    writeFileSync(join(data, `${prefix}-images-idx3-ubyte`), idx([n, 28, 28], Uint8Array.from({ length: n * 784 }, (_, i) => ((Math.floor(i / 784) % 4) * 60 + (i % 13)) & 255)));
    writeFileSync(join(data, `${prefix}-labels-idx1-ubyte`), idx([n], Uint8Array.from({ length: n }, (_, i) => i % 4)));
  }
  const run = (a: string[]) => spawnSync('node', [new URL('../dist/cli.js', import.meta.url).pathname, 'train', '--data', data, '--batch-size', '32', '--epochs', '2', ...a], { encoding: 'utf8', env: { ...process.env, CONVNET_NUM_THREADS: '1' } });

  it('--json: one JSON object per line on stdout (each epoch, then the result), nothing on stderr', () => {
    const r = run(['--json', '--run', join(root, 'json')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['epoch', 'epoch', 'result']);
    expect(lines[2]).toMatchObject({ type: 'result', epochs: 2, globalStep: 8, stopped: null, exitCode: 0, final: { epoch: 2 } });
    expect(lines[2].final.top1Err).toBe(lines[1].valTop1Err);
    const html = readFileSync(join(root, 'json', 'report.html'), 'utf8');
    expect(html).toMatch(/final \(epoch 2\): top-1 accuracy/);
  });

  it('--quiet: only the result line; --max-steps ends with a line and writes the report', () => {
    const q = run(['--quiet', '--run', join(root, 'quiet')]);
    expect(q.status, q.stderr).toBe(0);
    expect(q.stderr).toBe('');
    expect(q.stdout).toMatch(/^test accuracy \d+\.\d+% .* after 2 epochs\nrun directory: /);
    const m = run(['--max-steps', '5', '--run', join(root, 'max')]);
    expect(m.status).toBe(0);
    expect(m.stderr).toMatch(/stopped at --max-steps 5: epoch 2, step 1\/4; checkpoint .*last\.safetensors; continue with: convnet train --resume/);
    expect(readFileSync(join(root, 'max', 'report.html'), 'utf8')).toMatch(/final \(epoch 1\)/);
  });
});
