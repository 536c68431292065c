// Places and plugins given by the user: special paths that never let a directory be made (/proc), files where
// directories belong, unwritable --to, plugins given as paths, plugins that fail. Each is one line naming the flag
// or file, exit 2, within seconds; a plugin directory given as ./dir loads.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noiseIdx, runCli, tempRoot } from './helpers.js';

const root = tempRoot('userpaths');
const runDir = join(root, 'run');
const run = (a: string[], cwd?: string) => runCli(a, { timeout: 30_000, ...(cwd ? { env: { PWD: cwd } } : {}) });

function oneLine(args: string[], re: RegExp, maxMs = 15_000): void {
  const t0 = performance.now();
  const r = run(args);
  expect(r.status, `${args.join(' ')}\n${r.stderr}`).toBe(2);
  expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  expect(performance.now() - t0).toBeLessThan(maxMs);
}

beforeAll(() => {
  const data = noiseIdx(join(root, 'data'), 64, 16, 3);
  const t = run(['train', '--data', data, '--batch-size', '16', '--max-steps', '1', '--run', runDir]);
  expect(t.status, t.stderr).toBe(0);
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** An image tree with empty class folders (enough to reach the OUT checks). */
function tree(): string {
  const t = join(root, 'tree');
  mkdirSync(join(t, 'train', 'a'), { recursive: true });
  mkdirSync(join(t, 'val', 'a'), { recursive: true });
  return t;
}

describe('special and wrong places', () => {
  it.skipIf(!existsSync('/proc/self'))('train --run /proc/x and pack TREE /proc/x are refused (they spun forever)', () => {
    oneLine(['train', '--data', join(root, 'data'), '--batch-size', '16', '--max-steps', '1', '--run', '/proc/convnet-x'], /--run \/proc\/convnet-x: cannot create \/proc\/convnet-x/);
    oneLine(['pack', tree(), '/proc/convnet-x/out'], /OUT \/proc\/convnet-x\/out: cannot create \/proc\/convnet-x/);
  });

  it('pack with a file as SRC or OUT names it', () => {
    const f = join(root, 'a-file');
    writeFileSync(f, 'x');
    oneLine(['pack', f, join(root, 'out')], /a-file: is a file; SRC is a directory/);
    oneLine(['pack', tree(), f], /OUT .*a-file: .*a-file is a file; give a directory/);
  });

  it('export to a place that cannot be written names --to, not a temp file', () => {
    oneLine(['export', '--run', runDir, '--checkpoint', 'last', '--to', join(root, 'no-such-dir', 'm.safetensors')], /--to .*no-such-dir\/m\.safetensors: .*no-such-dir is not a directory/);
    mkdirSync(join(root, 'adir.pth'));
    oneLine(['export', '--run', runDir, '--checkpoint', 'last', '--to', join(root, 'adir.pth')], /--to .*adir\.pth: exists and is not a regular file/);
    const ok = run(['export', '--run', runDir, '--checkpoint', 'last', '--to', join(root, 'm.pth')]);
    expect(ok.status, ok.stderr).toBe(0);
  });
});

describe('plugins', () => {
  /** A plugin package directory: package.json + index.mjs whose register runs `body`. */
  function pluginDir(name: string, body: string, pkg?: string): string {
    const d = join(root, 'plugins', name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'package.json'), pkg ?? JSON.stringify({ name, type: 'module', exports: { '.': { import: './index.mjs' } } }));
    writeFileSync(join(d, 'index.mjs'), `export const convnetPlugin = { name: '${name}', register(api) { ${body} } };\n`);
    return d;
  }

  it('--plugin ./dir is loaded from the path (it was looked up as a package name)', () => {
    const d = pluginDir('tiny-plugin', "globalThis.__tiny = 1; return { models: [] };");
    const r = run(['summary', '--plugin', d, '--model', 'small']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.length).toBeGreaterThan(0);
    oneLine(['summary', '--plugin', join(root, 'plugins', 'nothing-here')], /--plugin .*nothing-here: no such file or directory/);
  });

  it('a plugin whose register throws, or with a broken package.json, is named', () => {
    const thrower = pluginDir('thrower', "throw new Error('no GPU for me');");
    oneLine(['summary', '--plugin', thrower], /--plugin .*thrower: its register\(\) failed: no GPU for me/);
    const broken = pluginDir('broken', 'return {};', '{ "name": "broken", ');
    oneLine(['summary', '--plugin', broken], /--plugin .*broken: .*broken\/package\.json: not a valid package\.json/);
  });
});
