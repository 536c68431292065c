// vitest globalSetup shared by every package's tests: one temporary folder per package run, under the system's.
// TMPDIR points there for the test workers and every process they start (os.tmpdir(), mkdtemp, the CLI, mpirun,
// Chromium), so whatever a test writes to "/tmp" lands in it. At the end the folder is removed when every test
// passed, and kept and named on stderr when one failed (to look at what the failing test wrote).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  const name = basename(project.config.root).replace(/[^A-Za-z0-9_-]/g, '') || 'tests';
  const dir = mkdtempSync(join(tmpdir(), `convnet-test-${name}-`));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    const state = project.vitest.state;
    // a failed test, a test file that failed to run, or an unhandled error
    const failed = state.getCountOfFailedTests() > 0 || state.getFailedFilepaths().length > 0 || state.errorsSet.size;
    if (failed) {
      const left = readdirSync(dir);
      process.stderr.write(`kept the temporary files of the failed run: ${dir} (${left.length} entries)\n`);
      return;
    }
    rmSync(dir, { recursive: true, force: true });
  };
}
