#!/usr/bin/env node
/**
 * `npm run bench -- <backend> [options]`: runs one case of cases/<backend>.mjs (default `memory`).
 * Each case measures the backend beside the bare driver doing the same work, prints a table and,
 * where the backend's issue asks for it, one JSON object as its last line.
 * Build first (the root `npm run bench` script does).
 */
import { readdirSync } from 'node:fs';

const cases = readdirSync(new URL('./cases/', import.meta.url)).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -4)).sort();
const [first, ...rest] = process.argv.slice(2);
const name = first === undefined || first.startsWith('-') ? 'memory' : first;
if (!cases.includes(name)) {
  console.error(`unknown benchmark "${name}"; cases: ${cases.join(', ')}`);
  process.exit(2);
}
process.argv = [process.argv[0], process.argv[1], ...(first === undefined || first.startsWith('-') ? [first, ...rest].filter((a) => a !== undefined) : rest)];
await import(`./cases/${name}.mjs`);
