import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// Two test files at a time (vitest's default on 2 cores is one): the files mostly wait on Redis,
// timers and child processes (about 20 s of CPU in a 2-minute run), and every test makes its own
// names, and the ones that count server-wide (CLIENT LIST, INFO) run their own redis-server.
export default defineConfig({ test: sharedTestConfig(import.meta.dirname, { maxWorkers: 2 }) });
