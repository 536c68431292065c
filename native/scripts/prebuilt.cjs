'use strict';
// prepack of a prebuilt package (npm/<platform>/): copies the source build of this machine's platform into it.
// Run from that package's directory; fails unless the platform matches and the addon loads.
const fs = require('node:fs');
const path = require('node:path');
const { platformId } = require('../loader.cjs');

const pkgDir = process.cwd();
const want = path.basename(pkgDir);
const file = 'convnet_native.node';
if (want !== platformId()) {
  console.error(`prebuilt: this machine is ${platformId()}; ${want}'s binary must be built on ${want}`);
  process.exit(1);
}
const src = path.join(__dirname, '..', 'build', 'Release', file);
if (!fs.existsSync(src)) {
  console.error(`prebuilt: ${src} is missing; build it first: pnpm --filter @convnet/native run rebuild`);
  process.exit(1);
}
const tmp = path.join(pkgDir, `.${file}.tmp`);
fs.copyFileSync(src, tmp);
fs.renameSync(tmp, path.join(pkgDir, file));
const info = require(path.join(pkgDir, file)).info();
console.error(`prebuilt: ${path.join(want, file)} (${fs.statSync(src).size} bytes, isa ${info.isa} here)`);
