#!/usr/bin/env node
// `convnet board` first paint on many runs: writes RUNS run folders of STEPS step lines each (metrics.jsonl as the
// trainer writes it at --log-every 1, an epoch line every 1000 steps, config.json, config-history.jsonl,
// status.json), starts the real CLI (`convnet board DIR --port 0`) and opens the page in headless Chromium.
//
//   node apps/trainer/bench/board.mjs [--runs 100] [--steps 10000] [--rounds 3] [--all] [--screenshot FILE]
//                                     [--keep DIR]
//
// Per round (a fresh server each time, so nothing is cached): the server's start (process start to the printed
// URL: the folders scanned, every epoch line read), then in the browser the time from navigation to the first
// paint (the run table and the charts of the default selection, the five newest runs, drawn: window.board.painted),
// and with --all the time to draw all runs selected at once. Prints one JSON line at the end.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? def : process.argv[i + 1];
};
const RUNS = Number(arg('runs', 100)),
  STEPS = Number(arg('steps', 10_000)),
  ROUNDS = Number(arg('rounds', 3));
const ALL = process.argv.includes('--all');
const SHOT = arg('screenshot', null);
const KEEP = arg('keep', null);
const CHROMIUM = process.env.CONVNET_CHROMIUM ?? '/usr/bin/chromium';
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

const root = KEEP ?? mkdtempSync(join(tmpdir(), 'convnet-board-bench-'));
const dir = join(root, 'runs');
const t0 = performance.now();
for (let r = 0; r < RUNS; r++) {
  const d = join(dir, `small-bn-fashion-mnist-run-${String(r).padStart(3, '0')}`);
  mkdirSync(d, { recursive: true });
  const lr = 0.02 + 0.001 * r,
    spe = 1000;
  const config = {
    data: 'default',
    model: 'small-bn',
    epochs: Math.ceil(STEPS / spe),
    batchSize: 128,
    lr,
    schedule: 'onecycle',
    seed: r,
  };
  const started = new Date(Date.now() - (RUNS - r) * 3600_000).toISOString();
  writeFileSync(join(d, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(
    join(d, 'config-history.jsonl'),
    JSON.stringify({ time: started, event: 'start', globalStep: 0, config }) + '\n',
  );
  writeFileSync(
    join(d, 'status.json'),
    JSON.stringify({ state: 'finished', pid: 1, host: hostname(), time: started }) + '\n',
  );
  const lines = [];
  let seed = r + 1;
  const noise = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5;
  for (let s = 1; s <= STEPS; s++) {
    const e = Math.floor((s - 1) / spe) + 1,
      loss = 2.3 * Math.exp(-s / (2000 + 10 * r)) + 0.25 + 0.1 * noise();
    lines.push(
      JSON.stringify({
        type: 'step',
        epoch: e,
        step: s,
        loss,
        top1Err: Math.min(1, loss / 2.5 + 0.05 * noise()),
        top5Err: loss / 12,
        lr: lr * Math.sin((Math.PI * s) / STEPS),
        seconds: +(((s - 1) % spe) * 0.02 + 0.02).toFixed(4),
        imagesPerSec: 6400 + 200 * noise(),
        dataWaitShare: 0.02 + 0.01 * noise(),
      }),
    );
    if (s % spe === 0) {
      const v = 2.3 * Math.exp(-s / (2000 + 10 * r)) + 0.28;
      lines.push(
        JSON.stringify({
          type: 'epoch',
          step: s,
          epoch: e,
          trainLoss: v - 0.03,
          trainTop1Err: v / 2.5,
          trainTop5Err: v / 12,
          valLoss: v,
          valTop1Err: v / 2.4,
          valTop5Err: v / 11,
          lr,
          imagesPerSec: 6400,
          dataWaitShare: 0.02,
          seconds: spe * 0.02,
        }),
      );
    }
  }
  writeFileSync(join(d, 'metrics.jsonl'), lines.join('\n') + '\n');
}
const genS = (performance.now() - t0) / 1000;

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--no-first-run',
  ],
});
const results = { startMs: [], firstPaintMs: [], pageMs: [], allMs: [] };
try {
  for (let round = 0; round < ROUNDS; round++) {
    const ts = performance.now();
    const srv = spawn(process.execPath, [cli, 'board', dir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const url = await new Promise((ok, fail) => {
      let out = '';
      srv.stdout.on('data', (c) => {
        out += c;
        const m = /open (http:\/\/\S+)/.exec(out);
        if (m) ok(m[1]);
      });
      srv.once('exit', (code) => fail(new Error(`convnet board exited with ${code}: ${out}`)));
    });
    results.startMs.push(performance.now() - ts);
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const tp = performance.now();
    await page.goto(url);
    await page.waitForFunction(() => window.board?.painted, null, { timeout: 60_000, polling: 'raf' });
    results.firstPaintMs.push(performance.now() - tp);
    results.pageMs.push(await page.evaluate(() => window.board.firstPaintMs));
    const rows = await page.$$eval('#runs tbody tr', (t) => t.length);
    if (rows !== RUNS) throw new Error(`the page lists ${rows} runs, not ${RUNS}`);
    if (ALL) {
      const ta = performance.now();
      await page.evaluate(() => {
        document.querySelector('#select-all').click();
      });
      await page.waitForFunction(
        (n) => Object.values(window.board.chartSeries).every((m) => new Set(m.map((x) => x.id)).size === n),
        RUNS,
        { timeout: 120_000 },
      );
      results.allMs.push(performance.now() - ta);
    }
    if (SHOT && round === ROUNDS - 1) await page.screenshot({ path: SHOT, fullPage: false });
    await page.close();
    srv.kill('SIGTERM');
    await new Promise((ok) => srv.once('exit', ok));
  }
} finally {
  await browser.close();
  if (!KEEP) rmSync(root, { recursive: true, force: true });
}
const round1 = (a) => a.map((x) => Math.round(x));
const out = {
  runs: RUNS,
  stepsPerRun: STEPS,
  generateS: +genS.toFixed(1),
  serverStartMs: round1(results.startMs),
  firstPaintMs: round1(results.firstPaintMs),
  firstPaintMedianMs: Math.round(median(results.firstPaintMs)),
  pageFirstPaintMs: round1(results.pageMs),
  ...(ALL ? { allRunsDrawnMs: round1(results.allMs) } : {}),
};
console.log(JSON.stringify(out));
