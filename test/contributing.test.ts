// CONTRIBUTING.md's "Adding a kernel", followed as a contributor outside the repository follows it: the package's
// files are taken from the document's code blocks (so the document is what is tested), written to an empty folder
// outside the workspace, installed from a registry on 127.0.0.1 serving the packed packages (release/setup.ts) and
// the third-party packages they and the template need, built (a compiler on PATH), tested with its own tests and
// packed. Then a user with no compiler on PATH installs @convnet/trainer globally and the packed kernel package in
// a project of their own (two install trees: the trainer's and the project's), and `convnet train --plugin` trains
// the package's model with the package's native kernel on cpu.
import { execFile, execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
// @ts-expect-error plain ESM helper without types
import { packThirdParty, root, startRegistry, tarballFiles, thirdPartyClosure } from './release/registry.mjs';

const { ours, theirs } = inject('release');
const version = (name: string) => ours.find((o) => o.name === name)!.version;
const work = mkdtempSync(join(realpathSync(tmpdir()), 'convnet-contributing-'));
let registry: { url: string; close(): Promise<void> };

/** The files of the "Adding a kernel" section: a line "`path`...:" followed by a fenced block. */
export function templateFiles(markdown: string): Map<string, string> {
  const start = markdown.indexOf('\n## Adding a kernel');
  const end = markdown.indexOf('\n## ', start + 1);
  if (start < 0) throw new Error('CONTRIBUTING.md has no "## Adding a kernel" section');
  const section = markdown.slice(start, end < 0 ? undefined : end);
  const files = new Map<string, string>();
  // the paragraph that names the file (no blank line inside) ends with a colon; the block follows
  const block = /^`([\w-]+(?:[./][\w-]+)+)`(?:[^\n]|\n(?!\n))*:\n\n```\w*\n([\s\S]*?)\n```$/gm;
  for (const m of section.matchAll(block)) files.set(m[1], `${m[2]}\n`);
  return files;
}
const files = templateFiles(readFileSync(join(root, 'CONTRIBUTING.md'), 'utf8'));
const pkg = JSON.parse(files.get('package.json') ?? '{}') as { name: string; devDependencies?: Record<string, string> };

// PATHs: the user's has node, npm and sh only; the contributor's adds the C++ toolchain (c++, cmake, ninja, make)
const bin = join(work, 'bin');
const toolchain = join(work, 'toolchain');
const which = (cmd: string) => {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
};
mkdirSync(bin);
mkdirSync(toolchain);
symlinkSync(process.execPath, join(bin, 'node'));
for (const cmd of ['sh', 'npm']) symlinkSync(realpathSync(which(cmd)), join(bin, cmd));
const compilers = ['cmake', 'c++', 'g++', 'gcc', 'cc', 'ninja', 'make'].filter((c) => which(c) !== '');
for (const c of compilers) symlinkSync(which(c), join(toolchain, c));
const env = (path: string, extra: Record<string, string> = {}) => ({
  PATH: path,
  HOME: join(work, 'home'),
  npm_config_registry: `${registry.url}/`,
  npm_config_cache: join(work, 'npm-cache'),
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_foreground_scripts: 'true',
  NO_COLOR: '1',
  CONVNET_NUM_THREADS: '2',
  ...extra,
});
/** Runs a command asynchronously (the registry answers from this process); resolves to { code, out }. */
const sh = (cmd: string, args: string[], cwd: string, path: string) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    const o = { cwd, env: env(path), encoding: 'utf8' as const, timeout: 240_000, maxBuffer: 1 << 26 };
    execFile(cmd, args, o, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
const ok = async (cmd: string, args: string[], cwd: string, path: string) => {
  const r = await sh(cmd, args, cwd, path);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.code}:\n${r.out.slice(-6000)}`);
  return r.out;
};
const contributorPath = `${bin}:${toolchain}:/usr/bin:/bin`;
const userPath = bin;

const src = join(work, 'kernels-silu');
let tarball = '';
let contributorLog = '';

beforeAll(async () => {
  mkdirSync(join(work, 'home'));
  // the template's devDependencies (tsup, typescript, vitest, @types/node) and what they need, from the workspace
  const devDeps = Object.entries(pkg.devDependencies ?? {});
  const thirdParty = Object.fromEntries(devDeps.filter(([n]) => !n.startsWith('@convnet/')));
  const closure = thirdPartyClosure([{ from: join(root, 'packages/kernels-batchnorm'), deps: thirdParty }]);
  const dev = packThirdParty(closure, join(work, 'theirs'));
  const seen = new Set<string>();
  const all = [...ours, ...theirs, ...dev].filter((t) => {
    const key = `${t.name}@${t.version}`;
    return !seen.has(key) && seen.add(key);
  });
  registry = await startRegistry(all);
  for (const [path, text] of files) {
    mkdirSync(dirname(join(src, path)), { recursive: true });
    writeFileSync(join(src, path), text);
  }
  contributorLog = await ok('npm', ['install'], src, contributorPath);
}, 300_000);
afterAll(async () => {
  await registry?.close();
  rmSync(work, { recursive: true, force: true });
});

describe("CONTRIBUTING.md's kernel package, built outside the workspace", () => {
  it('holds at most 6 files (5 and its test), none pointing into the workspace', () => {
    expect([...files.keys()].sort()).toEqual([
      'CMakeLists.txt',
      'package.json',
      'src/index.ts',
      'src/silu.cpp',
      'test/silu.test.ts',
      'tsconfig.json',
    ]);
    for (const [path, text] of files) expect(`${path}: ${text}`).not.toMatch(/workspace:|\.\.\/\.\.\/|tsconfig\.base/);
    expect(pkg.name).toBe('@convnet/kernels-silu');
  });

  it('npm install compiles its addon with the kit (c++ and cmake on PATH)', () => {
    expect(compilers).toEqual(expect.arrayContaining(['cmake', 'c++']));
    expect(existsSync(join(src, 'build/Release/convnet_silu.node')), contributorLog.slice(-3000)).toBe(true);
  });

  it('its own tests pass: tsc, conformance of cpu against ref at two sizes, the gradient, the plugin', async () => {
    const out = await ok('npm', ['test', '--', '--reporter=verbose'], src, contributorPath);
    const names = [
      'silu forward and backward on 140000 values',
      'silu forward and backward on 1001 values',
      'the native addon is loaded',
      'siluBackward is the derivative of silu',
      'the plugin registers small-silu',
    ];
    for (const name of names) expect(out).toContain(name);
    expect(out).toMatch(/Tests\s+7 passed \(7\)/);
  });

  it('npm pack ships dist, the compiled addon and the sources a source build needs', async () => {
    await ok('npm', ['pack', '--pack-destination', work], src, contributorPath);
    tarball = join(
      work,
      readdirSync(work).find((f) => f.startsWith('convnet-kernels-silu-') && f.endsWith('.tgz'))!,
    );
    const shipped = [
      'build/Release/convnet_silu.node',
      'dist/index.js',
      'dist/index.d.ts',
      'CMakeLists.txt',
      'src/silu.cpp',
      'package.json',
    ];
    expect(tarballFiles(tarball)).toEqual(expect.arrayContaining(shipped));
  });
});

describe('a user without a compiler: a global convnet, the package in their project, train --plugin', () => {
  const prefix = join(work, 'global');
  const project = join(work, 'user-project');
  const convnet = join(prefix, 'bin', 'convnet');
  beforeAll(async () => {
    expect(tarball).not.toBe('');
    const trainer = `@convnet/trainer@${version('@convnet/trainer')}`;
    await ok('npm', ['install', '-g', '--prefix', prefix, trainer], work, userPath);
    mkdirSync(project);
    const manifest = { name: 'user-project', version: '1.0.0', private: true };
    writeFileSync(join(project, 'package.json'), JSON.stringify(manifest));
    await ok('npm', ['install', tarball], project, userPath);
  }, 300_000);

  it('installs from the tarball with no compiler: the shipped addon is there, the peers are in the project', () => {
    expect(existsSync(join(project, 'node_modules/@convnet/kernels-silu/build/Release/convnet_silu.node'))).toBe(true);
    // two install trees: the project's @convnet/layers is not the one convnet runs with
    const trainerLayers = [
      'lib/node_modules/@convnet/trainer/node_modules/@convnet/layers',
      'lib/node_modules/@convnet/layers',
    ]
      .map((d) => join(prefix, d))
      .find((d) => existsSync(d));
    expect(trainerLayers).toBeDefined();
    expect(realpathSync(trainerLayers!)).not.toBe(realpathSync(join(project, 'node_modules/@convnet/layers')));
  });

  it('train --plugin @convnet/kernels-silu --model small-silu: the native kernel on cpu, finite losses', async () => {
    const run = join(project, 'run');
    const r = await sh(
      convnet,
      [
        'train',
        '--plugin',
        '@convnet/kernels-silu',
        '--model',
        'small-silu',
        '--data',
        'synthetic',
        '--max-steps',
        '2',
        '--batch-size',
        '16',
        '--log-every',
        '1',
        '--run',
        run,
      ],
      project,
      userPath,
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(
      'convnet train: plugin @convnet/kernels-silu: kernels silu, siluBackward (native on cpu); ' + 'models small-silu',
    );
    const steps = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .filter((m) => m.type === 'step');
    expect(steps).toHaveLength(2);
    for (const s of steps) {
      expect(Number.isFinite(s.loss)).toBe(true);
      expect(s.loss).toBeGreaterThan(1.5); // about ln(10) = 2.3: 10 classes of random images, a fresh net
      expect(s.loss).toBeLessThan(3.5);
    }
  });

  it('a plugin that is not installed: the hint names commands that work for this global convnet', async () => {
    const args = ['train', '--plugin', '@convnet/kernels-nope', '--data', 'synthetic'];
    const r = await sh(convnet, args, project, userPath);
    expect(r.code).toBe(2);
    expect(r.out.trim().split('\n')).toHaveLength(1);
    expect(r.out).toContain('install it here (npm install @convnet/kernels-nope) or next to convnet (npm install -g ');
  });

  it('installed with npm install -g next to convnet, it loads from any folder', async () => {
    await ok('npm', ['install', '-g', '--prefix', prefix, tarball], work, userPath);
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(elsewhere);
    const r = await sh(
      convnet,
      [
        'train',
        '--plugin',
        '@convnet/kernels-silu',
        '--model',
        'small-silu',
        '--data',
        'synthetic',
        '--max-steps',
        '1',
        '--batch-size',
        '8',
        '--run',
        join(elsewhere, 'run'),
      ],
      elsewhere,
      userPath,
    );
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('kernels silu, siluBackward (native on cpu)');
  });
});
