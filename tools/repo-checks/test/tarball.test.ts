/**
 * What a user gets from the registry, checked on the file list `npm pack` would publish: a LICENSE
 * (the repository's, word for word), source maps and declaration maps whose sources are in the
 * tarball too, no compiled file left over from a deleted module, and a README whose links work on the registry's page (absolute https links, or
 * anchors of its own headings: a relative link such as `../bus-core` points nowhere there, and a
 * link to a shipped file must go through a CDN that serves the tarball).
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { published, repoRoot, type WorkspacePackage } from './workspace.js';

const run = promisify(execFile);

/** The paths `npm pack` would put in the tarball (relative, forward slashes). */
async function packedFiles(pkg: WorkspacePackage): Promise<Set<string>> {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: pkg.dir, maxBuffer: 16 * 1024 * 1024 });
  const [report] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>;
  return new Set(report!.files.map((f) => f.path));
}

/** Markdown link and image targets, outside fenced code blocks. */
export function markdownLinks(markdown: string): string[] {
  const prose = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g), ...prose.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
export function headingAnchors(markdown: string): Set<string> {
  const prose = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  return new Set(
    [...prose.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, '')
        .replace(/\s/g, '-'),
    ),
  );
}

/** Problems with one README's links; `shipped` is the tarball's file list. */
export function readmeLinkProblems(markdown: string, name: string, shipped: ReadonlySet<string>): string[] {
  const anchors = headingAnchors(markdown);
  const problems: string[] = [];
  for (const target of markdownLinks(markdown)) {
    if (target.startsWith('#')) {
      if (!anchors.has(target.slice(1))) problems.push(`${target}: no such heading`);
      continue;
    }
    if (!/^https:\/\//.test(target)) {
      problems.push(`${target}: relative or non-https links do not work on the registry's page (use https://www.npmjs.com/package/<name> or https://unpkg.com/${name}/<file>)`);
      continue;
    }
    const own = new RegExp(`^https://unpkg\\.com/${name.replace('/', '\\/')}(?:@[^/]+)?/([^#?]+)`).exec(target);
    if (own && !shipped.has(own[1]!)) problems.push(`${target}: ${own[1]} is not in the tarball`);
  }
  return problems;
}

describe('the README link rules (checked on a sample)', () => {
  const shipped = new Set(['README.md', 'PROTOCOL.md']);
  it('accepts https links, own anchors and shipped files on unpkg', () => {
    const md = '# T\n## Two words\n[a](https://www.npmjs.com/package/@woodwork/bus-core) [b](#two-words) [c](https://unpkg.com/@woodwork/x/PROTOCOL.md)\n';
    expect(readmeLinkProblems(md, '@woodwork/x', shipped)).toEqual([]);
  });
  it('refuses relative links, unknown anchors, plain http and unshipped files; ignores code blocks', () => {
    const md = '# T\n[a](../bus-core) [b](#nowhere) [c](http://example.com) [d](https://unpkg.com/@woodwork/x/src/a.ts) [e](PROTOCOL.md)\n```md\n[f](../ignored)\n```\n';
    expect(readmeLinkProblems(md, '@woodwork/x', shipped).map((p) => p.split(':')[0])).toEqual(['../bus-core', '#nowhere', 'http', 'https', 'PROTOCOL.md']);
  });
});

describe.each(published.map((p) => [p.manifest.name, p] as const))('%s tarball', (name, pkg) => {
  const files = packedFiles(pkg);

  it('ships package.json, README.md and the repository LICENSE, word for word', async () => {
    const shipped = await files;
    for (const file of ['package.json', 'README.md', 'LICENSE']) expect(shipped, `${name} tarball`).toContain(file);
    expect(readFileSync(join(pkg.dir, 'LICENSE'), 'utf8'), `${pkg.path}/LICENSE is the root LICENSE`).toBe(readFileSync(join(repoRoot, 'LICENSE'), 'utf8'));
    expect(pkg.manifest.license).toBe('MIT');
  });

  it('every source map and declaration map points at files the tarball ships', async () => {
    const shipped = await files;
    const maps = [...shipped].filter((f) => f.endsWith('.map'));
    expect(maps.length, `${name} ships its maps (or drop sourceMap / declarationMap and this check)`).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(pkg.dir, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const path = posix.normalize(posix.join(posix.dirname(map), sourceRoot ?? '', source));
        if (!shipped.has(path)) missing.push(`${map} -> ${path}`);
      }
    }
    expect(missing, 'map sources missing from the tarball (add "src" to files)').toEqual([]);
  });

  it('ships no compiled file without its source (a stale dist/ from a deleted module would be published)', async () => {
    const shipped = await files;
    const compiled = [...shipped].filter((f) => f.startsWith('dist/') && /\.(js|d\.ts|js\.map|d\.ts\.map)$/.test(f));
    expect(compiled.length, `${name} ships compiled files`).toBeGreaterThan(0);
    const orphans = compiled.filter((f) => !shipped.has(f.replace(/^dist\//, 'src/').replace(/(\.d)?\.(js|ts)(\.map)?$/, '.ts')));
    expect(orphans, 'compiled files whose src/*.ts is gone: build from an empty dist (the build script removes it first)').toEqual([]);
  });

  it('builds from an empty dist/, so a deleted module leaves nothing behind', () => {
    expect(pkg.manifest.scripts?.['build'], `${name} build script`).toMatch(/rmSync\('dist'|rm -rf dist|rimraf dist/);
  });

  it("README links work on the registry's page", async () => {
    const shipped = await files;
    const readme = readFileSync(join(pkg.dir, 'README.md'), 'utf8');
    expect(readmeLinkProblems(readme, name, shipped)).toEqual([]);
  });

  it('README says how CommonJS loads it, and what Node versions before 20.19 need', () => {
    const readme = readFileSync(join(pkg.dir, 'README.md'), 'utf8');
    expect(readme).toContain(`require('${name}')`);
    expect(readme).toContain('20.19');
    expect(readme).toContain(`import('${name}')`);
  });
});
