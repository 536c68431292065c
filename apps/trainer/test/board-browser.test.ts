/// <reference lib="dom" />
// `convnet board` in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core, which
// downloads nothing) opens the board on two runs the trainer writes, one finished and one still training (paused
// with SIGSTOP while the page loads, then continued). It checks that both runs are listed, that the curves have as
// many points as metrics.jsonl has lines, that the next epoch appears without a reload (and how soon after its line
// was written), and keeps a screenshot in test/artifacts/board.png.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startBoard, type Board } from '../src/board/server.js';
import { cli, cliEnv, metrics, runCli, sleep, tempRoot } from './helpers.js';

declare global {
  interface Window {
    board: any; // eslint-disable-line @typescript-eslint/no-explicit-any
    loadMark?: string;
  }
}

const CHROMIUM = process.env.CONVNET_CHROMIUM ?? '/usr/bin/chromium';
const have = existsSync(CHROMIUM);
const ARTIFACTS = new URL('./artifacts/', import.meta.url).pathname;
const TINY = ['--data', 'synthetic', '--model', 'small', '--limit-test', '64', '--batch-size', '32', '--quiet'];

// made by the test itself (a skipped file runs no hooks, so a folder made at load would be left behind)
let root: string | undefined;
let board: Board | undefined;
let live: ChildProcess | undefined;
let browser: import('playwright-core').Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await board?.close();
  if (live && live.exitCode === null) {
    live.kill('SIGCONT');
    live.kill('SIGKILL');
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

const epochsIn = (dir: string) => metrics(dir).filter((m) => m.type === 'epoch').length;
const stepsIn = (dir: string) => metrics(dir).filter((m) => m.type === 'step').length;
async function until(what: string, f: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.skipIf(!have)(
  `convnet board in headless Chromium${have ? '' : ` (skipped: no Chromium at ${CHROMIUM}; apt-get install chromium)`}`,
  () => {
    it('lists a finished and a training run, draws their points, a new epoch live, keeps a screenshot', async () => {
      root = tempRoot('board-browser');
      const runs = join(root, 'runs ü');
      const done = join(runs, 'finished α');
      const a = runCli(['train', ...TINY, '--limit-train', '256', '--epochs', '2', '--log-every', '2', '--run', done]);
      expect(a.status, a.stderr).toBe(0);
      // the live run: paused after its first epoch line until the page has loaded
      const training = join(runs, 'training β');
      live = spawn(
        process.execPath,
        [cli, 'train', ...TINY, '--limit-train', '1024', '--epochs', '4', '--log-every', '4', '--run', training],
        { env: cliEnv(), stdio: 'ignore' },
      );
      await until('the first epoch line', () => epochsIn(training) >= 1, 60_000);
      live.kill('SIGSTOP');
      await sleep(100);
      const e0 = epochsIn(training),
        s0 = stepsIn(training);
      expect(e0).toBeLessThan(4);

      board = await startBoard({ dirs: [runs], port: 0 });
      const { chromium } = await import('playwright-core');
      browser = await chromium.launch({
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
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const t0 = Date.now();
      await page.goto(board.url);
      await page.waitForFunction(() => window.board?.painted && window.board.selected.size === 2, null, {
        timeout: 20_000,
      });
      const paintMs = Date.now() - t0;
      console.log(
        `board first paint: ${paintMs} ms ` +
          `(page: ${await page.evaluate(() => Math.round(window.board.firstPaintMs))} ms)`,
      );
      await page.evaluate(() => (window.loadMark = 'same page'));

      const rows = await page.$$eval('#runs tbody tr', (trs) =>
        trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent!.trim())),
      );
      const row = (name: string) => rows.find((r) => r[1] === name)!;
      expect(rows.map((r) => r[1]).sort()).toEqual(['finished α', 'training β']);
      expect(row('finished α')[5]).toBe('finished');
      expect(row('training β')[5]).toBe('running');
      const ids = await page.$$eval('#runs tbody tr', (trs) =>
        Object.fromEntries(trs.map((tr) => [tr.children[1].textContent, (tr as HTMLElement).dataset.id])),
      );
      const points = (chart: string, name: string, kind: string) =>
        page.evaluate(([c, id, k]) => window.board.points(c, id, k), [chart, ids[name]!, kind]);
      // the finished run: 16 steps logged every 2nd, 2 epochs
      expect(await points('loss', 'finished α', 'step')).toBe(8);
      expect(await points('loss', 'finished α', 'val')).toBe(2);
      expect(await points('top1', 'finished α', 'train')).toBe(2);
      expect(await points('lr', 'finished α', 'step')).toBe(8);
      expect(await points('ips', 'finished α', 'epoch')).toBe(2);
      expect(await points('loss', 'training β', 'step')).toBe(s0);
      expect(await points('top5', 'training β', 'val')).toBe(e0);

      // continue training: the next epoch line must reach the page without a reload
      live.kill('SIGCONT');
      await until('the next epoch line', () => epochsIn(training) > e0, 60_000);
      const written = Date.now();
      await page.waitForFunction(
        ([id, n]) => window.board.points('loss', id, 'val') > n,
        [ids['training β']!, e0] as const,
        { timeout: 10_000, polling: 20 },
      );
      const liveMs = Date.now() - written;
      console.log(`live update: the epoch line on the page ${liveMs} ms after it was written`);
      expect(liveMs).toBeLessThan(2000);
      expect(await page.evaluate(() => window.loadMark)).toBe('same page');

      // the run ends: its status turns to finished on the page, its curves hold every line
      await new Promise<void>((ok) => (live!.exitCode !== null ? ok() : live!.once('exit', () => ok())));
      expect(live.exitCode).toBe(0);
      await page.waitForFunction((id) => window.board.runs.get(id)?.state === 'finished', ids['training β']!, {
        timeout: 10_000,
      });
      await page.waitForFunction(
        ([id, n]) => window.board.points('loss', id, 'step') === n,
        [ids['training β']!, stepsIn(training)] as const,
        { timeout: 10_000 },
      );
      expect(await points('loss', 'training β', 'val')).toBe(4);
      await page.waitForFunction(
        () =>
          document.querySelectorAll('#filters img').length === 2 &&
          Array.from(document.querySelectorAll<HTMLImageElement>('#filters img')).every(
            (i) => i.complete && i.naturalWidth > 0,
          ),
        null,
        { timeout: 10_000 },
      );
      const cfgRows = await page.$$eval('#config tr', (trs) => trs.map((tr) => tr.firstElementChild!.textContent));
      expect(cfgRows).toEqual(expect.arrayContaining(['limitTrain', 'epochs', 'logEvery'])); // the settings that differ
      expect(cfgRows).not.toContain('lr');
      expect(errors).toEqual([]);
      mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: join(ARTIFACTS, 'board.png'), fullPage: true });
      expect(readFileSync(join(ARTIFACTS, 'board.png')).subarray(1, 4).toString()).toBe('PNG');
    }, 180_000);
  },
);
