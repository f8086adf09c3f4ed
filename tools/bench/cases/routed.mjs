#!/usr/bin/env node
/**
 * The cost of routing (issue 14): `@woodwork/bus-adapter`'s RoutedMessageBus over one memory member
 * beside that memory bus used directly, the same work in one run:
 * - memory: `publish` and a component subscription to `bench.msg` on a `@woodwork/bus-memory` bus;
 * - routed: the same calls on a RoutedMessageBus whose one member is such a bus (with a few routes,
 *   so each publish looks its event type up as an app's would).
 * 1 KiB payloads over 100 sessions, publishes in flight, the same concurrency; rounds alternate
 * between the two in ABBA order (after a warm-up of each, a full GC before every run) so the
 * machine's load hits both alike; medians of the rounds. Then p50/p99 (publish call to handler start) at a fixed rate of half the memory bus's
 * median maximum. The goal: the routed bus adds at most 10% per message (CPU us per message).
 * `--spanning` adds a `'*'` subscription spanning two memory members (the gate: one session at a
 * time across members) beside `'*'` on one memory bus. The case also prints each target's backlog (the
 * most messages published and not yet handled at once): the same on both sides, or the comparison
 * measures a queue's garbage collection, not routing. `--instructions` runs each target in its own
 * process under valgrind's callgrind and compares instructions per message instead of CPU time
 * (repeatable on a loaded machine; use fewer messages, e.g. `--messages 20000 --rounds 3`: minutes).
 * Last line: one JSON object.
 *
 *   npm run bench -- routed [--messages 100000] [--rounds 8] [--sessions 100] [--inflight 256]
 *                           [--concurrency 64] [--payload 1024] [--seconds 2] [--spanning] [--instructions]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RoutedMessageBus } from '@woodwork/bus-adapter';
import { createMessageBus } from '@woodwork/bus-memory';
import { envelopeMaker, fmt, heapAfterGc, latencyAtRate, printTable, throughput } from '../lib/stats.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '8' },
    sessions: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '64' },
    payload: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '2' },
    spanning: { type: 'boolean', default: false },
    instructions: { type: 'boolean', default: false },
    // Internal: one target's runs under callgrind (see --instructions), by index.
    'callgrind-child': { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const CONCURRENCY = Number(values.concurrency);
const PAYLOAD = Number(values.payload);
const SECONDS = Number(values.seconds);
const envelope = envelopeMaker({ sessions: SESSIONS, payloadBytes: PAYLOAD });
const work = { messages: MESSAGES, inflight: INFLIGHT, envelope };

const memoryBus = () => createMessageBus({ maxQueueSize: 1_000_000, concurrency: CONCURRENCY });
/** Routes an app might have; `bench.msg` matches none of them and goes to the default member. */
const ROUTES = [
  { eventType: 'tool.*', member: 'local' },
  { eventType: 'agent.output', member: 'local' },
  { eventType: 'stream.*', member: 'local' },
];

/**
 * The backlog of the target opened last: the most messages published and not yet handled at once.
 * On a memory bus a sync handler keeps up with the publishes (at most the window in flight); a
 * backlog beyond that is kept alive in the bus and its garbage collection costs more than the
 * routing (issue 14: a routed subscription opened a turn of the event loop late and let all
 * 100,000 messages queue first). Counting costs both sides the same two increments.
 */
let backlog = { published: 0, handled: 0, most: 0 };

function target(bus, pattern = 'bench.msg') {
  const counts = (backlog = { published: 0, handled: 0, most: 0 });
  return {
    publish: (message) => {
      const ahead = ++counts.published - counts.handled;
      if (ahead > counts.most) counts.most = ahead;
      return bus.publish(message);
    },
    subscribe: (handler) =>
      bus.subscribe(
        pattern,
        (envelope, context) => {
          counts.handled++;
          return handler(envelope, context);
        },
        { componentId: 'bench' },
      ),
    close: () => bus.close(),
  };
}

const openMemory = () => target(memoryBus());
const openRouted = () =>
  target(new RoutedMessageBus({ members: { local: memoryBus() }, routes: ROUTES, defaultMember: 'local', concurrency: CONCURRENCY }));
const openMemoryAll = () => target(memoryBus(), '*');
const openSpanning = () =>
  target(
    new RoutedMessageBus({
      members: { local: memoryBus(), other: memoryBus() },
      routes: [{ eventType: 'tool.*', member: 'other' }],
      defaultMember: 'local',
      concurrency: CONCURRENCY,
    }),
    '*',
  );

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** The targets' indexes in the order of their runs: a warm-up of each, then ABBA rounds. */
function runOrder(count) {
  const warmUp = Array.from({ length: count }, (_, i) => i);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    // ABBA: each target runs first in every other round.
    const order = Array.from({ length: count }, (_, i) => i);
    if (r % 2 === 1) order.reverse();
    rounds.push(order);
  }
  return { warmUp, rounds };
}

