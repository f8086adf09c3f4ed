/**
 * The packaging rules of every published package: README and CHANGELOG, ESM `exports` with types
 * and a condition `require()` matches, a `files` whitelist with LICENSE and src, `sideEffects:
 * false`, Node >= 20, core as a peer dependency, and no dependency on another of our packages but
 * core. The tarball itself is checked in tarball.test.ts, require() in require.test.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORE, ourNames, packages, published, readJson, repoRoot, tools, type Manifest } from './workspace.js';

const cases = published.map((p) => [p.manifest.name, p] as const);

describe.each(cases)('%s', (name, pkg) => {
  const m = pkg.manifest;

  it('has a README.md and a CHANGELOG.md, and publishes them', () => {
    for (const file of ['README.md', 'CHANGELOG.md']) {
      expect(existsSync(join(pkg.dir, file)), `${pkg.path}/${file}`).toBe(true);
      expect(m.files, `files of ${name}`).toContain(file);
    }
  });

  it('is ESM with an exports map whose "." has types first, and exposes package.json', () => {
    expect(m.type).toBe('module');
    expect(m.exports).toBeDefined();
    const dot = m.exports!['.'] as Record<string, string>;
    expect(typeof dot).toBe('object');
    expect(Object.keys(dot)[0]).toBe('types');
    expect(dot['types']).toMatch(/\.d\.ts$/);
    expect(dot['default']).toMatch(/\.js$/);
    expect(m.exports!['./package.json']).toBe('./package.json');
    for (const [subpath, target] of Object.entries(m.exports!)) {
      if (subpath === './package.json') continue;
      // A data file (a shipped YAML config) is exported as a plain path; code always has types.
      if (typeof target === 'string' && !/\.(m|c)?(j|t)s$/.test(target)) continue;
      expect(target, `exports["${subpath}"] needs types`).toHaveProperty('types');
    }
  });

  it('lets require() load every entry point on Node >= 20.19: each has a "require" or "default" condition, never "import" alone', () => {
    for (const [subpath, target] of Object.entries(m.exports ?? {})) {
      if (typeof target === 'string') continue;
      const conditions = Object.keys(target as Record<string, unknown>);
      expect(
        conditions.includes('default') || conditions.includes('require'),
        `exports["${subpath}"] of ${name} has only ${conditions.join(', ')}: use { "types": ..., "default": ... } so require() works`,
      ).toBe(true);
    }
  });

  it('ships its LICENSE and its sources (the source maps point at src/)', () => {
    expect(existsSync(join(pkg.dir, 'LICENSE')), `${pkg.path}/LICENSE (copy the root LICENSE)`).toBe(true);
    expect(m.files).toContain('LICENSE');
    expect(m.files).toContain('src');
  });

  it('has a files whitelist with dist, sideEffects false, engines node >=20, MIT, public access', () => {
    expect(m.files).toContain('dist');
    expect(m.sideEffects).toBe(false);
    expect(m.engines?.['node']).toMatch(/^>=\s*20(\.0){0,2}$/);
    expect(m.license).toBe('MIT');
    expect(m.publishConfig?.['access']).toBe('public');
    expect(m.version).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
  });

  it('has build, lint and test scripts', () => {
    expect(Object.keys(m.scripts ?? {})).toEqual(expect.arrayContaining(['build', 'lint', 'test']));
  });

  it(`takes ${CORE} as a peer dependency (one copy per app), never as a dependency`, () => {
    if (name === CORE) return;
    expect(m.peerDependencies?.[CORE], `${name} peerDependencies["${CORE}"]`).toBeDefined();
    expect(m.devDependencies?.[CORE], `${name} devDependencies["${CORE}"] for its own build and tests`).toBe('*');
    expect(m.dependencies?.[CORE]).toBeUndefined();
  });

  it('depends on no other package of ours than core', () => {
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
      const ours = Object.keys(m[field] ?? {}).filter((dep) => ourNames.has(dep) || dep.startsWith('@woodwork/'));
      expect(ours.filter((dep) => dep !== CORE), `${name} ${field}`).toEqual([]);
    }
  });

  it('has a bin that points into dist, if any', () => {
    const bins = typeof m.bin === 'string' ? [m.bin] : Object.values(m.bin ?? {});
    for (const bin of bins) expect(bin).toMatch(/^\.\/dist\//);
  });
});

describe('the workspace', () => {
  it('repo-checks devDepends on every published package, so nx builds them before these tests', () => {
    const self = tools.find((t) => t.manifest.name === '@woodwork/repo-checks');
    expect(self).toBeDefined();
    for (const pkg of published) expect(self!.manifest.devDependencies?.[pkg.manifest.name], pkg.manifest.name).toBe('*');
  });

  it('every package lives in a root workspace folder and private packages are marked so', () => {
    const root = readJson<Manifest & { workspaces: string[] }>(join(repoRoot, 'package.json'));
    expect(root.private).toBe(true);
    expect(root.workspaces).toEqual(expect.arrayContaining(['packages/*', 'tools/*']));
    for (const pkg of [...packages, ...tools]) {
      if (pkg.manifest.private !== true) expect(pkg.path.startsWith('packages/'), `${pkg.manifest.name} is published from ${pkg.path}`).toBe(true);
    }
  });
});
