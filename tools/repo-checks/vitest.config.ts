import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// publint packs each package with npm, which takes a few seconds per package.
export default defineConfig({ test: sharedTestConfig(import.meta.dirname, { testTimeout: 120_000 }) });
