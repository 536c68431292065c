// `convnet board`'s server: the run list (status, best and last accuracy), downsampling against a brute-force
// reference, incremental reading with torn lines and replaced files, live events, a deleted run, paths with spaces
// and unicode, and every way of naming a file outside the runs refused.
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBoard, type Board } from '../src/board/server.js';
import { MetricsReader } from '../src/board/runs.js';
import { minMaxDownsample } from '../src/board/series.js';
import { Rng } from '@convnet/tensor';
import { epochLine, get, getJson, metricsText, sse, stepLine, writeRun } from './boardfiles.js';
import { runCli, tempRoot } from './helpers.js';

const root = tempRoot('board');
const runs = join(root, 'my runs ü');
let board: Board;
type Summary = {
  id: string;
  name: string;
  state: string;
  reason?: string;
  bestAcc: number | null;
  lastAcc: number | null;
  epochs: number;
  steps: number;
  model: string;
};
const list = async () => (await getJson<{ runs: Summary[] }>(board.url, '/api/runs')).runs;
const byName = async (name: string) => (await list()).find((r) => r.name === name)!;

beforeAll(async () => {
  writeRun(join(runs, 'finished run'), { steps: 300, spe: 100, state: 'finished' });
  writeRun(join(runs, 'живой 学習'), { steps: 150, spe: 100, state: 'running' });
  writeRun(join(runs, 'killed'), { steps: 100, spe: 100, state: 'running', pid: 2 ** 22 + 12345 });
  writeRun(join(runs, 'failed'), { steps: 100, spe: 100, state: 'failed' });
  writeRun(join(runs, 'group', 'nested'), { steps: 200, spe: 100, state: 'stopped', model: 'paper' });
  board = await startBoard({ dirs: [runs], port: 0, pollMs: 200 });
});
afterAll(async () => {
  await board?.close();
  rmSync(root, { recursive: true, force: true });
});

