import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// `npm run test:slow`: the long forms (the whole suite on a local Redis Cluster), not in `npm test`.
export default defineConfig({ test: sharedTestConfig(import.meta.dirname, { include: ['slow/**/*.test.ts'], reporters: ['default'] }) });
