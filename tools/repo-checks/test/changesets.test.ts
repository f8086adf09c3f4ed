/**
 * Changesets: packages version independently and publish publicly, private packages are left out,
 * every published package has a release note pending or a changelog, and `changeset status` runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { privatePackages, published, readJson, repoRoot } from './workspace.js';

interface ChangesetConfig {
  access: string;
  baseBranch: string;
  fixed: string[][];
  linked: string[][];
  ignore: string[];
  privatePackages?: { version: boolean; tag: boolean };
}

const changesetDir = join(repoRoot, '.changeset');
const config = readJson<ChangesetConfig>(join(changesetDir, 'config.json'));

/** Package name → bump of every pending changeset. */
function pendingReleases(): Map<string, string[]> {
  const releases = new Map<string, string[]>();
  for (const file of readdirSync(changesetDir).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
    const text = readFileSync(join(changesetDir, file), 'utf8');
    const front = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(text);
    expect(front, `${file} has a frontmatter`).not.toBeNull();
    expect(front![2]!.trim().length, `${file} has a summary`).toBeGreaterThan(0);
    for (const [name, bump] of Object.entries(parse(front![1]!) as Record<string, string>)) {
      releases.set(name, [...(releases.get(name) ?? []), bump]);
    }
  }
  return releases;
}

type PlannedRelease = { name: string; type: string; oldVersion: string; newVersion: string };

/** The releases of a `changeset status --output` file that change a version. */
function readPlan(file: string): PlannedRelease[] {
  return readJson<{ releases: PlannedRelease[] }>(file).releases.filter((r) => r.type !== 'none');
}

function changesetStatus(): PlannedRelease[] {
  const dir = mkdtempSync(join(tmpdir(), 'changeset-status-'));
  try {
    const out = join(dir, 'status.json');
    const run = spawnSync('npx', ['changeset', 'status', `--output=${out}`], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
    return readPlan(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}


describe('.changeset/config.json', () => {
  it('publishes publicly from main, with independent versions (no fixed or linked groups)', () => {
    expect(config.access).toBe('public');
    expect(config.baseBranch).toBe('main');
    expect(config.fixed).toEqual([]);
    expect(config.linked).toEqual([]);
  });

  it('ignores private packages only, and leaves private ones unversioned', () => {
    const privateNames = privatePackages.map((p) => p.manifest.name);
    for (const name of config.ignore) expect(privateNames, `${name} in ignore`).toContain(name);
    for (const pkg of published) expect(config.ignore).not.toContain(pkg.manifest.name);
    expect(config.privatePackages).toEqual({ version: false, tag: false });
  });
});

describe('release notes', () => {
  const releases = pendingReleases();

  it('pending changesets name only published packages, with a valid bump', () => {
    const names = published.map((p) => p.manifest.name);
    for (const [name, bumps] of releases) {
      expect(names, `changeset for ${name}`).toContain(name);
      for (const bump of bumps) expect(['patch', 'minor', 'major']).toContain(bump);
    }
  });

  it.each(published.map((p) => [p.manifest.name, p] as const))('%s has a pending changeset or a released version in its CHANGELOG', (name, pkg) => {
    const file = join(pkg.dir, 'CHANGELOG.md');
    const changelog = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const released = /^## \d+\.\d+\.\d+/m.test(changelog);
    expect(releases.has(name) || released, `${name}: add a changeset (npx changeset)`).toBe(true);
  });

  it('`changeset status` runs and plans a release of every package with a changeset, and only of those', () => {
    const plan = changesetStatus();
    const planned = new Set(plan.map((r) => r.name));
    for (const name of releases.keys()) expect(planned, name).toContain(name);
    for (const release of plan) expect(published.map((p) => p.manifest.name)).toContain(release.name);
  });

  it('no package jumps to a new major version before 1.0 is decided', () => {
    for (const release of changesetStatus()) {
      expect(release.type, `${release.name} ${release.oldVersion} -> ${release.newVersion}`).not.toBe('major');
    }
  });
});
