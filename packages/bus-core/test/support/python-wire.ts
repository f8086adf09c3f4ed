/**
 * Runs tools/wire-vectors/make_vectors.py (the design's own Python envelope) from the tests, and
 * loads the checked-in vectors. python3 must be on PATH: a missing interpreter fails the test with
 * a message, it never skips it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
export const MAKE_VECTORS = join(repoRoot, 'tools', 'wire-vectors', 'make_vectors.py');
const VECTORS_DIR = join(import.meta.dirname, '..', 'vectors');

export type PythonResult = { envelope: Record<string, unknown> } | { error: string; message: string };

/** Runs make_vectors.py in `mode` with `input` as JSON on stdin; returns its parsed stdout. */
export function runPython(mode: 'vectors' | 'roundtrip' | 'dead-letters', input?: unknown): unknown {
  const python = process.env['PYTHON'] ?? 'python3';
  const run = spawnSync(python, [MAKE_VECTORS, mode], {
    input: input === undefined ? '' : JSON.stringify(input),
    encoding: 'utf8',
    timeout: 45_000, // a hang guard; Python starting on a busy machine takes seconds
  });
  if (run.error) {
    throw new Error(`could not run ${python} ${MAKE_VECTORS} (install Python 3 or set PYTHON): ${run.error.message}`);
  }
  if (run.status !== 0) throw new Error(`make_vectors.py ${mode} exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(VECTORS_DIR, name), 'utf8')) as T;
}

/** Seconds since the epoch, as the design's `time.time()`. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}
