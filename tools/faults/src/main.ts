#!/usr/bin/env node
/**
 * `npm run faults -- <backend> [scenario...] [--short]`: runs the backend's fault scenarios (all
 * that apply, or those named) with a ledger each, prints the table, then one JSON line. Progress
 * goes to stderr, so stdout is the table and the JSON. Exits 1 when a scenario lost an acknowledged
 * publish, delivered something unpublished, broke per-session order or never recovered.
 */
import { BACKENDS } from './backends.js';
import { jsonLine, table } from './report.js';
import { pickScenarios, runScenarios } from './run.js';

const args = process.argv.slice(2);
const short = args.includes('--short');
const [backend, ...asked] = args.filter((a) => a !== '--short');

if (!backend || !Object.hasOwn(BACKENDS, backend)) {
  console.error(`usage: npm run faults -- <backend> [scenario...] [--short]\nbackends: ${Object.keys(BACKENDS).join(', ')}`);
  process.exit(2);
}

try {
  const harness = await BACKENDS[backend]!();
  const names = pickScenarios(harness, asked);
  const rows = await runScenarios(harness, names, { short, log: (line) => console.error(line) });
  console.log(table(rows));
  console.log(jsonLine(backend, rows));
  const bad = rows.filter((r) => r.lost > 0 || r.unexpected > 0 || r.orderViolations > 0 || r.recoveryMs === null);
  process.exit(bad.length > 0 ? 1 : 0);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
