#!/usr/bin/env node
/**
 * What a table whose keys come and go with every message costs the young collections, after one
 * full collection (dictionary-table.ts says why that matters): a window of `--window` ids set and
 * deleted in turn with 1 KB values (held deliveries by id), and 100 session keys set and deleted in
 * turn (lanes by session), each through a `Map`, a `Map` of boxes emptied on delete, and core's
 * `DictionaryTable`, against no table at all. Each variant runs in a child process under
 * `node --trace-gc-nvp --expose-gc`; it prints the KB promoted per young collection over `--seconds`.
 * Then the time of a set, a get and a delete on a `Map` and on a `DictionaryTable` (a window of 30
 * of 1,000 keys, 2,000,000 steps, median of 5 rounds). Build core first.
 *
 *   node bench/table-churn.mjs [--seconds 3] [--window 30]
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, window: { type: 'string', default: '30' }, child: { type: 'string' } },
});
const VARIANTS = ['none', 'map by id', 'map of boxes by id', 'DictionaryTable by id', 'map by session', 'DictionaryTable by session'];

async function child(variant) {
  const { DictionaryTable } = await import('../dist/index.js');
  const table = variant.startsWith('map') ? new Map() : variant.startsWith('DictionaryTable') ? new DictionaryTable() : undefined;
  const window = Number(values.window);
  const live = [];
  let i = 0;
  const step = () => {
    const value = { text: 'x'.repeat(1000) + i, n: i };
    if (variant.endsWith('by session')) {
      const key = `s${i % 100}`;
      if (table.has(key)) table.delete(key);
      else table.set(key, value);
    } else if (table) {
      const key = `${i % 8}/${1733000000000 + i}-0`;
      table.set(key, variant === 'map of boxes by id' ? { held: value } : value);
      live.push(key);
      if (live.length > window) {
        const gone = live.shift();
        if (variant === 'map of boxes by id') table.get(gone).held = undefined;
        table.delete(gone);
      }
    }
    i++;
    // The rest of a message's garbage.
    for (let j = 0; j < 10; j++) JSON.parse(`{"a":"${'y'.repeat(1000)}"}`);
  };
  for (let r = 0; r < 20_000; r++) step();
  globalThis.gc();
  process.stderr.write(`WINDOW ${performance.now()}\n`);
  const end = Date.now() + Number(values.seconds) * 1000;
  while (Date.now() < end) {
    for (let r = 0; r < 100; r++) step();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

if (values.child !== undefined) {
  await child(values.child);
} else {
  console.log(`young collections' promotion with per-message table churn, ${values.seconds} s after one full collection, node ${process.version}`);
  console.log(`${'table'.padEnd(30)}${'young GCs'.padStart(12)}${'KB promoted each'.padStart(20)}`);
  for (const variant of VARIANTS) {
    const run = spawnSync(process.execPath, ['--trace-gc-nvp', '--expose-gc', fileURLToPath(import.meta.url), '--child', variant, '--seconds', values.seconds, '--window', values.window], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const from = Number(/WINDOW (\S+)/.exec(run.stderr)?.[1]);
    if (run.status !== 0 || Number.isNaN(from)) throw new Error(`${variant}: the child failed: ${run.stderr.slice(-500)}`);
    const promoted = [];
    for (const line of run.stdout.split('\n')) {
      const at = /\]\s+(\d+) ms: /.exec(line);
      if (at && Number(at[1]) >= from && / gc=s /.test(line)) promoted.push(Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0));
    }
    const kb = promoted.reduce((a, b) => a + b, 0) / promoted.length / 1024;
    console.log(`${variant.padEnd(30)}${String(promoted.length).padStart(12)}${kb.toFixed(0).padStart(20)}`);
  }
  const { DictionaryTable } = await import('../dist/index.js');
  const keys = Array.from({ length: 1000 }, (_, i) => `${i % 8}/${1733000000000 + i}-0`);
  const STEPS = 2_000_000;
  const nsPerStep = (table) => {
    const started = performance.now();
    let sum = 0;
    for (let i = 0; i < STEPS; i++) {
      const key = keys[i % 1000];
      table.set(key, i);
      sum += table.get(key);
      if (i >= 30) table.delete(keys[(i - 30) % 1000]);
    }
    if (sum < 0) console.log(sum);
    return ((performance.now() - started) * 1e6) / STEPS;
  };
  const rounds = { Map: [], DictionaryTable: [] };
  for (let r = 0; r < 5; r++) {
    rounds.Map.push(nsPerStep(new Map()));
    rounds.DictionaryTable.push(nsPerStep(new DictionaryTable()));
  }
  const median = (list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  console.log(`set + get + delete: Map ${median(rounds.Map).toFixed(0)} ns, DictionaryTable ${median(rounds.DictionaryTable).toFixed(0)} ns`);
}
