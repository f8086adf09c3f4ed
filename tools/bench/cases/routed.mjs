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
 * time across members) beside `'*'` on one memory bus. Last line: one JSON object.
 *
 *   npm run bench -- routed [--messages 100000] [--rounds 8] [--sessions 100] [--inflight 256]
 *                           [--concurrency 64] [--payload 1024] [--seconds 2] [--spanning]
 */
import { cpus } from 'node:os';
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

function target(bus, pattern = 'bench.msg') {
  return {
    publish: (message) => bus.publish(message),
    subscribe: (handler) => bus.subscribe(pattern, handler, { componentId: 'bench' }),
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

/** Alternating rounds of each target after a warm-up of each: every round's result, per target. */
async function rounds(targets) {
  for (const t of targets) await throughput(t.open, work);
  const results = targets.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    // ABBA: each target runs first in every other round; a full GC before each run, so one target's
    // garbage is never collected on the other's clock.
    const order = targets.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      heapAfterGc();
      results[i].push(await throughput(targets[i].open, work));
    }
  }
  return targets.map((t, i) => ({
    name: t.name,
    open: t.open,
    perSecond: median(results[i].map((x) => x.perSecond)),
    cpuUsPerMessage: median(results[i].map((x) => x.cpuUsPerMessage)),
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
if (values.spanning) {
  const [, , all, spanning] = rows;
  console.log(`spanning '*' over 2 members / '*' on one memory bus: CPU per message ${fmt(spanning.cpuUsPerMessage, 2)} us vs ${fmt(all.cpuUsPerMessage, 2)} us (${fmt((spanning.cpuUsPerMessage / all.cpuUsPerMessage - 1) * 100, 1)}%)`);
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
    addedPerMessage: Number(added.toFixed(3)),
    goalAddedPerMessage: 0.1,
    rateForLatency: rate,
    p50Us: routed.p50Us,
    p99Us: routed.p99Us,
    rawP50Us: memory.p50Us,
    rawP99Us: memory.p99Us,
    ...(values.spanning
      ? { spanningCpuUsPerMessage: Number(rows[3].cpuUsPerMessage.toFixed(2)), allOnMemoryCpuUsPerMessage: Number(rows[2].cpuUsPerMessage.toFixed(2)) }
      : {}),
  }),
);
process.exit(0);
