// The packages the device-check bundle carries, computed from what the trainer imports: apps/trainer's
// package.json dependencies, followed transitively through every workspace package's dependencies and
// peerDependencies (so a package the trainer starts to depend on is carried without editing bundle.sh).
// Prints one line per package, `<directory relative to the root>\t<name>`, and exits 1 with one line naming the
// package when a runtime dependency outside the workspace has no stand-in in the bundle (the GPU machine has no
// npm) or a workspace package is not built (no dist/ where package.json says "main" lives under dist).
//
//   node bundle-list.mjs <repository root>
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
if (!root || !existsSync(join(root, 'pnpm-workspace.yaml'))) {
  console.error(`bundle-list.mjs: expected the repository root (with pnpm-workspace.yaml), got '${root ?? ''}'`);
  process.exit(2);
}

// Outside the workspace: the bundle's stand-ins (scripts/sharp-stub; scripts/vitest-shim, the expect() of the
// conformance cases of @convnet/tensor/testing), and build-time tools that the built
// packages never import at run time (install scripts: cmake-js compiles, node-addon-api is its headers).
const STAND_INS = new Set(['sharp', 'vitest']);
const BUILD_ONLY = new Set(['cmake-js', 'node-addon-api']);

// workspace packages by name (the globs of pnpm-workspace.yaml: `dir/*` or `dir`)
const globs = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8').split('\n')
  .map((l) => /^\s+-\s+(\S+)\s*$/.exec(l)?.[1]).filter(Boolean);
const byName = new Map();
for (const g of globs) {
  const dirs = g.endsWith('/*')
    ? (existsSync(join(root, g.slice(0, -2)))
      ? readdirSync(join(root, g.slice(0, -2)), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => `${g.slice(0, -2)}/${d.name}`)
      : [])
    : [g];
  for (const d of dirs) {
    const f = join(root, d, 'package.json');
    if (existsSync(f)) byName.set(JSON.parse(readFileSync(f, 'utf8')).name, d);
  }
}

const fail = (msg) => {
  console.error(`bundle-list.mjs: ${msg}`);
  process.exit(1);
};
const out = new Map();
const queue = [['@convnet/trainer', 'the root']];
while (queue.length) {
  const [name, from] = queue.shift();
  if (out.has(name)) continue;
  const dir = byName.get(name);
  if (!dir) fail(`${from} depends on ${name}, which is not a workspace package`);
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  // the entry points and bins it publishes from dist/ must be built
  const dot = pkg.exports?.['.'];
  const entries = [dot?.import?.default ?? dot?.default ?? pkg.module ?? pkg.main, ...Object.values(pkg.bin ?? {})];
  for (const e of entries)
    if (typeof e === 'string' && e.replace(/^\.\//, '').startsWith('dist/') && !existsSync(join(root, dir, e)))
      fail(`${dir}/${e.replace(/^\.\//, '')} is missing: run pnpm build (the bundle carries every package the trainer imports)`);
  out.set(name, dir);
  const deps = { ...pkg.dependencies, ...pkg.peerDependencies };
  for (const [dep, spec] of Object.entries(deps)) {
    if (String(spec).startsWith('workspace:')) queue.push([dep, name]);
    else if (!STAND_INS.has(dep) && !BUILD_ONLY.has(dep))
      fail(`${name} depends on ${dep} (${spec}), which the bundle does not carry: add a stand-in under scripts/ ` +
        `and to STAND_INS, or to BUILD_ONLY if nothing imports it at run time`);
  }
}
for (const [name, dir] of out) console.log(`${dir}\t${name}`);
