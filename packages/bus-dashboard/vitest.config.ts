import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// One test file at a time: each browser file launches its own headless Chromium, and several at
// once on a busy 2-core machine only slow each other down. A test gets 180 s before it counts as
// hung (the heaviest sets its own): the page's waits are generous (test/support/browser.ts).
export default defineConfig({ test: sharedTestConfig(import.meta.dirname, { fileParallelism: false, testTimeout: 180_000, expect: { poll: { timeout: 30_000 } } }) });
