import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// A cache of the run's own unless one is given: a developer's ~/.cache/polygrad (kernels.json from `polygrad kernels
// bench`, beam.json from tuning) would otherwise change which kernels `auto` and BEAM pick in the tests.
const cache = process.env.POLYGRAD_CACHE ?? mkdtempSync(join(tmpdir(), 'polygrad-test-cache-'));
if (!process.env.POLYGRAD_CACHE) process.on('exit', () => rmSync(cache, { recursive: true, force: true }));

// forks pool: a native GPU binding that crashes takes down one worker, not the run (shared/notes/feasibility.md §3)
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], pool: 'forks', testTimeout: 60_000, env: { POLYGRAD_CACHE: cache } },
});
