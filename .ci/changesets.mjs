#!/usr/bin/env node
// Changeset-presence check: every published package whose shipped code changed since the merge base with the main
// branch is named by a changeset (.changeset/*.md) added or edited on this branch. On main itself the merge base is
// HEAD, so nothing is compared and the check passes.
//
//   node .ci/changesets.mjs [BASE]      BASE: the branch to compare with (default: main, else origin/main)
//
// Shipped code = files of a non-private package outside test/, bench/, lab/, scripts/, docs/ and the package's
// *.md, tsconfig and vitest config (the tarball's content that users run).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const git = (...args) => {
  const r = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};

const candidates = process.argv[2] ? [process.argv[2]] : ['main', 'origin/main'];
const baseRef = candidates.find((ref) => git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`) !== null);
if (!baseRef) {
  console.log(`changesets: not checked (skipped: no ${candidates.join(' or ')} branch in this clone to compare with)`);
  process.exit(0);
}
const base = git('merge-base', 'HEAD', baseRef);
if (base === null) {
  console.log(`changesets: not checked (skipped: HEAD and ${baseRef} have no common commit)`);
  process.exit(0);
}
const changed = (git('diff', '--name-only', `${base}...HEAD`) ?? '').split('\n').filter(Boolean);

/** Published packages by directory. */
const packages = [];
const dirs = ['native', ...['packages', 'apps'].flatMap((g) => readdirSync(join(root, g)).map((d) => `${g}/${d}`))];
for (const dir of dirs) {
  const file = join(root, dir, 'package.json');
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  if (!pkg.private) packages.push({ dir: `${dir}/`, name: pkg.name });
}
const notShipped = /^(test|bench|lab|scripts|docs)\/|(^|\/)[^/]*\.md$|^tsconfig[^/]*\.json$|^vitest\.config\.[cm]?ts$/;
const changedPackages = new Map();
for (const f of changed) {
  const p = packages.filter((x) => f.startsWith(x.dir)).sort((a, b) => b.dir.length - a.dir.length)[0];
  if (!p || notShipped.test(f.slice(p.dir.length))) continue;
  if (!changedPackages.has(p.name)) changedPackages.set(p.name, []);
  changedPackages.get(p.name).push(f);
}

/** Package names in the frontmatter of the changesets this branch adds or edits (deleted ones are gone). */
const named = new Set();
for (const f of changed.filter((f) => /^\.changeset\/[^/]+\.md$/.test(f) && !f.endsWith('README.md'))) {
  if (!existsSync(join(root, f))) continue;
  const front = readFileSync(join(root, f), 'utf8').match(/^---\n([\s\S]*?)\n---/);
  const entries = front?.[1].matchAll(/^\s*["']?(@?[^"':\s]+)["']?\s*:\s*(patch|minor|major)\s*$/gm) ?? [];
  for (const m of entries) named.add(m[1]);
}

const missing = [...changedPackages].filter(([name]) => !named.has(name));
for (const [name, files] of missing) {
  const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? `, … (${files.length} files)` : '');
  console.log(`changesets: ${name} changed since ${baseRef} (${shown}), but no changeset names it: ` +
    'add .changeset/<topic>.md');
}
const n = changedPackages.size;
const since = `since ${baseRef} (merge base ${base.slice(0, 10)})`;
console.log(`changesets: ${n} published package(s) changed ${since}, ${n - missing.length} named by a changeset`);
process.exit(missing.length ? 1 : 0);
