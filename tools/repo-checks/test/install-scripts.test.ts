/**
 * npm 11 runs a dependency's install scripts only when the root package.json's `allowScripts`
 * allows them, and warns on every `npm ci` about each one it neither allows nor denies. Every such
 * dependency is decided in package.json (nx's postinstall is denied; the README says why), so a
 * fresh install prints no warning about them.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJson, repoRoot } from './workspace.js';

describe('install scripts', () => {
  it('package.json decides every dependency install script (npm install-scripts ls lists none)', () => {
    const run = spawnSync('npm', ['install-scripts', 'ls'], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain('No packages with unreviewed install scripts');
  });

  it("nx's postinstall is denied explicitly", () => {
    const root = readJson<{ allowScripts?: Record<string, boolean> }>(join(repoRoot, 'package.json'));
    expect(root.allowScripts?.['nx']).toBe(false);
  });
});
