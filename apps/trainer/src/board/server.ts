/**
 * `convnet board`'s HTTP server. It serves the page (board-page.html/js/css and uPlot from the package, never a CDN),
 * the runs found under the folders it was given, their curves (downsampled here), configurations and conv1 grids,
 * and pushes changes as server-sent events (/api/events): fs.watch on each folder, plus a poll of file sizes
 * (every second for running runs, every 5 s for the rest and for new run folders) where watching misses events.
 *
 * Only what it found is served: runs are addressed by an id (a hash of their path), files by a fixed name or a
 * pattern checked against the run's own listing, so no request names a path. On a loopback address it also
 * refuses requests whose Host header is not a loopback name (a DNS-rebinding page cannot read the runs).
 */
import { createReadStream, existsSync, readFileSync, realpathSync, statSync, watch, type FSWatcher } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FILTER_FILE, Run, findRunDirs, isRunDir, type RunSummary } from './runs.js';
import { runSeries } from './series.js';

export interface BoardOptions {
  dirs: string[];
  host?: string;
  port?: number;
  /** Poll period for running runs, ms (default 1000; others and new folders: 5×). */
  pollMs?: number;
}

export interface Board {
  url: string;
  server: Server;
  runs(): RunSummary[];
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);

export const DEFAULT_PORT = 6060;
/** Bytes of metrics.jsonl read between two turns of the event loop. */
const SLICE = 1 << 20;

/** The page's files: the board's own (copied next to the bundle by the build, or in src/board/assets). */
function assetDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const d of [here, join(here, 'assets'), join(here, '..', 'src', 'board', 'assets')])
    if (existsSync(join(d, 'board-page.html'))) return d;
  throw new Error(`the board's page files are missing (looked in ${here})`);
}

