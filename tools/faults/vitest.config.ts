import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.ts';

// The short form runs two scenarios end to end through the CLI.
export default defineConfig({ test: sharedTestConfig(import.meta.dirname, { testTimeout: 120_000 }) });
