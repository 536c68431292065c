// The tarballs as published (packed once by release/setup.ts with `pnpm pack`, which runs each prepack build):
// versions read from the packages, each tarball's file list against what may ship, the packed package.json
// (no workspace: ranges, peer and optional ranges), LICENSE everywhere, and publint + arethetypeswrong on each.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
// @ts-expect-error plain ESM helper without types
import { manifestOf, root, tarballFiles } from './release/registry.mjs';

const require = createRequire(import.meta.url);
/** `>=a <b` ranges (what the peer ranges are) and ^x.y.z, enough for this test. */
function semverSatisfies(v: string, range: string): boolean {
  const n = (s: string) => s.split('.').map(Number).reduce((a, x, i) => a + x * 1e6 ** (2 - i), 0);
  return range.split(/\s+/).every((c) => {
    const m = /^(>=|<=|>|<|\^)?(\d+(?:\.\d+){0,2})$/.exec(c);
    if (!m) return false;
    const [a, b] = [n(v), n(m[2].split('.').concat(['0', '0']).slice(0, 3).join('.'))];
    return m[1] === '>=' ? a >= b : m[1] === '<' ? a < b : m[1] === '>' ? a > b : m[1] === '<=' ? a <= b : a === b;
  });
}
const { ours } = inject('release');
const license = readFileSync(join(root, 'LICENSE'), 'utf8');
const version = (dir: string) => JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).version as string;