function assets(): Map<string, { path: string; type: string }> {
  const dir = assetDir();
  const uplot = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
  return new Map([
    ['/', { path: join(dir, 'board-page.html'), type: 'text/html; charset=utf-8' }],
    ['/assets/board-page.js', { path: join(dir, 'board-page.js'), type: 'text/javascript; charset=utf-8' }],
    ['/assets/board-page.css', { path: join(dir, 'board-page.css'), type: 'text/css; charset=utf-8' }],
    ['/assets/uPlot.iife.min.js', { path: join(uplot, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' }],
    ['/assets/uPlot.min.css', { path: join(uplot, 'uPlot.min.css'), type: 'text/css; charset=utf-8' }],
  ]);
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);
export const isLoopback = (h: string) => LOOPBACK_HOSTS.has(h) || /^127\.\d+\.\d+\.\d+$/.test(h);

class Registry {
  readonly runs = new Map<string, Run>();
  private watchers = new Map<string, FSWatcher>();
  constructor(
    readonly roots: string[],
    private readonly onChange: (kind: 'runs' | 'run' | 'gone', run?: Run) => void,
  ) {}

  /** Finds new run folders and drops the vanished ones; returns whether the set changed. */
  scan(): boolean {
    const seen = new Set<string>();
    let changed = false;
    for (const root of this.roots) {
      for (const dir of findRunDirs(root)) {
        const r = new Run(dir, root);
        seen.add(r.id);
        if (this.runs.has(r.id)) continue;
        r.update();
        this.runs.set(r.id, r);
        this.watch(r.id, dir, () => this.touch(r.id));
        changed = true;
      }
    }
    for (const [id, r] of this.runs) {
      if (seen.has(id)) continue;
      this.drop(id);
      this.onChange('gone', r);
      changed = true;
    }
    return changed;
  }

  private drop(id: string): void {
    this.runs.delete(id);
    this.lastRead.delete(id);
    this.watchers.get(id)?.close();
    this.watchers.delete(id);
  }

  watch(key: string, dir: string, fn: () => void): void {
    try {
      const w = watch(dir, { persistent: false }, fn);
      w.on('error', () => {
        w.close();
        this.watchers.delete(key);
      });
      this.watchers.set(key, w);
    } catch {
      // no watch (e.g. inotify limits, a network file system): the poll still sees the changes
    }
  }

  private pending = new Map<string, NodeJS.Timeout>();
  private lastRead = new Map<string, number>();
  /**
   * A change seen by fs.watch: re-read the run 50 ms later (changes meanwhile read together), and at most twice a
   * second per run (a run logging every step appends hundreds of lines a second).
   */
  touch(id: string): void {
    if (this.pending.has(id)) return;
    const wait = Math.max(50, (this.lastRead.get(id) ?? 0) + 500 - Date.now());
    this.pending.set(
      id,
      setTimeout(() => {
        this.pending.delete(id);
        this.lastRead.set(id, Date.now());
        this.refresh(id);
      }, wait),
    );
  }

  refresh(id: string): void {
    const r = this.runs.get(id);
    if (!r) return;
    if (!existsSync(r.dir) || !isRunDir(r.dir)) {
      this.drop(id);
      this.onChange('gone', r);
      return;
    }
    // a big backlog (a run just selected, a file rewritten) is read in slices, so requests are answered meanwhile
    if (r.update(SLICE)) this.onChange('run', r);
    if (r.metrics.more) setImmediate(() => this.refresh(id));
  }

  close(): void {
    for (const t of this.pending.values()) clearTimeout(t);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}

function send(res: ServerResponse, code: number, body: unknown, type = 'application/json; charset=utf-8'): void {
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(data);
}

export async function startBoard(o: BoardOptions): Promise<Board> {
  const host = o.host ?? '127.0.0.1';
  const pollMs = o.pollMs ?? 1000;
  const roots = o.dirs.map((d) => resolve(d));
  const files = assets();
  const clients = new Set<ServerResponse>();
  const event = (name: string, data: unknown) => {
    const msg = `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of clients) c.write(msg);
  };
  const reg = new Registry(roots, (kind, run) => {
    if (kind === 'gone') event('gone', { id: run!.id });
    else if (kind === 'run') event('run', run!.summary());
  });
  reg.scan();
  // the curves the page shows first (running runs and the newest, five at most) are read in the background now;
  // the others when asked for
  const first = [...reg.runs.values()]
    .map((r) => ({ r, s: r.summary() }))
    .sort(
      (x, y) =>
        Number(y.s.state === 'running') - Number(x.s.state === 'running') ||
        (y.s.started ?? '').localeCompare(x.s.started ?? ''),
    )
    .slice(0, 5)
    .map((x) => x.r);
  const preload = () => {
    const r = first[0];
    if (!r) return;
    if (reg.runs.has(r.id)) {
      r.metrics.keepSteps();
      r.metrics.update(undefined, SLICE);
    }
    if (!reg.runs.has(r.id) || !r.metrics.more) first.shift();
    setImmediate(preload);
  };
  setImmediate(preload);
  for (const root of roots) if (existsSync(root)) reg.watch(`root:${root}`, root, () => scanSoon());
  let scanTimer: NodeJS.Timeout | null = null;
  const rescan = () => {
    if (reg.scan()) event('runs', { count: reg.runs.size });
  };
  const scanSoon = () => {
    if (!scanTimer)
      scanTimer = setTimeout(() => {
        scanTimer = null;
        rescan();
      }, 200);
  };
  // the bounded poll: sizes and mtimes of running runs every pollMs, of all runs and the folders every 5·pollMs
  let tick = 0;
  const poll = setInterval(() => {
    tick++;
    if (tick % 5 === 0) rescan();
    for (const [id, r] of reg.runs) if (tick % 5 === 0 || r.state().state === 'running') reg.refresh(id);
  }, pollMs);
  poll.unref();
  const heartbeat = setInterval(() => {
    for (const c of clients) c.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();

  const runOf = (q: URLSearchParams, res: ServerResponse): Run | null => {
    const r = reg.runs.get(q.get('run') ?? '');
    if (!r) send(res, 404, { error: `no run with id '${q.get('run') ?? ''}' (it may have been deleted)` });
    return r ?? null;
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET' });
    if (isLoopback(host)) {
      const h = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
      if (!isLoopback(h)) return send(res, 403, { error: `host '${req.headers.host}' is not this loopback server` });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://board.invalid');
    } catch {
      return send(res, 400, { error: 'bad request path' });
    }
    const a = files.get(url.pathname);
    if (a) {
      res.writeHead(200, { 'content-type': a.type, 'cache-control': 'no-cache' });
      return void createReadStream(a.path).pipe(res);
    }
    const q = url.searchParams;
    switch (url.pathname) {
      case '/favicon.ico':
        res.writeHead(204).end();
        return;
      case '/api/runs': {
        const runs = [...reg.runs.values()]
          .map((r) => r.summary())
          .sort((x, y) => (y.started ?? '').localeCompare(x.started ?? '') || x.name.localeCompare(y.name));
        return send(res, 200, { roots, runs });
      }
      case '/api/series': {
        const r = runOf(q, res);
        if (!r) return;
        const buckets = Math.max(10, Math.min(5000, Number(q.get('buckets')) || 1000));
        return void (async () => {
          // step lines read once, slice by slice (a 900k-line file takes seconds): other requests go on meanwhile
          if (!r.metrics.keepsSteps) r.metrics.keepSteps();
          for (r.metrics.update(undefined, SLICE); r.metrics.more; r.metrics.update(undefined, SLICE))
            await new Promise((ok) => setImmediate(ok));
          send(res, 200, { id: r.id, ...runSeries(r.metrics.steps, r.metrics.epochs, buckets) });
        })().catch((e: Error) => send(res, 500, { error: e.message }));
      }
      case '/api/config': {
        const r = runOf(q, res);
        if (!r) return;
        return send(res, 200, { id: r.id, config: r.config, status: r.status, dir: r.dir, filters: r.filters });
      }
      case '/api/filter': {
        const r = runOf(q, res);
        if (!r) return;
        const f = q.get('file') ?? '';
        if (!FILTER_FILE.test(f) || !r.filters.includes(f))
          return send(res, 404, { error: `no filter image '${f}' in this run` });
        let path: string;
        try {
          path = realpathSync(join(r.dir, 'filters', f));
          if (!path.startsWith(realpathSync(r.dir) + sep) || !statSync(path).isFile()) throw new Error('outside');
        } catch {
          return send(res, 404, { error: `no filter image '${f}' in this run` });
        }
        return send(res, 200, readFileSync(path), 'image/png');
      }
      case '/api/events': {
        res.writeHead(200, {
          'content-type': 'text/event-stream',
          'cache-control': 'no-store',
          connection: 'keep-alive',
        });
        res.write('retry: 1000\n\n');
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      }
      default:
        return send(res, 404, { error: 'not found' });
    }
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      if (!res.headersSent) send(res, 500, { error: (e as Error).message });
      else res.end();
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? DEFAULT_PORT, host, () => {
      server.off('error', fail);
      ok();
    });
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown === '0.0.0.0' || shown === '[::]' ? 'localhost' : shown}:${addr.port}/`,
    server,
    runs: () => [...reg.runs.values()].map((r) => r.summary()),
    async close() {
      clearInterval(poll);
      clearInterval(heartbeat);
      if (scanTimer) clearTimeout(scanTimer);
      reg.close();
      for (const c of clients) c.end();
      clients.clear();
      const closed = new Promise<void>((ok) => server.close(() => ok()));
      server.closeAllConnections();
      await closed;
    },
  };
}
