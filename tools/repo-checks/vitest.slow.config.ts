import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// `npm run test:slow`: the checks too slow for `npm test` (each installs an example from tarballs).
export default defineConfig({
  test: sharedTestConfig(import.meta.dirname, { include: ['test/**/*.slow-test.ts'], reporters: ['default'], testTimeout: 180_000 }),
});