describe('convnet board server', () => {
  it('lists the runs under the folder (two levels, spaces and unicode) with status and accuracies', async () => {
    expect(board.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const rs = await list();
    expect(rs.map((r) => r.name).sort()).toEqual(
      ['failed', 'finished run', 'group/nested', 'killed', 'живой 学習'].sort(),
    );
    const f = await byName('finished run');
    // epoch lines: valTop1Err 0.6/e → best (and last) at epoch 3: 1 - 0.2
    expect([f.state, f.epochs, f.steps, f.bestAcc, f.lastAcc]).toEqual(['finished', 3, 300, 0.8, 0.8]);
    expect((await byName('живой 学習')).state).toBe('running'); // status.json names this live process
    expect(await byName('killed')).toMatchObject({ state: 'stopped', reason: 'killed' }); // its pid is gone
    expect(await byName('failed')).toMatchObject({ state: 'failed', reason: 'the loss became NaN' });
    expect(await byName('group/nested')).toMatchObject({ state: 'stopped', model: 'paper', bestAcc: 0.7 });
  });

  it('serves the page and uPlot from the package', async () => {
    const page = await get(board.url, '/');
    expect([page.status, page.type]).toEqual([200, 'text/html; charset=utf-8']);
    expect(page.body).toContain('/assets/uPlot.iife.min.js');
    expect(page.body).not.toMatch(/https?:\/\//); // no CDN
    const js = await get(board.url, '/assets/uPlot.iife.min.js');
    expect(js.status).toBe(200);
    expect(js.body).toContain('uPlot');
    expect((await get(board.url, '/assets/board-page.js')).status).toBe(200);
  });

  it('refuses every path outside the runs, and foreign Host headers', async () => {
    const id = (await byName('finished run')).id;
    for (const p of [
      '/../package.json',
      '/assets/../../package.json',
      '/assets/%2e%2e/%2e%2e/package.json',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/etc/passwd',
      '//etc/passwd',
      `/api/filter?run=${id}&file=../config.json`,
      `/api/filter?run=${id}&file=..%2fconfig.json`,
      `/api/filter?run=${id}&file=%2Fetc%2Fpasswd`,
      `/api/filter?run=${id}&file=conv1-epoch-001.png`,
      '/api/series?run=../../etc',
      '/api/config?run=',
      '/assets/board-page.js/../../../package.json',
      '/node_modules/uplot/package.json',
      '/src/board/server.ts',
    ]) {
      const r = await get(board.url, p);
      expect(r.status, p).toBe(404);
      expect(r.body, p).not.toMatch(/root:|"name": "@convnet|"version"/);
    }
    expect((await get(board.url, '/api/runs', { host: 'attacker.example:80' })).status).toBe(403);
    expect((await get(board.url, '/api/runs', { host: `localhost:${new URL(board.url).port}` })).status).toBe(200);
  });

  it('downsamples 120k step lines to min/max per bucket, keeping a one-step spike and the ends', async () => {
    const dir = join(runs, 'long');
    const spike = 77_777;
    writeRun(dir, {
      steps: 120_000,
      spe: 10_000,
      state: 'finished',
      loss: (s) => (s === spike ? 50 : 1 + Math.sin(s / 1000)),
    });
    await sse(board.url)
      .next((e) => e.event === 'runs', 3000)
      .catch(() => {}); // found by the watch or the poll
    const id = (await byName('long')).id;
    const t0 = performance.now();
    const s = await getJson(board.url, `/api/series?run=${id}&buckets=500`);
    const ms = performance.now() - t0;
    expect(s.stepLines).toBe(120_000);
    expect(s.steps.step.length).toBe(1000);
    expect(s.steps.step[0]).toBe(1);
    expect(s.steps.step.at(-1)).toBe(120_000);
    expect(Math.max(...s.steps.loss)).toBe(50);
    expect(s.steps.step[s.steps.loss.indexOf(50)]).toBeGreaterThan(spike - 240); // at its bucket's edge
    expect(Math.min(...s.steps.loss)).toBeCloseTo(0, 5);
    expect(s.epochs.epoch).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(s.epochs.step).toEqual(s.epochs.epoch.map((e: number) => e * 10_000));
    expect(s.steps.epoch[1]).toBeCloseTo(240 / 10_000, 6); // step / steps per epoch
    expect(ms).toBeLessThan(10_000);
    // a second request reads nothing again: the reader's offset is at the end
    const again = await getJson(board.url, `/api/series?run=${id}&buckets=500`);
    expect(again.steps.loss).toEqual(s.steps.loss);
  });

  it('minMaxDownsample equals a brute-force min and max per bucket', () => {
    const r = new Rng(7);
    const n = 10_007,
      buckets = 97;
    const x = Float64Array.from({ length: n }, (_, i) => i * 3);
    const y = r.uniform(n, -5, 5);
    y[500] = NaN;
    const d = minMaxDownsample([x], [y], n, buckets);
    expect(d.idx.length).toBe(2 * buckets);
    for (let b = 0; b < buckets; b++) {
      const i0 = Math.floor((b * n) / buckets),
        i1 = Math.floor(((b + 1) * n) / buckets);
      const vals = Array.from(y.subarray(i0, i1)).filter((v) => !Number.isNaN(v));
      const pair = [d.y[0][2 * b], d.y[0][2 * b + 1]] as number[];
      expect([Math.min(...pair), Math.max(...pair)]).toEqual([
        +Math.min(...vals).toPrecision(7),
        +Math.max(...vals).toPrecision(7),
      ]);
      expect([d.x[0][2 * b], d.x[0][2 * b + 1]]).toEqual([x[i0], x[i1 - 1]]);
    }
    const small = minMaxDownsample([x.subarray(0, 50)], [y.subarray(0, 50)], 50, 100);
    expect(small.x[0]).toEqual(Array.from(x.subarray(0, 50)));
  });

  it('reads metrics.jsonl incrementally: a torn last line waits for its newline; a replaced file is read again', () => {
    const dir = join(root, 'incremental');
    mkdirSync(dir, { recursive: true });
    const p = join(dir, 'metrics.jsonl');
    writeFileSync(p, metricsText({ steps: 20, spe: 10 }));
    const m = new MetricsReader(p, true);
    m.update();
    expect([m.steps!.length, m.epochs.length]).toEqual([20, 2]);
    const line = stepLine(21, 10, 0.5);
    appendFileSync(p, line.slice(0, 17)); // a kill in the middle of an append
    expect(m.update()).toBe(false);
    expect(m.steps!.length).toBe(20);
    const before = m.offset;
    appendFileSync(p, line.slice(17) + '\n');
    expect(m.update()).toBe(true);
    expect([m.steps!.length, m.offset - before]).toEqual([21, line.length + 1]);
    expect(m.steps!.cols.loss.view()[20]).toBe(0.5);
    // a resume cuts the file back and rewrites it (a new inode): read again from the start
    writeFileSync(p + '.tmp', metricsText({ steps: 5, spe: 10 }));
    rmSync(p);
    writeFileSync(p, metricsText({ steps: 5, spe: 10 }));
    m.update();
    expect([m.steps!.length, m.epochs.length]).toEqual([5, 0]);
    // a bad line in the middle is skipped, not fatal
    appendFileSync(p, 'not json\n' + epochLine(1, 5) + '\n');
    m.update();
    expect([m.badLines, m.epochs.length]).toEqual([1, 1]);
  });

  it("pushes a run's growth as an event within 2 s; a torn line is not counted until whole", async () => {
    const ev = sse(board.url);
    const id = (await byName('живой 学習')).id;
    await getJson(board.url, `/api/series?run=${id}`);
    const p = join(runs, 'живой 学習', 'metrics.jsonl');
    const line = stepLine(151, 100, 0.25);
    appendFileSync(p, line.slice(0, 30));
    await new Promise((r) => setTimeout(r, 400));
    expect((await getJson(board.url, `/api/series?run=${id}`)).stepLines).toBe(150);
    const t = Date.now();
    appendFileSync(p, line.slice(30) + '\n');
    const e = await ev.next((x) => x.event === 'run' && x.data.id === id && x.data.steps === 151, 2000);
    expect(e.at - t).toBeLessThan(2000);
    const s = await getJson(board.url, `/api/series?run=${id}`);
    expect([s.stepLines, s.steps.loss.at(-1)]).toEqual([151, 0.25]);
    ev.close();
  });

  it('a run folder deleted while shown: an event says so, its requests answer 404, the list drops it', async () => {
    const dir = writeRun(join(runs, 'to delete'), { steps: 10, spe: 5, state: 'finished' });
    const ev = sse(board.url);
    await new Promise((r) => setTimeout(r, 1500)); // found by the poll at the latest
    const id = (await byName('to delete')).id;
    expect((await getJson(board.url, `/api/series?run=${id}`)).stepLines).toBe(10);
    rmSync(dir, { recursive: true });
    await ev.next((x) => x.event === 'gone' && x.data.id === id, 3000);
    expect((await get(board.url, `/api/series?run=${id}`)).status).toBe(404);
    expect((await list()).some((r) => r.id === id)).toBe(false);
    ev.close();
  });
});

describe('convnet board command line', () => {
  it('names a missing folder, a bad port, a port in use (exit 2, one line)', () => {
    const a = runCli(['board', join(root, 'nope')]);
    expect([a.status, a.stderr.trim()]).toEqual([2, `convnet board: ${join(root, 'nope')}: no such folder`]);
    const b = runCli(['board', runs, '--port', '70000']);
    expect(b.status).toBe(2);
    expect(b.stderr.trim()).toMatch(/^convnet board: --port: .*70000/);
    const c = runCli(['board', '--port', String(new URL(board.url).port), runs]);
    expect([c.status, c.stderr.trim()]).toEqual([
      2,
      `convnet board: --port ${new URL(board.url).port}: in use on 127.0.0.1 ` +
        '(give another --port, or --port 0 for any free one)',
    ]);
  });
});