const COMMON = /^(package\.json|README\.md|LICENSE|CHANGELOG\.md)$/;
const DIST = /^dist\/([\w-]+\/)*[\w.-]+\.(js|cjs|d\.ts|d\.cts|js\.map|cjs\.map|json)$/;
const CPP = /\.(cpp|h|hpp|cu|cuh)$/;
/** What each package may ship besides COMMON (anything else, e.g. tests, benchmarks, lab/, TS sources, fails). */
const ALLOWED: Record<string, (f: string) => boolean> = {
  '@convnet/native': (f) =>
    /^(index\.(cjs|mjs|d\.ts|d\.mts)|(loader|include)\.(cjs|d\.ts)|install\.cjs|CMakeLists\.txt|cmake\/\w+\.cmake)$/.test(f) ||
    (/^(src\/(cpu|bind)|include\/convnet)\//.test(f) && CPP.test(f)),
  '@convnet/native-linux-x64-gnu': (f) => f === 'convnet_native.node',
  '@convnet/trainer': (f) => DIST.test(f) || f === 'config.schema.json' || /^dist\/board-page\.(html|css|js)$/.test(f),
};

describe.each(ours.map((o) => [o.name, o] as const))('%s tarball', (name, t) => {
  const files = tarballFiles(t.file) as string[];
  const manifest = manifestOf(t.file);

  it('is named and versioned as its package.json says', () => {
    expect(manifest.name).toBe(name);
    expect(manifest.version).toBe(version(t.dir));
    expect(t.file.endsWith(`${name.slice(1).replace('/', '-')}-${manifest.version}.tgz`)).toBe(true);
  });

  it('holds runtime files only, with LICENSE, README and (for built packages) dist with source maps', () => {
    // addon packages (cuda, distributed, kernels-*) also ship what a source build needs
    const addon = (f: string) => manifest.binary !== undefined && (f === 'CMakeLists.txt' || (/^src\//.test(f) && CPP.test(f)));
    const allowed = ALLOWED[name] ?? ((f: string) => DIST.test(f) || addon(f));
    expect(files.filter((f) => !COMMON.test(f) && !allowed(f))).toEqual([]);
    for (const f of ['package.json', 'README.md', 'LICENSE']) expect(files).toContain(f);
    expect(execFileSync('tar', ['-xzOf', t.file, 'package/LICENSE'], { encoding: 'utf8' })).toBe(license);
    expect(manifest.files).toContain('CHANGELOG.md');
    // (the board page's script is a hand-written browser asset copied as it is: no build, no map)
    for (const js of files.filter((f) => /^dist\/.*\.c?js$/.test(f) && !/^dist\/board-page\./.test(f)))
      expect(files).toContain(`${js}.map`);
    // every file the exports map / bin / main names is in the tarball
    const targets: string[] = [];
    const walk = (v: unknown) => {
      if (typeof v === 'string') targets.push(v.replace(/^\.\//, ''));
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(manifest.exports);
    walk(manifest.bin);
    walk(manifest.main);
    walk(manifest.types);
    for (const f of targets) expect(files, `${name}: ${f}`).toContain(f);
  });

  it('package.json: published metadata, no workspace: ranges, @convnet/tensor as a peer', () => {
    expect(JSON.stringify(manifest)).not.toContain('workspace:');
    expect(manifest.license).toBe('MIT');
    expect(manifest.repository).toMatchObject({ type: 'git', directory: t.dir });
    expect(manifest.homepage).toMatch(/^https:\/\//);
    expect(manifest.bugs.url).toMatch(/^https:\/\/.*\/issues$/);
    expect(manifest.keywords).toContain('convnet');
    for (const [dep, range] of Object.entries(manifest.dependencies ?? {}))
      if (dep.startsWith('@convnet/')) expect(range, dep).toBe(`^${version(ours.find((o) => o.name === dep)!.dir)}`);
    // every package but the addon, the tensor package itself and the application takes @convnet/tensor as a peer
    const exchangesTensors = !['@convnet/native', '@convnet/tensor', '@convnet/trainer'].includes(name) && !name.startsWith('@convnet/native-');
    if (exchangesTensors) {
      // a 0.x range wider than ^ (see CONTRIBUTING.md, Releases): a tensor minor must not make dependents major
      const source = JSON.parse(readFileSync(join(root, t.dir, 'package.json'), 'utf8')).peerDependencies['@convnet/tensor'];
      expect(manifest.peerDependencies?.['@convnet/tensor']).toBe(source.replace(/^workspace:/, ''));
      expect(semverSatisfies(version('packages/tensor'), manifest.peerDependencies['@convnet/tensor'])).toBe(true);
      expect(manifest.dependencies?.['@convnet/tensor']).toBeUndefined();
    }
    if (name === '@convnet/native') // the prebuilt package is exactly this version (esbuild's rule)
      expect(manifest.optionalDependencies).toEqual({ '@convnet/native-linux-x64-gnu': version('native') });
  });

  it('publint finds nothing (strict, suggestions included)', async () => {
    const { publint } = await import('publint');
    const { formatMessage } = await import('publint/utils');
    const buf = readFileSync(t.file);
    const { messages, pkg } = await publint({ pack: { tarball: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer }, level: 'suggestion', strict: true });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, pkg)}`)).toEqual([]);
  });

  // a binary-only package has no JavaScript or types for arethetypeswrong to check
  const binary = name.startsWith('@convnet/native-');
  const attwName = `arethetypeswrong finds no problem (node10, node16 CJS/ESM, bundler)${
    binary ? ' (skipped: a binary-only package has no JavaScript or types to check)' : ''}`;
  it.skipIf(binary)(attwName, () => {
    const attw = join(require.resolve('@arethetypeswrong/cli/package.json'), '..', 'dist', 'index.js');
    // ESM-only entry points (the trainer application; @convnet/tensor/testing, which runs under vitest) are checked
    // with the ESM-only profile, everything else with the strict one
    const runs: string[][] =
      name === '@convnet/trainer' ? [['--profile', 'esm-only']]
        : name === '@convnet/tensor' ? [['--exclude-entrypoints', './testing'], ['--entrypoints', './testing', '--profile', 'esm-only']]
          : [[]];
    for (const args of runs) {
      const r = spawnSync(process.execPath, [attw, t.file, '--format', 'table-flipped', ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      expect(r.status, `attw ${args.join(' ')}:\n${r.stdout}${r.stderr}`).toBe(0); // attw exits 1 on any problem its profile counts
    }
  });
});

it('every package carries the root metadata and LICENSE (node test/release/metadata.mjs --check)', () => {
  expect(() => execFileSync(process.execPath, [join(root, 'test/release/metadata.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
});
