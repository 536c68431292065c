// What the board tests share: run folders written as the trainer writes them (config.json, config-history.jsonl,
// metrics.jsonl, status.json), a server-sent-events client, and JSON requests.
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';

export interface FakeRun {
  steps: number;
  /** Steps per epoch (an epoch line after each). */
  spe: number;
  state?: 'running' | 'finished' | 'stopped' | 'failed';
  pid?: number;
  started?: string;
  model?: string;
  lr?: number;
  logEvery?: number;
  /** loss at step s (default a decaying curve). */
  loss?: (s: number) => number;
}

export const stepLine = (s: number, spe: number, loss: number) =>
  JSON.stringify({
    type: 'step',
    epoch: Math.floor((s - 1) / spe) + 1,
    step: s,
    loss,
    top1Err: 0.5,
    top5Err: 0.1,
    lr: 0.01,
    seconds: +(((s - 1) % spe) * 0.01 + 0.01).toFixed(4),
    imagesPerSec: 1000,
    dataWaitShare: 0.05,
  });

export const epochLine = (e: number, spe: number) =>
  JSON.stringify({
    type: 'epoch',
    step: e * spe,
    epoch: e,
    trainLoss: 1 / e,
    trainTop1Err: 0.5 / e,
    trainTop5Err: 0.1 / e,
    valLoss: 1.1 / e,
    valTop1Err: 0.6 / e,
    valTop5Err: 0.2 / e,
    lr: 0.01,
    imagesPerSec: 1000 + e,
    dataWaitShare: 0.05,
    seconds: spe * 0.01,
  });

/** metrics.jsonl of `steps` steps (every logEvery-th logged) with an epoch line after every spe steps. */
export function metricsText(r: FakeRun): string {
  const lines: string[] = [];
  const every = r.logEvery ?? 1;
  const loss = r.loss ?? ((s: number) => 2 * Math.exp(-s / 5000) + 0.1);
  for (let s = 1; s <= r.steps; s++) {
    if (s % every === 0) lines.push(stepLine(s, r.spe, loss(s)));
    if (s % r.spe === 0) lines.push(epochLine(s / r.spe, r.spe));
  }
  return lines.join('\n') + '\n';
}

export function writeRun(dir: string, r: FakeRun): string {
  mkdirSync(dir, { recursive: true });
  const config = {
    data: 'synthetic',
    model: r.model ?? 'small',
    epochs: Math.ceil(r.steps / r.spe),
    batchSize: 32,
    lr: r.lr ?? 0.01,
    schedule: 'cosine',
    seed: 1,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  writeFileSync(
    join(dir, 'config-history.jsonl'),
    JSON.stringify({ time: r.started ?? new Date().toISOString(), event: 'start', globalStep: 0, config }) + '\n',
  );
  writeFileSync(join(dir, 'metrics.jsonl'), metricsText(r));
  if (r.state)
    writeFileSync(
      join(dir, 'status.json'),
      JSON.stringify({
        state: r.state,
        pid: r.pid ?? process.pid,
        host: hostname(),
        time: new Date().toISOString(),
        ...(r.state === 'stopped' ? { reason: 'SIGTERM' } : {}),
        ...(r.state === 'failed' ? { error: 'the loss became NaN' } : {}),
      }) + '\n',
    );
  return dir;
}

export interface HttpReply {
  status: number;
  body: string;
  type: string;
}

/** GET url (raw path kept as given: no normalisation of ../), with optional headers. */
export function get(base: string, path: string, headers: Record<string, string> = {}): Promise<HttpReply> {
  const u = new URL(base);
  return new Promise((ok, fail) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        ok({
          status: res.statusCode ?? 0,
          body: Buffer.concat(parts).toString('utf8'),
          type: String(res.headers['content-type'] ?? ''),
        }),
      );
    });
    req.on('error', fail);
    req.end();
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const getJson = async <T = any>(base: string, path: string): Promise<T> => {
  const r = await get(base, path);
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
};

/** A server-sent-events connection: the events received so far, and a wait for the next one that matches. */
export function sse(base: string) {
  const u = new URL(base);
  const events: { event: string; data: any; at: number }[] = [];
  const waiters: { test: (e: (typeof events)[number]) => boolean; ok: (e: (typeof events)[number]) => void }[] = [];
  let buf = '';
  const req = request({ host: u.hostname, port: u.port, path: '/api/events' }, (res) => {
    res.setEncoding('utf8');
    res.on('data', (c: string) => {
      buf += c;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!ev || data === undefined) continue;
        const e = { event: ev, data: JSON.parse(data), at: Date.now() };
        events.push(e);
        for (const w of [...waiters])
          if (w.test(e)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.ok(e);
          }
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return {
    events,
    next(test: (e: (typeof events)[number]) => boolean, timeoutMs = 5000): Promise<(typeof events)[number]> {
      return new Promise((ok, fail) => {
        const t = setTimeout(
          () =>
            fail(new Error(`no matching event within ${timeoutMs} ms (got ${events.map((e) => e.event).join(', ')})`)),
          timeoutMs,
        );
        waiters.push({
          test,
          ok: (e) => {
            clearTimeout(t);
            ok(e);
          },
        });
      });
    },
    close: () => req.destroy(),
  };
}
