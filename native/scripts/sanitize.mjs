#!/usr/bin/env node
// Sanitizer builds of convnet's addons, and commands run against them.
//
//   node native/scripts/sanitize.mjs build [--sanitize address,undefined]
//       builds @convnet/native, @convnet/kernels-batchnorm and @convnet/cuda's host emulator (CONVNET_CUDA=off) into
//       <package>/build-sanitize with CONVNET_SANITIZE set (native/cmake/sanitize.cmake: flags on the targets
//       themselves, exact-size scratch; incremental when the directory was built with the same list), then checks with ldd that every .node links the sanitizer runtimes.
//   node native/scripts/sanitize.mjs run -- <command> [args...]
//       runs the command with the sanitized addons loaded (CONVNET_BUILD_DIR=build-sanitize), AddressSanitizer's
//       runtime preloaded into Node (which is not instrumented itself), leak checking off (Node keeps its heap at
//       exit) and every report fatal (exit codes 86 for ASan, 87 for UBSan). Exits with the command's status.
//   node native/scripts/sanitize.mjs env
//       prints those variables as shell assignments.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = 'build-sanitize';
const PACKAGES = ['native', 'packages/kernels-batchnorm', 'packages/cuda'];

function fail(msg) {
  console.error(`sanitize: ${msg}`);
  process.exit(2);
}

function runtime(lib) {
  const p = execFileSync('gcc', [`-print-file-name=${lib}`], { encoding: 'utf8' }).trim();
  if (!p.startsWith('/') || !existsSync(p)) fail(`gcc has no ${lib} (install gcc's sanitizer runtimes)`);
  return p;
}

function sanitizerEnv() {
  return {
    LD_PRELOAD: [runtime('libasan.so'), process.env.LD_PRELOAD].filter(Boolean).join(':'),
    ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:exitcode=86:abort_on_error=0:detect_odr_violation=0',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=87',
    CONVNET_BUILD_DIR: OUT,
    CONVNET_EXACT_ALLOC: '1',
  };
}

function build(list) {
  for (const pkg of PACKAGES) {
    const dir = join(root, pkg);
    console.log(`sanitize: building ${pkg}/${OUT} with -fsanitize=${list}`);
    // a build directory made with the same list is built incrementally; otherwise from scratch
    const stamp = join(dir, OUT, 'sanitize-list');
    const same = existsSync(stamp) && readFileSync(stamp, 'utf8') === list;
    const r = spawnSync('npx', ['cmake-js', same ? 'compile' : 'rebuild', '-p', '2', '--out', OUT], {
      cwd: dir,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, CONVNET_SANITIZE: list, CONVNET_CUDA: 'off' },
    });
    if (r.status !== 0) fail(`the build of ${pkg} failed`);
    writeFileSync(stamp, list);
    const rel = join(dir, OUT, 'Release');
    const nodes = readdirSync(rel).filter((f) => f.endsWith('.node'));
    if (!nodes.length) fail(`no .node in ${rel}`);
    for (const f of nodes) {
      const ldd = execFileSync('ldd', [join(rel, f)], { encoding: 'utf8' });
      for (const want of list.split(',').map((s) => ({ address: 'libasan', undefined: 'libubsan' })[s]).filter(Boolean))
        if (!ldd.includes(want)) fail(`${pkg}/${OUT}/Release/${f} does not link ${want}: the flags did not apply`);
      console.log(`sanitize: ${pkg}/${OUT}/Release/${f} links ${[...new Set(ldd.match(/lib(asan|ubsan)[^ ]*/g))].join(', ')}`);
    }
  }
}

const [cmd, ...rest] = process.argv.slice(2);
if (cmd === 'build') {
  const i = rest.indexOf('--sanitize');
  const list = i >= 0 ? rest[i + 1] : 'address,undefined';
  if (!list || !/^[a-z-]+(,[a-z-]+)*$/.test(list)) fail(`--sanitize takes a list such as address,undefined`);
  build(list);
} else if (cmd === 'run') {
  const args = rest[0] === '--' ? rest.slice(1) : rest;
  if (!args.length) fail('usage: sanitize.mjs run -- <command> [args...]');
  if (!existsSync(join(root, 'native', OUT, 'Release', 'convnet_native.node')))
    fail(`no sanitized build (native/${OUT}): run 'node native/scripts/sanitize.mjs build' first`);
  const r = spawnSync(args[0], args.slice(1), { stdio: 'inherit', env: { ...process.env, ...sanitizerEnv() } });
  process.exit(r.status ?? 1);
} else if (cmd === 'env') {
  for (const [k, v] of Object.entries(sanitizerEnv())) console.log(`export ${k}='${v}'`);
} else {
  fail('usage: sanitize.mjs build [--sanitize LIST] | run -- <command> | env');
}
