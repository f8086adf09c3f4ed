#!/usr/bin/env node
/**
 * `npm test`: builds, lints and tests every project with nx, then prints the totals of every
 * vitest report (tools/test-summary.mjs) as the last line, "N passed, N failed, N skipped".
 *
 * Extra arguments go to nx (`npm test -- --skip-nx-cache`). Nx must never stop to ask anything:
 * nx.json turns off analytics, cloud, the daemon and the TUI, and the environment repeats it.
 * Exits non-zero when nx failed or the summary counted a failure.
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = { ...process.env, NX_NO_CLOUD: 'true', NX_DAEMON: 'false', NX_TUI: 'false' };

const summaryScript = join(root, 'tools', 'test-summary.mjs');
const extraArgs = process.argv.slice(2);

// The projects whose reports must exist, taken before nx starts (a project added meanwhile is not
// expected). A run narrowed with nx's own filters only counts the reports it wrote.
const narrowed = extraArgs.some((a) => /^(-p|--projects|--exclude)(=|$)/.test(a));
const listed = spawnSync(process.execPath, [summaryScript, '--list'], { cwd: root, encoding: 'utf8' });
const expectArg = narrowed ? '--no-expect-all' : `--expect=${listed.stdout.trim()}`;

// Old reports must not count: every report read afterwards was written (or restored from the
// nx cache) by this run.
rmSync(join(root, 'reports', 'vitest'), { recursive: true, force: true });

const nxArgs = ['nx', 'run-many', '-t', 'build', 'lint', 'test', '--outputStyle=stream', ...extraArgs];
const nx = spawnSync('npx', nxArgs, { cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'] });
if (nx.error) console.error(`could not start nx: ${nx.error.message}`);
const nxStatus = nx.status ?? 1;
if (nxStatus !== 0) console.error(`\nnx exited with status ${nxStatus}${nx.signal ? ` (signal ${nx.signal})` : ''}`);

const summary = spawnSync(process.execPath, [summaryScript, expectArg], { cwd: root, env, stdio: 'inherit' });
const summaryStatus = summary.status ?? 1;

process.exit(nxStatus !== 0 ? nxStatus : summaryStatus);
