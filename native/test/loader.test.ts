// Contract C5: where @convnet/native's addon comes from (source build, prebuilt package, override), what the
// install script does in each case, and the ESM named exports.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const root = join(import.meta.dirname, '..');
const built = join(root, 'build', 'Release', 'convnet_native.node');
const loader = require('../loader.cjs') as typeof import('../loader.cjs');
const tmp = mkdtempSync(join(tmpdir(), 'convnet-loader-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** An installed layout: <dir>/node_modules/@convnet/native (the JS files only) [+ the prebuilt package]. */
function installedLayout(dir: string, withPrebuilt: boolean): string {
  const pkg = join(dir, 'node_modules', '@convnet', 'native');
  mkdirSync(pkg, { recursive: true });
  for (const f of ['index.cjs', 'loader.cjs', 'install.cjs', 'package.json']) copyFileSync(join(root, f), join(pkg, f));
  if (withPrebuilt) {
    const pre = join(dir, 'node_modules', '@convnet', `native-${loader.platformId()}`);
    mkdirSync(pre, { recursive: true });
    writeFileSync(join(pre, 'package.json'), JSON.stringify({ name: `@convnet/native-${loader.platformId()}`, version: '0.0.0' }));
    copyFileSync(built, join(pre, 'convnet_native.node'));
  }
  return pkg;
}

describe('native loader', () => {
  it('the platform id names os, cpu and libc', () => {
    expect(loader.platformId()).toMatch(/^(linux-(x64|arm64|[a-z0-9]+)-(gnu|musl)|darwin-\w+|win32-\w+-msvc|\w+-\w+)$/);
    if (process.platform === 'linux' && process.arch === 'x64') expect(loader.platformId()).toBe('linux-x64-gnu');
  });

  it('every function index.d.ts declares is exported by the addon, and nothing else', () => {
    const dts = readFileSync(join(root, 'index.d.ts'), 'utf8');
    const declared = [...dts.matchAll(/^export function (\w+)/gm)].map((m) => m[1]).sort();
    expect(Object.keys(require('../index.cjs')).sort()).toEqual(declared);
  });

  it('ESM named exports work (index.mjs)', () => {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e',
      "import { info, sgemm } from '@convnet/native'; import native from '@convnet/native';" +
      'const a = new Float32Array([1, 2, 3, 4]), c = new Float32Array(4); sgemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2);' +
      'console.log(JSON.stringify([info().isa, [...c], native.info === info]))'], { cwd: root, encoding: 'utf8' });
    const [isa, c, same] = JSON.parse(out);
    expect(['avx512', 'avx2', 'generic']).toContain(isa);
    expect(c).toEqual([7, 10, 15, 22]);
    expect(same).toBe(true);
  });

  it.runIf(existsSync(built))('an installed copy without a source build loads the prebuilt package', () => {
    const pkg = installedLayout(join(tmp, 'with-prebuilt'), true);
    const r = loader.tryLoadAddon<{ info(): { isa: string } }>({ name: '@convnet/native', root: pkg, file: 'convnet_native.node' });
    expect(r.error).toBeUndefined();
    expect(r.source).toBe(`prebuilt @convnet/native-${loader.platformId()}`);
    expect(r.path).toContain(`native-${loader.platformId()}`);
    // the install script compiles nothing: PATH has no compiler and no cmake, and it succeeds
    const out = execFileSync(process.execPath, [join(pkg, 'install.cjs')], { cwd: pkg, env: { PATH: '' }, encoding: 'utf8', stdio: 'pipe' });
    expect(out).toBe('');
    expect(existsSync(join(pkg, 'build'))).toBe(false);
  });

  it('with neither a build nor a prebuilt package the error says what to run for npm and for pnpm', () => {
    const pkg = installedLayout(join(tmp, 'bare'), false);
    // in a child process without NODE_PATH (pnpm's bin shims set it to the workspace's hoisted packages)
    const r = JSON.parse(execFileSync(process.execPath, ['-e',
      `console.log(JSON.stringify(require('./loader.cjs').tryLoadAddon({ name: '@convnet/native', root: process.cwd(), file: 'convnet_native.node' })))`],
      { cwd: pkg, env: { PATH: '' }, encoding: 'utf8' })) as { addon?: unknown; error: string };
    expect(r.addon).toBeUndefined();
    const pre = `@convnet/native-${loader.platformId()}`;
    expect(r.error).toContain(`prebuilt: ${pre} is not installed`);
    expect(r.error).toContain(`${join(pkg, 'build', 'Release', 'convnet_native.node')} does not exist`);
    expect(r.error).toContain(`npm install ${pre}`);
    expect(r.error).toContain('npm rebuild @convnet/native');
    expect(r.error).toContain('pnpm approve-builds (select @convnet/native) then pnpm rebuild @convnet/native');
    expect(() => execFileSync(process.execPath, ['index.cjs'], { cwd: pkg, env: { PATH: '' }, stdio: 'pipe' })).toThrow(/no compiled addon convnet_native\.node/);
    // the install script fails, naming the missing tools and the fix
    let msg = '';
    try {
      execFileSync(process.execPath, [join(pkg, 'install.cjs')], { cwd: pkg, env: { PATH: '' }, stdio: 'pipe' });
    } catch (e) {
      msg = String((e as { stderr: Buffer }).stderr);
    }
    expect(msg).toContain('cannot build convnet_native.node from source: cmake (>= 3.18) and a C++17 compiler (g++ or clang++) not found on PATH');
    expect(msg).toContain('pnpm approve-builds');
  });

  it('an optional addon without tools installs and records why', () => {
    const dir = join(tmp, 'node_modules', 'optional-addon');
    mkdirSync(dir, { recursive: true });
    const logs: string[] = [];
    const save = process.env.PATH;
    process.env.PATH = '';
    try {
      expect(loader.install({ name: 'optional-addon', root: dir, file: 'x.node', optional: true, log: (m) => logs.push(m) })).toBe(0);
    } finally {
      process.env.PATH = save;
    }
    expect(readFileSync(join(dir, 'build', 'NOT_BUILT.txt'), 'utf8')).toContain('optional-addon: cannot build x.node from source');
    expect(logs.join('\n')).toContain('installs without it');
  });

  it('a failing override path is reported, not silently replaced by another build', () => {
    const r = loader.tryLoadAddon({ name: '@convnet/native', root, file: 'convnet_native.node', envPath: 'CONVNET_TEST_NO_SUCH' });
    expect(r.error).toBeUndefined(); // unset: the source build
    process.env.CONVNET_TEST_BAD_ADDON = join(tmp, 'not-an-addon.node');
    writeFileSync(process.env.CONVNET_TEST_BAD_ADDON, 'garbage');
    try {
      const bad = loader.tryLoadAddon({ name: '@convnet/native', root, file: 'convnet_native.node', envPath: 'CONVNET_TEST_BAD_ADDON' });
      expect(bad.error).toContain('$CONVNET_TEST_BAD_ADDON');
      expect(bad.error).toContain('failed to load');
    } finally {
      delete process.env.CONVNET_TEST_BAD_ADDON;
    }
  });
});
