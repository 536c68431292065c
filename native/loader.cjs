'use strict';
// Finding, loading and installing convnet's Node-API addons (contract C5), shared by @convnet/native,
// @convnet/cuda, @convnet/distributed and contributed kernel packages.
//
// Where an addon comes from, in this order:
//   1. an override path from an environment variable (a debug or sanitizer build), then <root>/$CONVNET_BUILD_DIR/Release
//      (one variable for every addon: native/scripts/sanitize.mjs builds into build-sanitize);
//   2. the package's own source build (<root>/build/Release or build/Debug), made at install time by cmake-js;
//   3. the prebuilt package for this platform, `<package name>-<platform>` (e.g. @convnet/native-linux-x64-gnu),
//      an optionalDependency that npm and pnpm install only on matching os/cpu/libc, as sharp and esbuild do.
// The install script (`install()` below) compiles only where no prebuilt package loads, so a user with a prebuilt
// package never needs a compiler, and pnpm's build-script approval is not needed.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/** libc flavour of this Linux process ('gnu' or 'musl'), undefined elsewhere. */
function libc() {
  if (process.platform !== 'linux') return undefined;
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null;
  return report && report.header && report.header.glibcVersionRuntime ? 'gnu' : 'musl';
}

/** The platform part of prebuilt package names: linux-x64-gnu, linux-arm64-musl, darwin-arm64, win32-x64-msvc. */
function platformId() {
  const { platform, arch } = process;
  if (platform === 'linux') return `${platform}-${arch}-${libc()}`;
  if (platform === 'win32') return `${platform}-${arch}-msvc`;
  return `${platform}-${arch}`;
}

/** Name of the prebuilt package of `name` for this platform. */
function prebuiltPackage(name) {
  return `${name}-${platformId()}`;
}

/** True when `root` is an installed copy (under node_modules) rather than a development checkout. */
function isInstalled(root) {
  return path.resolve(root).split(path.sep).includes('node_modules');
}

/** The directory of the prebuilt package, or null when it is not installed. */
function prebuiltDir(name, root) {
  try {
    return path.dirname(require.resolve(`${prebuiltPackage(name)}/package.json`, { paths: [root] }));
  } catch {
    return null;
  }
}

/** What to run to get a working addon, for npm and for pnpm (the last lines of every load error). */
function fixHint(name, { optional = false } = {}) {
  const pkg = prebuiltPackage(name);
  return [
    `To fix, either:`,
    `  - install the prebuilt binary (published for linux-x64-gnu): npm install ${pkg}  |  pnpm add ${pkg}`,
    `    (npm skips it under --omit=optional / --no-optional; this platform is ${platformId()})`,
    `  - or build from source (needs a C++17 compiler and cmake >= 3.18${optional ? ', see the package README for the rest' : ''}):`,
    `      npm:  npm rebuild ${name}`,
    `      pnpm: pnpm approve-builds (select ${name}) then pnpm rebuild ${name}`,
    `            (or list it under onlyBuiltDependencies in pnpm-workspace.yaml; pnpm 10 runs no dependency's`,
    `            build script until it is approved)`,
  ].join('\n');
}

/**
 * Looks for an addon without throwing. Returns { addon, path, source } or { error } where error is a
 * multi-line message naming every place looked at and what to run.
 *
 * opts: name (package name), root (package directory), file (e.g. 'convnet_native.node'),
 *       envPath (name of an override variable, optional), optional (an addon the package works without).
 */
