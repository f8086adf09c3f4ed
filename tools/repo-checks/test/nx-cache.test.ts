/**
 * The Nx task cache stays inside the workspace. Nx 24 keeps it per machine by default
 * (~/.nx/<workspace id>/cache), shared by every clone of the repository, so `npm test` in one clone
 * could replay another clone's results; nx.json's `cacheDirectory` keeps each clone's results its own.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJson, repoRoot } from './workspace.js';

describe('the nx cache', () => {
  it('nx.json sets cacheDirectory to a folder inside the workspace, ignored by git', () => {
    const nxJson = readJson<{ cacheDirectory?: string }>(join(repoRoot, 'nx.json'));
    expect(nxJson.cacheDirectory, 'nx.json cacheDirectory').toBeTypeOf('string');
    const dir = nxJson.cacheDirectory as string;
    expect(isAbsolute(dir), `${dir} is relative to the workspace`).toBe(false);
    expect(relative(repoRoot, join(repoRoot, dir)).startsWith('..'), `${dir} stays inside the workspace`).toBe(false);
    const ignored = readFileSync(join(repoRoot, '.gitignore'), 'utf8').split('\n').map((line) => line.trim());
    expect(ignored.some((pattern) => pattern !== '' && `${dir}/`.startsWith(pattern.replace(/^\//, ''))), `.gitignore covers ${dir}`).toBe(true);
  });

  it('is where nx itself resolves it: this workspace, not the machine-wide folder', () => {
    // Asked of nx in a child started at the root, without the variable that would override nx.json.
    const env = { ...process.env };
    delete env['NX_CACHE_DIRECTORY'];
    const script = "process.stdout.write(require('nx/src/utils/cache-directory.js').cacheDir)";
    const child = spawnSync(process.execPath, ['-e', script], { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 });
    expect(child.status, child.stderr).toBe(0);
    const nxJson = readJson<{ cacheDirectory: string }>(join(repoRoot, 'nx.json'));
    expect(child.stdout).toBe(join(repoRoot, nxJson.cacheDirectory));
  });
});
