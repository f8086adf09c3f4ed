#!/usr/bin/env node
/**
 * The mutation check (`npm run mutations [-- name...]`, never part of `npm test`): proves the
 * conformance suite can fail. It copies the workspace to a sandbox under the OS tmpdir (the
 * checkout is never touched), applies each named mutation of tools/mutations/mutations.mjs in
 * turn, rebuilds core when a mutation touches it, runs the memory conformance suite (stopping at its
 * first failure), and prints caught / survived per mutation and in total.
 *
 * A mutation is caught when the suite fails (or hangs past a deadline, reported as such). Before any
 * mutation the unmutated suite must pass, or the run stops. Exits 1 when fewer than 27 are caught,
 * 2 when an entry is stale (a find-text that no longer occurs exactly once) or the baseline fails.
 * Mutations of memory cannot prove the cross-instance, kill and restart tests: the Redis and NATS
 * backends prove those.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTATIONS } from './mutations.mjs';

const REQUIRED_CAUGHT = 27;
const RUN_TIMEOUT_MS = 240_000;
const root = fileURLToPath(new URL('../..', import.meta.url));
const only = process.argv.slice(2);
const chosen = only.length > 0 ? MUTATIONS.filter((m) => only.includes(m.name)) : MUTATIONS;
if (only.length > 0 && chosen.length !== only.length) {
  console.error(`unknown mutation(s): ${only.filter((n) => !MUTATIONS.some((m) => m.name === n)).join(', ')}`);
  process.exit(2);
}

// Stale entries fail loudly, before anything runs.
const stale = [];
for (const m of chosen) {
  for (const edit of m.edits) {
    const text = readFileSync(join(root, edit.file), 'utf8');
    const count = text.split(edit.find).length - 1;
    if (count !== 1) stale.push(`${m.name}: ${edit.file} has its find-text ${count} times (needs exactly 1): ${JSON.stringify(edit.find.slice(0, 80))}`);
  }
}
if (stale.length > 0) {
  console.error(`stale mutation entries (the code moved; fix tools/mutations/mutations.mjs):\n  ${stale.join('\n  ')}`);
  process.exit(2);
}

const sandbox = mkdtempSync(join(tmpdir(), 'woodwork-mutations-'));
const log = (line) => console.error(line);
let exitCode = 0;
try {
  log(`sandbox ${sandbox}`);
  run('rsync', ['-a', '--exclude', '.git', '--exclude', 'reports', '--exclude', '.nx', `${root}/`, `${sandbox}/`], 'copy the workspace');
  // Built once: core, memory, the suite. A core mutation rebuilds core only.
  run(bin('tsc'), ['-p', 'packages/bus-core/tsconfig.lib.json'], 'build core');
  run(bin('tsc'), ['-p', 'packages/bus-conformance/tsconfig.lib.json'], 'build the conformance suite');
  const baseline = suite();
  if (baseline.failed) {
    log(`the unmutated suite fails; nothing to measure:\n${baseline.output}`);
    process.exit(2);
  }
  log(`baseline: the unmutated suite passes (${baseline.ms} ms)`);

  const rows = [];
  for (const m of chosen) {
    const originals = new Map();
    for (const edit of m.edits) {
      const file = join(sandbox, edit.file);
      const text = originals.get(file) ?? readFileSync(file, 'utf8');
      if (!originals.has(file)) originals.set(file, text);
      const current = readFileSync(file, 'utf8');
      writeFileSync(file, current.replace(edit.find, () => edit.replace));
    }
    const touchesCore = m.edits.some((e) => e.file.startsWith('packages/bus-core/'));
    let result;
    try {
      if (touchesCore) run(bin('tsc'), ['-p', 'packages/bus-core/tsconfig.lib.json'], `build core with ${m.name}`);
      result = suite();
    } finally {
      for (const [file, text] of originals) writeFileSync(file, text);
      if (touchesCore) run(bin('tsc'), ['-p', 'packages/bus-core/tsconfig.lib.json'], 'rebuild core unmutated');
    }
    const verdict = result.timedOut ? 'caught (hung)' : result.failed ? 'caught' : 'SURVIVED';
    rows.push({ name: m.name, verdict, ms: result.ms, firstFailure: result.firstFailure, missed: m.missed });
    log(`${verdict.padEnd(14)} ${m.name}${result.firstFailure ? `  <- ${result.firstFailure}` : ''}`);
  }

  const caught = rows.filter((r) => r.verdict !== 'SURVIVED').length;
  const width = Math.max(...rows.map((r) => r.name.length));
  console.log(`| ${'mutation'.padEnd(width)} | verdict        | first failing test |`);
  console.log(`|${'-'.repeat(width + 2)}|----------------|--------------------|`);
  for (const r of rows) console.log(`| ${r.name.padEnd(width)} | ${r.verdict.padEnd(14)} | ${r.firstFailure ?? ''} |`);
  const missedRows = rows.filter((r) => r.missed);
  console.log(`\nthe ${missedRows.length} behaviours the suite used to miss: ${missedRows.filter((r) => r.verdict !== 'SURVIVED').length} caught`);
  console.log(`caught ${caught} / ${rows.length}, survived ${rows.length - caught} (required: ${REQUIRED_CAUGHT} caught)`);
  if (only.length === 0 && caught < REQUIRED_CAUGHT) exitCode = 1;
} finally {
  rmSync(sandbox, { recursive: true, force: true });
}
process.exit(exitCode);

/** A tool of the sandbox's own node_modules (not through npx: a timeout must kill the tool itself). */
function bin(name) {
  return join(sandbox, 'node_modules', '.bin', name);
}

function run(command, args, what) {
  const result = spawnSync(command, args, { cwd: sandbox, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`could not ${what}: ${result.stderr || result.stdout || result.error}`);
}

/** Runs the memory conformance suite in the sandbox, stopping at the first failing test. */
function suite() {
  const started = Date.now();
  // The shared vitest config writes a JSON report per project (vitest.shared.ts): read it after.
  const reportFile = join(sandbox, 'reports', 'vitest', 'packages', 'bus-memory.json');
  rmSync(reportFile, { force: true });
  const result = spawnSync(bin('vitest'), ['run', 'test/conformance.test.ts', '--bail=1'], {
    cwd: join(sandbox, 'packages/bus-memory'),
    encoding: 'utf8',
    timeout: RUN_TIMEOUT_MS,
    maxBuffer: 64 * 1024 * 1024,
  });
  const timedOut = result.error?.code === 'ETIMEDOUT' || result.signal === 'SIGTERM';
  let firstFailure;
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8'));
    for (const file of report.testResults ?? []) {
      const failed = (file.assertionResults ?? []).find((a) => a.status === 'failed');
      if (failed) {
        firstFailure = failed.title;
        break;
      }
    }
  } catch {
    // No JSON: the run broke before reporting (a crash counts as a failure, shown by the status).
  }
  return { failed: result.status !== 0, timedOut, ms: Date.now() - started, firstFailure, output: `${result.stdout}\n${result.stderr}`.slice(-4000) };
}