/** Alternating rounds of each target after a warm-up of each: every round's result, per target. */
async function rounds(targets) {
  const order = runOrder(targets.length);
  for (const i of order.warmUp) await throughput(targets[i].open, work);
  const results = targets.map(() => []);
  for (const round of order.rounds) {
    // A full GC before each run, so one target's garbage is never collected on the other's clock.
    for (const i of round) {
      heapAfterGc();
      const result = await throughput(targets[i].open, work);
      results[i].push({ ...result, backlog: backlog.most });
    }
  }
  return targets.map((t, i) => ({
    name: t.name,
    open: t.open,
    perSecond: median(results[i].map((x) => x.perSecond)),
    cpuUsPerMessage: median(results[i].map((x) => x.cpuUsPerMessage)),
    backlog: Math.max(...results[i].map((x) => x.backlog)),
    perRound: results[i],
  }));
}

const targets = [
  { name: '@woodwork/bus-memory', open: openMemory },
  { name: 'routed, 1 memory member', open: openRouted },
];
if (values.spanning) {
  targets.push({ name: "bus-memory, '*'", open: openMemoryAll }, { name: "routed, 2 members, '*' (gate)", open: openSpanning });
}
if (values['callgrind-child'] !== undefined) {
  // Under callgrind: one target's runs only (each between two process.cpuUsage() calls), nothing else.
  const t = targets[Number(values['callgrind-child'])];
  await throughput(t.open, work);
  for (let r = 0; r < ROUNDS; r++) {
    heapAfterGc();
    await throughput(t.open, work);
  }
  process.exit(0);
}
if (values.instructions) {
  await countInstructions();
  process.exit(0);
}

/** One target's runs in a node process under callgrind: instructions per message of each run. */
async function instructionsOf(index) {
  const dir = mkdtempSync(join(tmpdir(), 'routed-callgrind-'));
  try {
    const args = ['--tool=callgrind', '--dump-before=uv_getrusage', `--callgrind-out-file=${join(dir, 'out')}`, process.execPath, fileURLToPath(import.meta.url), '--callgrind-child', String(index)];
    for (const key of ['messages', 'rounds', 'sessions', 'inflight', 'concurrency', 'payload']) args.push(`--${key}`, String(values[key]));
    if (values.spanning) args.push('--spanning');
    const child = spawn('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr = (stderr + chunk).slice(-4000)));
    const status = await new Promise((resolve) => {
      child.on('error', (error) => resolve(`${error.message}; is valgrind installed (apt-get install valgrind)?`));
      child.on('close', (code) => resolve(code));
    });
    if (status !== 0) throw new Error(`the callgrind run of ${targets[index].name} failed (${status}); its last output:\n${stderr.slice(-2000)}`);
    const parts = readdirSync(dir)
      .filter((f) => /^out\.\d+$/.test(f))
      .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
      .map((f) => Number(/^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, f), 'utf8'))?.[1]));
    const runs = 1 + ROUNDS;
    if (parts.length !== 2 * runs || parts.some((n) => !Number.isFinite(n))) {
      throw new Error(`expected ${2 * runs} callgrind parts (two per run), got ${parts.length}: did something else call process.cpuUsage()?`);
    }
    // Parts 1, 3, 5, ... are the runs; the warm-up (part 1) is left out.
    return Array.from({ length: ROUNDS }, (_, r) => parts[2 * (r + 1) + 1] / MESSAGES);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `--instructions`: each target in a node process of its own under valgrind's callgrind (all at
 * once: instructions do not depend on the machine's load as CPU time does), a warm-up then
 * `--rounds` runs. Callgrind dumps its counts each time `process.cpuUsage()` asks libuv for the CPU
 * time (`uv_getrusage`): the throughput helper does so right before a run's first publish and right
 * after its last handler call, so every second part of the dump is one run and nothing else (no
 * startup, open, close or full GC). A process of its own, unlike the rounds above, because in one
 * process the targets share V8's type feedback: the memory bus's code, seen both called directly
 * and through the routed bus, is compiled for both, and which target pays for that varied (+12%
 * instructions for routed in one shared process, +0.2% in separate ones: 2026-12-04).
 */