function tryLoadAddon(opts) {
  const { name, root, file, envPath } = opts;
  const tried = [];
  const candidates = [];
  if (envPath && process.env[envPath]) candidates.push({ p: path.resolve(process.env[envPath]), source: `$${envPath}` });
  // CONVNET_BUILD_DIR: a second build directory of every addon package (e.g. build-sanitize, made by
  // native/scripts/sanitize.mjs), looked at before the release build
  const alt = process.env.CONVNET_BUILD_DIR;
  if (alt && /^[A-Za-z0-9._-]+$/.test(alt)) candidates.push({ p: path.join(root, alt, 'Release', file), source: `$CONVNET_BUILD_DIR (${alt})` });
  candidates.push({ p: path.join(root, 'build', 'Release', file), source: 'source build' });
  candidates.push({ p: path.join(root, 'build', 'Debug', file), source: 'source build (Debug)' });
  const pre = prebuiltDir(name, root);
  if (pre) candidates.push({ p: path.join(pre, file), source: `prebuilt ${prebuiltPackage(name)}` });
  else tried.push(`prebuilt: ${prebuiltPackage(name)} is not installed`);
  for (const { p, source } of candidates) {
    if (!fs.existsSync(p)) {
      tried.push(`${source}: ${p} does not exist`);
      continue;
    }
    try {
      return { addon: require(p), path: p, source };
    } catch (e) {
      tried.push(`${source}: ${p} failed to load: ${String(e && e.message).split('\n')[0]}`);
      if (source.startsWith('$')) break; // an explicit override that fails must not be silently replaced
    }
  }
  const error =
    `${name}: no compiled addon ${file} for ${platformId()} (Node ${process.versions.node}, Node-API ${process.versions.napi}).\n` +
    tried.map((t) => `  ${t}`).join('\n') +
    '\n' +
    fixHint(name, opts);
  return { error };
}

/** tryLoadAddon, throwing its message when nothing loads. */
function loadAddon(opts) {
  const r = tryLoadAddon(opts);
  if (r.error) throw new Error(r.error);
  return r.addon;
}

function onPath(cmd) {
  const dirs = (process.env.PATH || '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (process.env.PATHEXT || '.EXE;.CMD').split(';') : [''];
  return dirs.some((d) => exts.some((e) => fs.existsSync(path.join(d, cmd + e))));
}

/**
 * The install script of an addon package. Without CONVNET_BUILD_FROM_SOURCE=1, an installed copy whose prebuilt
 * package loads compiles nothing. Otherwise it runs `cmake-js compile`; with no compiler or cmake it fails for a
 * required addon (the package cannot work) and prints a note for an optional one (the package reports the reason
 * at run time). A compile error always fails the install.
 *
 * opts: name, root, file, optional, jobs (parallel compile jobs, default 2), log (default console.error).
 */
function install(opts) {
  const { name, root, file, optional = false } = opts;
  const log = opts.log || ((m) => console.error(m));
  const fromSource = /^(1|true|yes)$/i.test(process.env.CONVNET_BUILD_FROM_SOURCE || '');
  if (!fromSource && isInstalled(root)) {
    const pre = prebuiltDir(name, root);
    if (pre) {
      const p = path.join(pre, file);
      try {
        require(p);
        log(`${name}: using the prebuilt ${prebuiltPackage(name)} (set CONVNET_BUILD_FROM_SOURCE=1 to compile instead)`);
        return 0;
      } catch (e) {
        log(`${name}: the prebuilt ${p} does not load here (${String(e && e.message).split('\n')[0]}); building from source`);
      }
    }
  }
  const cxx = process.env.CXX ? [process.env.CXX] : ['c++', 'g++', 'clang++'];
  const missing = [];
  if (!onPath('cmake')) missing.push('cmake (>= 3.18)');
  if (!cxx.some((c) => (path.isAbsolute(c) ? fs.existsSync(c) : onPath(c)))) missing.push('a C++17 compiler (g++ or clang++)');
  if (missing.length) {
    const msg = `${name}: cannot build ${file} from source: ${missing.join(' and ')} not found on PATH, and no prebuilt ${prebuiltPackage(name)} loads.`;
    if (optional) {
      fs.mkdirSync(path.join(root, 'build'), { recursive: true });
      fs.writeFileSync(path.join(root, 'build', 'NOT_BUILT.txt'), `${msg}\n`);
      log(`${msg}\n${name} installs without it and reports this at run time.`);
      return 0;
    }
    log(`${msg}\n${fixHint(name, opts)}`);
    return 1;
  }
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js', { paths: [root] });
  const args = [cmakeJs, 'compile', '-p', String(opts.jobs || 2), '--log-level', 'warn', ...(opts.cmakeArgs || [])];
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) log(`${name}: building ${file} from source failed (cmake-js exit ${r.status}); see the output above.`);
  return r.status === null ? 1 : r.status;
}

module.exports = { platformId, prebuiltPackage, prebuiltDir, isInstalled, fixHint, tryLoadAddon, loadAddon, install };
