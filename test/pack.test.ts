// Publishability: @convnet/native and @convnet/tensor packed as tarballs (workspace:* replaced by versions)
// install with plain npm outside the workspace, the addon compiles from its own sources, and it works.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'convnet-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('packed tarballs', () => {
  it('@convnet/native + @convnet/tensor install outside the workspace and run', () => {
    for (const pkg of ['native', 'packages/tensor'])
      execFileSync('pnpm', ['pack', '--pack-destination', dir], { cwd: join(root, pkg), stdio: 'pipe' });
    const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz')).sort();
    expect(tarballs).toEqual(['convnet-native-0.1.0.tgz', 'convnet-tensor-0.1.0.tgz']);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', type: 'module', private: true }));
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs.map((t) => `./${t}`)], {
      cwd: dir, stdio: 'pipe', env: { ...process.env, npm_config_foreground_scripts: 'true' },
    });
    const script = `
      import { Tensor, matmul, native } from '@convnet/tensor';
      const a = Tensor.from([1, 2, 3, 4], [2, 2]);
      console.log(JSON.stringify({ product: matmul(a, a).toArray(), isa: native().info().isa }));`;
    writeFileSync(join(dir, 'use.mjs'), script);
    const out = JSON.parse(execFileSync('node', ['use.mjs'], { cwd: dir, encoding: 'utf8' }));
    expect(out.product).toEqual([7, 10, 15, 22]);
    expect(['avx512', 'avx2', 'generic']).toContain(out.isa);
  }, 300_000);
});
