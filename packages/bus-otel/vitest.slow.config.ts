import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// `npm run test:slow -w @woodwork/bus-otel`: the conformance suite through the wrapper over Redis and
// NATS (every feature, servers killed and restarted), too slow for `npm test`.
export default defineConfig({
  test: sharedTestConfig(import.meta.dirname, { include: ['test/**/*.slow-test.ts'], reporters: ['default'], testTimeout: 180_000 }),
});
