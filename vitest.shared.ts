/**
 * The one vitest setting every project uses: the default reporter for people, and a JSON report
 * per project under reports/vitest that tools/test-summary.mjs adds up into "N passed, N failed".
 */
import { fileURLToPath } from 'node:url';
import type { ViteUserConfig } from 'vitest/config';

const reportsDir = fileURLToPath(new URL('./reports/vitest/', import.meta.url));

export function sharedTestConfig(projectName: string, overrides: NonNullable<ViteUserConfig['test']> = {}) {
  return {
    include: ['test/**/*.test.ts'],
    reporters: ['default', ['json', { outputFile: `${reportsDir}${projectName}.json` }]],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    ...overrides,
  } satisfies NonNullable<ViteUserConfig['test']>;
}
