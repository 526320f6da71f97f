import { defineConfig } from 'vitest/config';

// forks pool: a native GPU binding that crashes takes down one worker, not the run (shared/notes/feasibility.md §3)
export default defineConfig({ test: { include: ['test/**/*.test.ts'], pool: 'forks', testTimeout: 60_000 } });
