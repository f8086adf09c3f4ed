/**
 * publint on every published package, packed the way npm publishes it. Needs each package built
 * (this package devDepends on all of them, so nx builds them before this test runs).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, it } from 'vitest';
import { published } from './workspace.js';

describe('publint', () => {
  it('finds the published packages', () => {
    expect(published.map((p) => p.manifest.name)).toEqual(
      expect.arrayContaining(['@woodwork/bus-core', '@woodwork/bus-memory', '@woodwork/bus-adapter', '@woodwork/bus-events-bridge']),
    );
  });

  it.each(published.map((p) => [p.manifest.name, p] as const))('%s: no errors, warnings or suggestions', async (_name, pkg) => {
    expect(existsSync(join(pkg.dir, 'dist')), `${pkg.path}/dist is missing: build first (npx nx run-many -t build)`).toBe(true);
    const { messages, pkg: manifest } = await publint({ pkgDir: pkg.dir, pack: 'npm', level: 'suggestion' });
    const report = messages.map((m) => `${m.type}: ${formatMessage(m, manifest, { color: false }) ?? m.code}`);
    expect(report).toEqual([]);
  });
});
