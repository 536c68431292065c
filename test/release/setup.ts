// vitest globalSetup of the cross-package tests: packs every published package once (pack.test.ts checks the
// tarballs, outside.test.ts installs them) and makes the third-party tarballs the local registry serves.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
// @ts-expect-error plain ESM helper without types
import { packThirdParty, packWorkspace, thirdPartyClosure } from './registry.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    release: { dir: string; ours: { name: string; version: string; dir: string; file: string }[]; theirs: { name: string; version: string; file: string }[] };
  }
}

export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), 'convnet-release-'));
  const ours = packWorkspace(join(dir, 'ours'));
  const theirs = packThirdParty(thirdPartyClosure(), join(dir, 'theirs'));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ours, theirs }, null, 2));
  project.provide('release', { dir, ours, theirs });
  return () => rmSync(dir, { recursive: true, force: true });
}
