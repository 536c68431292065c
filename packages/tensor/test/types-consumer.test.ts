// The published types from a user's side: a project compiling against @convnet/tensor's built .d.ts with
// skipLibCheck off, with a `lib` that lacks esnext.disposable and no @types/node (it failed with TS2550 on
// Symbol.dispose), and with lib ESNext + @types/node (the declarations must merge without conflict).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const pkg = new URL('..', import.meta.url).pathname;
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const typeRoot = join(dirname(dirname(createRequire(import.meta.url).resolve('@types/node/package.json'))));
const root = mkdtempSync(join(tmpdir(), 'convnet-types-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function compile(name: string, options: Record<string, unknown>): { status: number | null; out: string } {
  const dir = join(root, name);
  mkdirSync(join(dir, 'node_modules', '@convnet'), { recursive: true });
  symlinkSync(pkg, join(dir, 'node_modules', '@convnet', 'tensor'));
  writeFileSync(join(dir, 'a.ts'), "import { Tensor } from '@convnet/tensor';\nexport const n: number = Tensor.zeros([2]).size;\n");
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, ...options },
    files: ['a.ts'],
  }));
  const r = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('the built types in a consumer project (pnpm build first)', () => {
  it('compile with lib ES2022 and no @types/node (no TS2550 on Symbol.dispose)', () => {
    const r = compile('es2022', { lib: ['ES2022'], types: [] });
    expect(r.out).not.toMatch(/TS2550/);
    expect(r.status, r.out).toBe(0);
  }, 60_000);

  it('compile with lib ESNext and @types/node (the declarations merge)', () => {
    const r = compile('esnext', { lib: ['ESNext'], types: ['node'], typeRoots: [typeRoot] });
    expect(r.status, r.out).toBe(0);
  }, 60_000);
});
