#!/usr/bin/env node
// Writes the published metadata of every package from one place: the root package.json's repository, the
// license (and the root LICENSE file, copied next to each package.json so every tarball has it), homepage, bugs,
// keywords, `files` (CHANGELOG.md added) and `publishConfig`. `node test/release/metadata.mjs --check` fails
// when a package differs (test/pack.test.ts runs it).
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const repo = rootPkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');

/** Keywords of the published packages besides the common ones (a package not listed gets its name's words). */
const KEYWORDS = {
  native: ['node-api', 'addon', 'simd', 'avx2', 'avx-512', 'gemm', 'convolution'],
  'packages/tensor': ['tensor', 'kernels', 'registry', 'philox', 'rng'],
  'packages/layers': ['layers', 'neural-network', 'conv2d', 'safetensors', 'state-dict'],
  'packages/optim': ['optimizer', 'sgd', 'adam', 'adamw', 'lr-scheduler'],
  'packages/augment': ['augmentation', 'image', 'pca-lighting', 'crop', 'flip'],
  'packages/imagenet': ['imagenet', 'ilsvrc', 'dataset', 'data-loader', 'mnist', 'cifar'],
  'packages/alexnet': ['alexnet', 'model', 'torchvision'],
  'packages/cuda': ['cuda', 'gpu', 'backend'],
  'packages/distributed': ['distributed', 'mpi', 'allreduce', 'data-parallel'],
  'apps/trainer': ['cli', 'training', 'imagenet', 'alexnet'],
};

/** Every published (not private) workspace package: directory → keywords. */
export const PACKAGES = Object.fromEntries(
  ['native', ...['native/npm', 'packages', 'apps'].flatMap((g) =>
    existsSync(join(root, g)) ? readdirSync(join(root, g)).sort().map((d) => `${g}/${d}`) : [])]
    .filter((dir) => existsSync(join(root, dir, 'package.json')) && !JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).private)
    .map((dir) => {
      const name = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')).name.replace(/^@convnet\//, '');
      return [dir, KEYWORDS[dir] ?? (dir.startsWith('native/npm/') ? ['prebuilt', 'node-api', 'addon'] : name.split('-'))];
    }),
);
const COMMON = ['convnet', 'deep-learning', 'machine-learning'];

const check = process.argv.includes('--check');
const problems = [];
for (const [dir, keywords] of Object.entries(PACKAGES)) {
  const file = join(root, dir, 'package.json');
  const text = readFileSync(file, 'utf8');
  const pkg = JSON.parse(text);
  pkg.license = rootPkg.license;
  pkg.repository = { type: 'git', url: rootPkg.repository.url, directory: dir };
  pkg.homepage = `${repo}/tree/main/${dir}#readme`;
  pkg.bugs = { url: `${repo}/issues` };
  pkg.keywords = [...new Set([...COMMON, ...keywords])];
  if (Array.isArray(pkg.files) && !pkg.files.includes('CHANGELOG.md')) pkg.files.push('CHANGELOG.md');
  pkg.publishConfig = { access: 'public' };
  // key order: identity, then description/metadata, then the rest as it was
  const order = ['name', 'version', 'description', 'license', 'keywords', 'homepage', 'bugs', 'repository'];
  const out = {};
  for (const k of order) if (k in pkg) out[k] = pkg[k];
  for (const k of Object.keys(pkg)) if (!(k in out)) out[k] = pkg[k];
  const next = `${JSON.stringify(out, null, 2)}\n`;
  const license = join(root, dir, 'LICENSE');
  const licenseOk = existsSync(license) && readFileSync(license, 'utf8') === readFileSync(join(root, 'LICENSE'), 'utf8');
  if (check) {
    if (next !== text) problems.push(`${dir}/package.json`);
    if (!licenseOk) problems.push(`${dir}/LICENSE`);
  } else {
    if (next !== text) writeFileSync(file, next);
    if (!licenseOk) copyFileSync(join(root, 'LICENSE'), license);
  }
}
if (problems.length) {
  console.error(`metadata differs from the root's (run node test/release/metadata.mjs): ${problems.join(', ')}`);
  process.exit(1);
}
