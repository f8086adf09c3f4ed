import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// Two test files at once: most of the time goes to waiting on servers and child processes, and
// the conformance suite is split in two files (test/support/conformance-harness.ts) so its halves
// run side by side. Keeps the package's share of npm test near 2 minutes on a loaded machine.
export default defineConfig({ test: sharedTestConfig(import.meta.dirname, { maxWorkers: 2 }) });
