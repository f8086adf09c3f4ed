#!/usr/bin/env node
/**
 * Adds up the vitest JSON reports under reports/vitest/** (one per project, written by
 * vitest.shared.ts and restored by nx for cached runs) and prints, per project,
 * "project: P passed, F failed, S skipped" with the skipped tests' names, then one last line
 * exactly "N passed, N failed, N skipped".
 *
 * A test file that failed to load counts as one failure (vitest reports it with no tests).
 * A workspace project with a `test` script but no report counts as one failure: its test target
 * did not run to the end (a dependency's build failed, vitest crashed), so its tests are unknown.
 *
 * Usage: node tools/test-summary.mjs [--no-expect-all | --expect=<root>,<root>...]
 *   --no-expect-all  only count the reports found (for a partial run such as `nx run x:test`).
 *   --expect=...     the project roots whose reports must exist (default: every workspace project
 *                    with a test script; run-tests.mjs passes the list it saw before nx started).
 *   --list           print that default list as comma-separated roots and exit.
 * Exits 1 when anything failed.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const reportsDir = join(root, 'reports', 'vitest');
const expectAll = !process.argv.includes('--no-expect-all');
const expectArg = process.argv.find((a) => a.startsWith('--expect='));
const expectRoots = expectArg === undefined ? undefined : new Set(expectArg.slice('--expect='.length).split(',').filter(Boolean));

/** Workspace projects with a test script, from the root package.json's `workspaces` globs. */
function testedProjects() {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const projects = [];
  for (const pattern of pkg.workspaces ?? []) {
    // Only "dir/*" globs are used here; anything else is taken as a literal folder.
    const dirs = pattern.endsWith('/*')
      ? listDirs(join(root, pattern.slice(0, -2))).map((d) => join(pattern.slice(0, -2), d))
      : [pattern];
    for (const dir of dirs) {
      const file = join(root, dir, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8'));
      if (manifest.scripts?.test) projects.push({ root: dir.split(sep).join('/'), name: manifest.name ?? dir });
    }
  }
  return projects;
}

function listDirs(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort();
}

function listReports(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listReports(path));
    else if (entry.name.endsWith('.json')) out.push(path);
  }
  return out.sort();
}

const SKIPPED = new Set(['skipped', 'pending', 'todo', 'disabled']);

/** Counts one report; never throws (an unreadable report is a failure). */
function summarise(file) {
  const result = { passed: 0, failed: 0, skipped: 0, skippedNames: [], failedNames: [], problems: [] };
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    result.failed = 1;
    result.problems.push(`report ${relative(root, file)} is not readable JSON (${error.message})`);
    return result;
  }
  for (const testFile of report.testResults ?? []) {
    let failedHere = 0;
    for (const test of testFile.assertionResults ?? []) {
      if (test.status === 'passed') result.passed++;
      else if (test.status === 'failed') {
        result.failed++;
        failedHere++;
        result.failedNames.push(`${relative(root, testFile.name)} > ${test.fullName}: ${firstLine(test.failureMessages?.[0])}`);
      } else if (SKIPPED.has(test.status)) {
        result.skipped++;
        result.skippedNames.push(`${relative(root, testFile.name)} > ${test.fullName}`);
      } else {
        result.failed++;
        failedHere++;
        result.problems.push(`${test.fullName}: unexpected status ${test.status}`);
      }
    }
    // A file that failed outside any test (import error, failing hook) has no failed test to count.
    if (testFile.status === 'failed' && failedHere === 0) {
      result.failed++;
      result.problems.push(`${relative(root, testFile.name)} failed outside its tests: ${firstLine(testFile.message)}`);
    }
  }
  // Cross-check with vitest's own totals so a format change cannot hide failures.
  if (typeof report.numFailedTests === 'number' && report.numFailedTests > result.failed) {
    result.problems.push(`vitest counted ${report.numFailedTests} failed tests, the list shows ${result.failed}`);
    result.failed = report.numFailedTests;
  }
  if (report.success === false && result.failed === 0) {
    result.failed = 1;
    result.problems.push(`vitest reported the run as unsuccessful (${(report.testResults ?? []).length} test files)`);
  }
  return result;
}

function firstLine(text) {
  return String(text ?? '').split('\n')[0].slice(0, 200) || 'no message';
}

if (process.argv.includes('--list')) {
  console.log(testedProjects().map((p) => p.root).join(','));
  process.exit(0);
}

const projects = testedProjects().filter((p) => expectRoots === undefined || expectRoots.has(p.root));
const byReport = new Map(projects.map((p) => [join(reportsDir, `${p.root}.json`), p]));
const reports = listReports(reportsDir);
const rows = [];
for (const file of reports) {
  const project = byReport.get(file);
  rows.push({ name: project?.name ?? relative(reportsDir, file).replace(/\.json$/, ''), ...summarise(file) });
  byReport.delete(file);
}
if (expectAll) {
  for (const project of byReport.values()) {
    rows.push({
      name: project.name,
      passed: 0,
      failed: 1,
      skipped: 0,
      skippedNames: [],
      failedNames: [],
      problems: ['wrote no test report: its test target did not run to the end (see the nx output above)'],
    });
  }
}
rows.sort((a, b) => a.name.localeCompare(b.name));

const total = { passed: 0, failed: 0, skipped: 0 };
console.log('\nTest summary');
for (const row of rows) {
  console.log(`${row.name}: ${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped`);
  for (const problem of row.problems) console.log(`  ! ${problem}`);
  for (const name of row.failedNames) console.log(`  FAILED: ${name}`);
  for (const name of row.skippedNames) console.log(`  skipped: ${name}`);
  total.passed += row.passed;
  total.failed += row.failed;
  total.skipped += row.skipped;
}
if (rows.length === 0) {
  total.failed = 1;
  console.log('no test reports found under reports/vitest and no project with a test script');
}
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exitCode = total.failed > 0 ? 1 : 0;
