// The device check as it would first run on a GPU machine, here against the emulator: scripts/bundle.sh builds the
// bundle from the built checkout (the packages the trainer imports, whatever addons were built: no MPI here is
// fine), it is packed and unpacked into an empty folder, and device-check.sh runs its small parts on `cuda-host`
// from there (conformance, batch norm, the trainer's small-bn and small nets on the device vs cpu, the resident
// rate, and the PyTorch output comparison where a Python with torch is found). A broken bundle fails here.
// Needs the whole workspace built (`pnpm build`; the root `pnpm test` does it first).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const scripts = fileURLToPath(new URL('../scripts/', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'convnet-device-bundle-'));
let passed = true;
afterAll(() => {
  if (passed) rmSync(tmp, { recursive: true, force: true });
  else console.error(`device-bundle test: kept ${tmp} for inspection`);
});
const track = <T>(fn: () => T): T => {
  try {
    return fn();
  } catch (e) {
    passed = false;
    throw e;
  }
};

/** A Python with torch for the output comparison: PYTHON, /usr/bin/python3 (Debian's python3-torch), python3. */
function pythonWithTorch(): string | null {
  for (const p of [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter(Boolean) as string[])
    if (spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0) return p;
  return null;
}

describe('bundle-list.mjs: the packages the bundle carries', () => {
  it("follows the trainer's workspace dependencies transitively, batch norm included", () => track(() => {
    const out = execFileSync(process.execPath, [join(scripts, 'bundle-list.mjs'), root], { encoding: 'utf8' });
    const names = out.trim().split('\n').map((l) => l.split('\t')[1]);
    for (const n of ['@convnet/trainer', '@convnet/kernels-batchnorm', '@convnet/cuda', '@convnet/distributed', '@convnet/native', '@convnet/tensor'])
      expect(names).toContain(n);
  }));

  it('fails with one line for an unbuilt package (no apps/trainer/dist) and for a dependency with no stand-in', () => track(() => {
    const fake = join(tmp, 'fake');
    const pkg = (dir: string, json: object) => {
      mkdirSync(join(fake, dir), { recursive: true });
      writeFileSync(join(fake, dir, 'package.json'), JSON.stringify(json));
    };
    mkdirSync(fake, { recursive: true });
    writeFileSync(join(fake, 'pnpm-workspace.yaml'), 'packages:\n  - packages/*\n  - apps/*\n');
    pkg('apps/trainer', { name: '@convnet/trainer', main: './dist/index.js', bin: { convnet: './dist/cli.js' }, dependencies: { '@convnet/x': 'workspace:^' } });
    pkg('packages/x', { name: '@convnet/x', exports: { '.': { import: { default: './dist/index.js' } } }, dependencies: { leftpad: '1.0.0' } });
    const run = () => spawnSync(process.execPath, [join(scripts, 'bundle-list.mjs'), fake], { encoding: 'utf8' });
    let r = run();
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('bundle-list.mjs: apps/trainer/dist/index.js is missing: run pnpm build (the bundle carries every package the trainer imports)');
    mkdirSync(join(fake, 'apps/trainer/dist'));
    writeFileSync(join(fake, 'apps/trainer/dist/index.js'), '');
    writeFileSync(join(fake, 'apps/trainer/dist/cli.js'), '');
    mkdirSync(join(fake, 'packages/x/dist'));
    writeFileSync(join(fake, 'packages/x/dist/index.js'), '');
    r = run();
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^bundle-list\.mjs: @convnet\/x depends on leftpad \(1\.0\.0\), which the bundle does not carry/);
  }));
});

describe('the device check from an unpacked bundle, on cuda-host', () => {
  it('builds, unpacks and runs: every small part passes, outputs kept under $OUT, one short JSON line printed', () => track(() => {
    const bundle = join(tmp, 'bundle'), unpacked = join(tmp, 'unpacked'), out = join(tmp, 'out');
    const b = spawnSync('bash', [join(scripts, 'bundle.sh'), '--no-node', bundle], { encoding: 'utf8', timeout: 120_000 });
    expect(b.status, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/bundle: packages .*@convnet\/kernels-batchnorm/);
    mkdirSync(unpacked);
    execFileSync('tar', ['-C', bundle, '-cf', join(tmp, 'bundle.tar'), '.']);
    execFileSync('tar', ['-C', unpacked, '-xf', join(tmp, 'bundle.tar')]);
    const py = pythonWithTorch();
    const r = spawnSync('bash', [join(unpacked, 'device-check.sh'), '--device', 'cuda-host', '--small'], {
      cwd: tmp, encoding: 'utf8', timeout: 240_000,
      env: { ...process.env, OUT: out, PYTHON: py ?? 'python3', CONVNET_NUM_THREADS: '2' },
    });
    const lines = r.stdout.trim().split('\n');
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0].length).toBeLessThan(3000);  // short: the full JSON is in the results folder
    const s = JSON.parse(lines[0]);
    expect(s.failed, lines[0]).toEqual([]);
    expect(s.ok).toBe(true);
    expect(r.status).toBe(0);
    expect(s.results).toBe(join(out, 'device-check'));
    // every part's output is kept, and the full JSON
    const res = join(out, 'device-check');
    const files = readdirSync(res);
    for (const p of ['info', 'conformance', 'batchnorm', 'gradcheck', 'large', 'sgemm', 'small-bn-dev', 'small-bn-cpu', 'resident-small-bn'])
      for (const ext of ['out', 'err', 'json']) expect(files).toContain(`${p}.${ext}`);
    expect(files).toContain('small-bn-dev.metrics.jsonl');
    const full = JSON.parse(readFileSync(join(res, 'device-check.json'), 'utf8'));
    expect(full.conformance.passed).toBeGreaterThan(30);
    expect(full.batchnorm.passed).toBe(5);
    // the default net trains on the device from the bundle: same losses as cpu, 3 copies a step, a data-wait share
    expect(full.comparisons.smallBnLossesVsCpu).toMatchObject({ ok: true, steps: 6 });
    expect(full.comparisons.smallBnLossesVsCpu.maxRelErr).toBeLessThan(1e-4);
    expect(full.smallBnDev.transfersPerStep).toBe(3);
    expect(full.smallBnDev.dataWaitShare).toBeGreaterThanOrEqual(0);
    expect(full.smallBnDev.dataWaitShare).toBeLessThan(1);
    expect(full.residentSmallBn.transfersPerStep).toBe(2);  // labels up, loss and hits down (the batch stays)
    expect(full.sgemm.shapes[0].maxRelErr).toBeLessThan(1e-5);
    expect(full.sanitizer.skipped).toBe('not on the emulator');
    if (py) {
      expect(full.torchCompare.ok, JSON.stringify(full.torchCompare)).toBe(true);
      expect(full.torchCompare.float32.gradMaxRelL2).toBeLessThan(1e-3);
    } else expect(full.torchCompare.skipped).toMatch(/no torch/);
    expect(existsSync(join(tmp, 'unpacked', 'node.xz'))).toBe(false);
  }), 300_000);
});
