/**
 * The one vitest setting every project uses: the default reporter for people, and a JSON report
 * per project at reports/vitest/<project root>.json that tools/test-summary.mjs adds up into
 * "N passed, N failed" (nx caches and restores it as the test target's output).
 *
 * `expect.poll` waits up to 10 s by default (vitest's own default is 1 s): a poll is a wait for
 * evidence, and on a machine shared by many test runs 1 s is a tight margin, not a deadline. Test
 * and hook timeouts (60 s) are there to end a hang, not to time a test: under load the heaviest
 * tests (10,000 sessions, child processes, Python) took 10-30 s.
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ViteUserConfig } from 'vitest/config';

const workspaceRoot = fileURLToPath(new URL('.', import.meta.url));

type TestConfig = NonNullable<ViteUserConfig['test']>;

export function sharedTestConfig(projectDir: string, overrides: TestConfig = {}): TestConfig {
  const projectRoot = relative(workspaceRoot, projectDir);
  return {
    include: ['test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: `${workspaceRoot}reports/vitest/${projectRoot}.json` }]],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    expect: { poll: { timeout: 10_000 } },
    ...overrides,
  };
}
