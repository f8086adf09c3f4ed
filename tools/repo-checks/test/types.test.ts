/**
 * Are the types wrong? `attw --pack` on every published package: the tarball npm would publish,
 * resolved the way Node 16+ ESM and bundlers resolve it. The packages are ES modules: CommonJS
 * loads them with require(esm) on Node >= 20.19 (require.test.ts checks it), which TypeScript only
 * types under `module: nodenext`, so attw's node16-cjs and node10 resolutions are not checked here.
 * Needs each package built.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { published } from './workspace.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const attwBin = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist', 'index.js');

interface AttwReport {
  analysis?: { problems?: Array<{ kind: string; resolutionKind?: string; entrypoint?: string }> };
  problems?: Record<string, unknown[]>;
}

describe('arethetypeswrong', () => {
  it.each(published.map((p) => [p.manifest.name, p] as const))('%s: types resolve for ESM consumers', async (_name, pkg) => {
    const result = await run(process.execPath, [attwBin, '--pack', '.', '--profile', 'esm-only', '--format', 'json'], {
      cwd: pkg.dir,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((error: { stdout?: string; stderr?: string; code?: number }) => error);
    const report = JSON.parse(result.stdout ?? '{}') as AttwReport;
    const problems = (report.analysis?.problems ?? []).filter((p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs');
    expect(problems, JSON.stringify(problems, null, 2)).toEqual([]);
    expect(report.analysis, `attw printed no analysis: ${result.stderr ?? ''}`).toBeDefined();
  });
});
