/**
 * `require()` of every published package from a CommonJS file, in a child process, as a CommonJS
 * app would do it. Node >= 20.19 loads an ES module synchronously when the exports map offers it
 * under a condition `require()` matches (`require` or `default`); an `import`-only map fails with
 * ERR_PACKAGE_PATH_NOT_EXPORTED. The required module must be the same one `import` gives (one copy,
 * so `instanceof BusError` holds across both). Needs each package built.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { published } from './workspace.js';

interface Loaded {
  name: string;
  ok: boolean;
  exports?: number;
  sameAsImport?: boolean;
  code?: string;
  message?: string;
}

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const requireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);

describe('CommonJS', () => {
  it('this Node can require() ES modules (>= 20.19 or >= 22.12), so the check below means something', () => {
    expect(requireEsm, `node ${process.versions.node}`).toBe(true);
  });

  it('every published package loads with require() from a .cjs file, the same module import() gives', () => {
    const names = published.map((p) => p.manifest.name);
    const child = spawnSync(process.execPath, [join(import.meta.dirname, 'fixtures', 'require-each.cjs'), ...names], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.status, child.stderr).toBe(0);
    const loaded = JSON.parse(child.stdout) as Loaded[];
    expect(loaded.map((l) => l.name)).toEqual(names);
    for (const l of loaded) {
      expect(l, `${l.name}: ${l.code ?? ''} ${l.message ?? ''}`).toMatchObject({ ok: true, sameAsImport: true });
      expect(l.exports, l.name).toBeGreaterThan(0);
    }
    // No warning a user would see on every start (e.g. ERR_REQUIRE_ASYNC_MODULE fallbacks or
    // experimental-feature notices are worth knowing about).
    expect(child.stderr).toBe('');
  });
});
