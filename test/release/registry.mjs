// The packages as published, without a network: packs every published workspace package with `pnpm pack`
// (prepack builds it; workspace: ranges become versions), makes tarballs of every third-party package they need
// from the workspace's own node_modules (pnpm's store, so nothing is downloaded), and serves both as an npm
// registry on 127.0.0.1. npm and pnpm install from it exactly as from registry.npmjs.org.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PACKAGES } from './metadata.mjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const env = { ...process.env, TURBO_TELEMETRY_DISABLED: '1', NO_COLOR: '1' };

/** Packs every published package into dest; returns [{ name, version, dir, file }] (file: the .tgz path). */
export function packWorkspace(dest) {
  mkdirSync(dest, { recursive: true });
  const out = [];
  for (const dir of Object.keys(PACKAGES)) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    execFileSync('pnpm', ['pack', '--pack-destination', dest], { cwd: join(root, dir), stdio: 'pipe', env });
    const file = join(dest, `${pkg.name.replace(/^@/, '').replace('/', '-')}-${pkg.version}.tgz`);
    if (!existsSync(file)) throw new Error(`pnpm pack of ${dir} did not write ${file}`);
    out.push({ name: pkg.name, version: pkg.version, dir, file });
  }
  return out;
}

/** The directory of `dep` as seen from the package at `from` (pnpm layout: siblings in the same node_modules). */
function resolveFrom(from, dep) {
  let d = from;
  for (;;) {
    const nm = d.endsWith(`${sep}node_modules`) ? d : join(d, 'node_modules');
    const p = join(nm, dep);
    if (existsSync(join(p, 'package.json'))) return realpathSync(p);
    const up = dirname(d);
    if (up === d) return null;
    d = up;
  }
}

/** The package directory's containing node_modules (where pnpm links its dependencies). */
function containingNodeModules(dir) {
  const i = dir.lastIndexOf(`${sep}node_modules${sep}`);
  return i < 0 ? dir : dir.slice(0, i + `${sep}node_modules`.length);
}

/**
 * Third-party packages the published packages need at install: [{ name, version, dir }]. `extra`: more starting
 * points, [{ from: a workspace directory, deps: { name: range } }] (e.g. a contributed package's devDependencies,
 * resolved from a workspace package that has them).
 */
export function thirdPartyClosure(extra = []) {
  const seen = new Map();
  const stack = [];
  const push = (from, deps, optional) => {
    for (const dep of Object.keys(deps ?? {})) {
      if (dep.startsWith('@convnet/')) continue;
      const d = resolveFrom(from, dep);
      if (!d) {
        if (optional) continue; // another platform's optional package (sharp's @img/*): never installed here
        throw new Error(`${dep} (needed by ${from}) is not installed in the workspace`);
      }
      const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
      const key = `${pkg.name}@${pkg.version}`;
      if (seen.has(key)) continue;
      seen.set(key, { name: pkg.name, version: pkg.version, dir: d });
      stack.push(d);
    }
  };
  for (const dir of Object.keys(PACKAGES)) {
    const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
    push(join(root, dir), pkg.dependencies, false);
    push(join(root, dir), pkg.optionalDependencies, true);
  }
  for (const { from, deps } of extra) push(from, deps, false);
  while (stack.length) {
    const d = stack.pop();
    const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
    const from = containingNodeModules(d);
    push(from, pkg.dependencies, false);
    push(from, pkg.optionalDependencies, true);
    // peers that are installed alongside (e.g. optional peers) are not needed: npm/pnpm skip missing optional peers
  }
  return [...seen.values()];
}

/** Tarballs of the third-party packages (from their installed directories) in dest. */
export function packThirdParty(list, dest) {
  mkdirSync(dest, { recursive: true });
  return list.map(({ name, version, dir }) => {
    const file = join(dest, `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`);
    if (!existsSync(file))
      // --hard-dereference: pnpm's store hard-links identical files, and tar would store the second one as a link
      // to the first, which npm does not extract (expect-type's dist/branding.js went missing)
      execFileSync('tar', ['-czf', file, '--hard-dereference', '--exclude=./node_modules', '--transform', 's,^\\.,package,',
        '-C', dir, '.'], { stdio: 'pipe' });
    return { name, version, file };
  });
}

function manifestOf(file) {
  return JSON.parse(execFileSync('tar', ['-xzOf', file, 'package/package.json'], { encoding: 'utf8' }));
}

/**
 * Serves the tarballs as a registry on 127.0.0.1 (packuments at /<name>, tarballs at /-/<file>); every other
 * request is a 404, which is what a package that does not exist gets. Returns { url, requests, close() }.
 */
export async function startRegistry(tarballs) {
  const byName = new Map();
  const files = new Map();
  for (const t of tarballs) {
    const m = manifestOf(t.file);
    const data = readFileSync(t.file);
    const base = t.file.split(sep).pop();
    files.set(base, data);
    const integrity = `sha512-${createHash('sha512').update(data).digest('base64')}`;
    const shasum = createHash('sha1').update(data).digest('hex');
    if (!byName.has(m.name)) byName.set(m.name, { name: m.name, versions: {}, 'dist-tags': {}, time: {} });
    const doc = byName.get(m.name);
    doc.versions[m.version] = { ...m, _id: `${m.name}@${m.version}`, dist: { integrity, shasum, tarball: `/-/${base}` } };
    const latest = doc['dist-tags'].latest;
    if (!latest || compareVersions(m.version, latest) > 0) doc['dist-tags'].latest = m.version;
  }
  const requests = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(req.url.split('?')[0]);
    requests.push(path);
    if (path.startsWith('/-/') && files.has(path.slice(3))) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(files.get(path.slice(3)));
      return;
    }
    const doc = byName.get(path.slice(1));
    if (!doc) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"Not found"}');
      return;
    }
    const body = JSON.parse(JSON.stringify(doc));
    for (const v of Object.values(body.versions)) v.dist.tarball = `${url}${v.dist.tarball}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, requests, close: () => new Promise((ok) => server.close(ok)) };
}

function compareVersions(a, b) {
  const pa = a.split(/[.-]/).map(Number), pb = b.split(/[.-]/).map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return 0;
}

/** Files of a tarball (paths without the leading package/). */
export function tarballFiles(file) {
  return execFileSync('tar', ['-tzf', file], { encoding: 'utf8' })
    .split('\n').filter((l) => l && !l.endsWith('/')).map((l) => l.replace(/^package\//, '')).sort();
}

export { manifestOf, readdirSync };
