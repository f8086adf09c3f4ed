import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// `npm run test:slow`: the long forms too slow for `npm test` (the whole conformance suite as the
// minimal-permission user, about 40 s on an own nats-server).
export default defineConfig({
  test: sharedTestConfig(import.meta.dirname, { include: ['test/**/*.slow-test.ts'], reporters: ['default'] }),
});