async function countInstructions() {
  const started = Date.now();
  const perRun = await Promise.all(targets.map((_, i) => instructionsOf(i)));
  const medians = perRun.map(median);
  const pct = (x) => `${x >= 0 ? '+' : ''}${fmt(x * 100, 1)}%`;
  console.log(
    `routed bus benchmark, instructions (valgrind --tool=callgrind, each target in its own process): ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions per run, ${INFLIGHT} publishes in flight, concurrency ${CONCURRENCY}, ${ROUNDS} runs after a warm-up (${fmt((Date.now() - started) / 1000)} s)`,
  );
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
  console.log('');
  targets.forEach((t, i) => console.log(`${t.name.padEnd(36)} instructions/msg: median ${fmt(medians[i])}; runs ${perRun[i].map((v) => fmt(v)).join(', ')}`));
  const added = medians[1] / medians[0] - 1;
  console.log(`routed / memory: ${pct(added)} instructions per message (medians; goal <= 10%)`);
  const spanning = values.spanning ? medians[3] / medians[2] - 1 : undefined;
  if (spanning !== undefined) console.log(`spanning '*' over 2 members / '*' on one memory bus: ${pct(spanning)} instructions per message (medians)`);
  console.log(
    JSON.stringify({
      backend: 'routed',
      members: 1,
      measure: 'instructions',
      messages: MESSAGES,
      rounds: ROUNDS,
      payloadBytes: PAYLOAD,
      sessions: SESSIONS,
      inflight: INFLIGHT,
      instructionsPerMessage: Math.round(medians[1]),
      rawInstructionsPerMessage: Math.round(medians[0]),
      addedPerMessage: Number(added.toFixed(3)),
      goalAddedPerMessage: 0.1,
      ...(spanning !== undefined
        ? { spanningInstructionsPerMessage: Math.round(medians[3]), allOnMemoryInstructionsPerMessage: Math.round(medians[2]), spanningAddedPerMessage: Number(spanning.toFixed(3)) }
        : {}),
    }),
  );
}

const rows = await rounds(targets);
const rate = Math.floor(rows[0].perSecond / 2);
for (const row of rows) Object.assign(row, await latencyAtRate(row.open, { ratePerSecond: rate, seconds: SECONDS, envelope }), { rate });
const [memory, routed] = rows;
// Per round: routed CPU per message over memory's in the same round, then the median of those.
const addedPerRound = routed.perRound.map((r, i) => r.cpuUsPerMessage / memory.perRound[i].cpuUsPerMessage - 1);
const added = median(addedPerRound);

console.log(
  `routed bus benchmark: ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, ${INFLIGHT} publishes in flight, concurrency ${CONCURRENCY}, median of ${ROUNDS} alternating rounds`,
);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('');
printTable(rows);
console.log('');
console.log(
  `routed / memory: throughput ${fmt(routed.perSecond / memory.perSecond, 3)}, CPU per message ${fmt(routed.cpuUsPerMessage, 2)} us vs ${fmt(memory.cpuUsPerMessage, 2)} us: ` +
    `${added >= 0 ? '+' : ''}${fmt(added * 100, 1)}% per message (median of the rounds' ratios: ${addedPerRound.map((a) => `${fmt(a * 100, 1)}%`).join(', ')}; goal <= 10%)`,
);
console.log(`most messages published ahead of the handler (max over the rounds): ${rows.map((r) => `${r.name} ${fmt(r.backlog)}`).join(', ')}`);
if (values.spanning) {
  const [, , all, spanning] = rows;
  const spanningPerRound = spanning.perRound.map((r, i) => r.cpuUsPerMessage / all.perRound[i].cpuUsPerMessage - 1);
  const spanningAdded = median(spanningPerRound);
  console.log(
    `spanning '*' over 2 members / '*' on one memory bus: CPU per message ${fmt(spanning.cpuUsPerMessage, 2)} us vs ${fmt(all.cpuUsPerMessage, 2)} us: ` +
      `${spanningAdded >= 0 ? '+' : ''}${fmt(spanningAdded * 100, 1)}% per message (median of the rounds' ratios: ${spanningPerRound.map((a) => `${fmt(a * 100, 1)}%`).join(', ')})`,
  );
}
console.log(
  JSON.stringify({
    backend: 'routed',
    members: 1,
    messages: MESSAGES,
    rounds: ROUNDS,
    payloadBytes: PAYLOAD,
    sessions: SESSIONS,
    inflight: INFLIGHT,
    throughput: Math.round(routed.perSecond),
    rawThroughput: Math.round(memory.perSecond),
    ratio: Number((routed.perSecond / memory.perSecond).toFixed(3)),
    cpuUsPerMessage: Number(routed.cpuUsPerMessage.toFixed(2)),
    rawCpuUsPerMessage: Number(memory.cpuUsPerMessage.toFixed(2)),
    backlog: routed.backlog,
    rawBacklog: memory.backlog,
    addedPerMessage: Number(added.toFixed(3)),
    goalAddedPerMessage: 0.1,
    rateForLatency: rate,
    p50Us: routed.p50Us,
    p99Us: routed.p99Us,
    rawP50Us: memory.p50Us,
    rawP99Us: memory.p99Us,
    ...(values.spanning
      ? {
          spanningCpuUsPerMessage: Number(rows[3].cpuUsPerMessage.toFixed(2)),
          allOnMemoryCpuUsPerMessage: Number(rows[2].cpuUsPerMessage.toFixed(2)),
          spanningAddedPerMessage: Number(median(rows[3].perRound.map((r, i) => r.cpuUsPerMessage / rows[2].perRound[i].cpuUsPerMessage - 1)).toFixed(3)),
          spanningBacklog: rows[3].backlog,
        }
      : {}),
  }),
);
process.exit(0);
