#!/usr/bin/env node
/**
 * `npm run stress [-- runs]`: the whole suite on a busy machine. Starts a CPU burner on every core,
 * runs `npm test -- --skip-nx-cache` `runs` times (default 5), one after the other, stops the
 * burner, and prints each run's "N passed, N failed, N skipped" line, its exit status and the tests
 * that failed. Exits non-zero if any run failed.
 *
 * A test whose verdict depends on a tight wall-clock margin fails here first: that is the point.
 * The burner is one busy worker thread per core inside this process, so it cannot outlive it (not
 * even a SIGKILL of this process leaves one behind); SIGINT, SIGTERM and errors stop it too, and
 * stop the running suite (its own process group). Each run's whole output is kept in
 * reports/stress/run-<n>.log.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

const root = fileURLToPath(new URL('..', import.meta.url));
const usage = 'usage: node tools/stress.mjs [runs]   (runs: a whole number >= 1, default 5)';

const arg = process.argv[2];
if (arg === '--help' || arg === '-h') {
  console.log(usage);
  process.exit(0);
}
const runs = arg === undefined ? 5 : Number(arg);
if (!Number.isInteger(runs) || runs < 1 || process.argv.length > 3) {
  console.error(usage);
  process.exit(2);
}

const logDir = join(root, 'reports', 'stress');
mkdirSync(logDir, { recursive: true });

let burners = [];
/** The suite running now, while it runs. */
let current;
let stopping = false;

function startBurner() {
  const cores = availableParallelism();
  burners = Array.from({ length: cores }, () => new Worker('for (;;) {}', { eval: true }));
  for (const worker of burners) worker.unref();
  console.log(`stress: burning ${cores} core(s), ${runs} run(s) of npm test -- --skip-nx-cache`);
}

async function stopBurner() {
  const workers = burners;
  burners = [];
  await Promise.allSettled(workers.map((worker) => worker.terminate()));
}

/** Stops everything we started and exits with `code`. */
async function abort(why, code) {
  if (stopping) return;
  stopping = true;
  console.error(`\nstress: ${why}; stopping the burner${current ? ' and the running suite' : ''}`);
  if (current?.pid !== undefined) {
    try {
      process.kill(-current.pid, 'SIGTERM'); // its process group: npm, nx and the vitest workers
    } catch {
      // already gone
    }
  }
  await stopBurner();
  process.exit(code);
}

process.on('SIGINT', () => void abort('interrupted (SIGINT)', 130));
process.on('SIGTERM', () => void abort('terminated (SIGTERM)', 143));
process.on('uncaughtException', (error) => void abort(`error: ${error?.stack ?? error}`, 1));
process.on('unhandledRejection', (error) => void abort(`error: ${error?.stack ?? error}`, 1));

/** Runs the suite once; resolves with its exit status and the summary line it printed last. */
function runSuite(n) {
  const logFile = join(logDir, `run-${n}.log`);
  const log = createWriteStream(logFile);
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['test', '--', '--skip-nx-cache'], {
      cwd: root,
      env: process.env,
      detached: true, // its own process group, so an abort stops all of it
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    current = child;
    let tail = '';
    const keep = (chunk) => {
      log.write(chunk);
      tail = (tail + chunk.toString()).slice(-20_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      current = undefined;
      log.end();
      const lines = tail.split('\n').map((line) => line.trim());
      const summary = lines.filter((line) => /^\d+ passed, \d+ failed, \d+ skipped$/.test(line)).at(-1);
      resolve({ code, signal, summary, logFile });
    });
  });
}

/** The failed tests the run's vitest reports list, as "file > test: first line of the error". */
function failedTests() {
  const out = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.json')) {
        try {
          const report = JSON.parse(readFileSync(path, 'utf8'));
          for (const file of report.testResults ?? []) {
            for (const test of file.assertionResults ?? []) {
              if (test.status !== 'failed') continue;
              const why = String(test.failureMessages?.[0] ?? '').split('\n')[0].slice(0, 200);
              out.push(`${relative(root, file.name)} > ${test.fullName}: ${why}`);
            }
            if (file.status === 'failed' && !(file.assertionResults ?? []).some((t) => t.status === 'failed')) {
              out.push(`${relative(root, file.name)}: ${String(file.message ?? '').split('\n')[0].slice(0, 200)}`);
            }
          }
        } catch (error) {
          out.push(`${relative(root, path)}: unreadable report (${error.message})`);
        }
      }
    }
  };
  walk(join(root, 'reports', 'vitest'));
  return out;
}

startBurner();
let failedRuns = 0;
try {
  for (let n = 1; n <= runs; n++) {
    const started = Date.now();
    const { code, signal, summary, logFile } = await runSuite(n);
    const seconds = Math.round((Date.now() - started) / 1000);
    const ok = code === 0 && summary !== undefined && /, 0 failed,/.test(summary);
    if (!ok) failedRuns++;
    const status = signal ? `signal ${signal}` : `exit ${code}`;
    console.log(`run ${n}/${runs}: ${summary ?? 'no summary line (see the log)'} | ${status} | ${seconds} s | ${relative(root, logFile)}`);
    if (!ok) for (const failure of failedTests()) console.log(`  failed: ${failure}`);
  }
} finally {
  await stopBurner();
}
console.log(`stress: ${runs - failedRuns} of ${runs} run(s) green${failedRuns > 0 ? `, ${failedRuns} failed` : ''}`);
process.exit(failedRuns > 0 ? 1 : 0);
