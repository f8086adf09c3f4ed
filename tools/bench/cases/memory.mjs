#!/usr/bin/env node
/**
 * bus-memory beside an EventEmitter doing the same work in one run (issue 11):
 * - baseline: `publish` JSON-encodes the envelope, hands it off on a microtask, the listener decodes
 *   it and calls the handler (a hand-off that gives the handler objects of its own, as bus-memory
 *   does: it encodes at publish and gives each attempt its own copy);
 * - bus: `publish` to one group (componentId) with the same concurrency.
 * Both: 1 KiB payloads over 100 sessions, a window of publishes in flight, after a warm-up; msg/s and
 * CPU us per message at saturation, then p50/p99 (publish call to handler start) at a fixed rate of
 * half the baseline's maximum, each publish in its own turn of the producer's loop (the hop), and
 * again with every due publish in one turn (the old producer: after a stall it publishes hundreds
 * at once, and its p99 is mostly that burst; lib/stats.mjs `publishesPerTurn`). Then the scale cases: 100,000 session-bound subscriptions with one
 * message each (time, CPU, heap), fan-out to 1, 100 and 1,000 groups (us per publish until
 * delivered, wall and CPU, the median of three rounds of 200,000 deliveries each),
 * 10,000 `deleteSessionQueue` calls, and the heap an idle session keeps (its bound group left by its
 * subscription with everything handled). Last line: one JSON object.
 *
 *   npm run bench -- memory [--messages 200000] [--sessions 100] [--inflight 256] [--payload 1024]
 *                           [--seconds 2] [--skip-scale]
 */
import { EventEmitter } from 'node:events';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createMessageBus } from '@woodwork/bus-memory';
import { envelopeMaker, fmt, heapAfterGc, latencyAtRate, printTable, throughput } from '../lib/stats.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    sessions: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '64' },
    payload: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '2' },
    'skip-scale': { type: 'boolean', default: false },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const CONCURRENCY = Number(values.concurrency);
const PAYLOAD = Number(values.payload);
const SECONDS = Number(values.seconds);
const envelope = envelopeMaker({ sessions: SESSIONS, payloadBytes: PAYLOAD });
const work = { messages: MESSAGES, inflight: INFLIGHT, envelope };

/** The same hand-off with no bus: encode at publish, decode in the listener, on a microtask. */
function openBaseline() {
  const emitter = new EventEmitter();
  return {
    async publish(message) {
      const json = JSON.stringify(message);
      queueMicrotask(() => emitter.emit('message', json));
      return { messageId: message.messageId, duplicate: false };
    },
    async subscribe(handler) {
      emitter.on('message', (json) => void handler(JSON.parse(json)));
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

function openBus() {
  const bus = createMessageBus({ maxQueueSize: 1_000_000, concurrency: CONCURRENCY });
  return {
    publish: (message) => bus.publish(message),
    subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench' }),
    close: () => bus.close(),
  };
}

/** Resolves once `count()` reaches `n` (polled on timers: the handlers run in between). */
async function until(count, n) {
  while (count() < n) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** 100,000 sessions, each with its own bound subscription and one message to it: time and heap growth. */
async function sessionBound(count) {
  const before = heapAfterGc();
  const bus = createMessageBus({ maxQueueSize: 1_000_000 });
  let handled = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let s = 0; s < count; s++) await bus.subscribe('bench.msg', () => void handled++, { componentId: 'agent', sessionId: `b${s}` });
  for (let s = 0; s < count; s++) await bus.publish(envelope(s, 0, `b${s}`));
  await until(() => handled, count);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const heapMb = (heapAfterGc() - before) / (1024 * 1024);
  await bus.close();
  // CPU (user + system, GC threads included) beside the wall time: on a shared machine it moves less.
  return { ms, cpuMs: (used.user + used.system) / 1000, heapMb };
}

/** One event type, `groups` groups: microseconds per publish until every group handled it. */
async function fanout(groups) {
  const bus = createMessageBus({ maxQueueSize: 1_000_000 });
  let handled = 0;
  for (let g = 0; g < groups; g++) await bus.subscribe('bench.msg', () => void handled++, { componentId: `c${g}` });
  const publishes = Math.max(200, Math.floor(200_000 / groups));
  const run = async (n) => {
    const target = handled + n * groups;
    const cpu = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < n; i++) await bus.publish(envelope(i, 0));
    await until(() => handled, target);
    const used = process.cpuUsage(cpu);
    return { us: ((performance.now() - started) * 1000) / n, cpuUs: (used.user + used.system) / n };
  };
  await run(Math.ceil(publishes / 10)); // warm-up
  // Three timed rounds, each after a full collection (as before every timed run of the routed case:
  // the figure is this case's own work, not garbage the cases before it left); the median of each
  // figure is kept, so one round that lost its core to another process does not make the ratio.
  const rounds = [];
  for (let round = 0; round < FANOUT_ROUNDS; round++) {
    heapAfterGc();
    rounds.push(await run(publishes));
  }
  await bus.close();
  return { us: median(rounds.map((r) => r.us)), cpuUs: median(rounds.map((r) => r.cpuUs)) };
}

const FANOUT_ROUNDS = 3;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** `count` sessions with a bound subscription and a handled message each: `deleteSessionQueue` for each. */
async function deleteSessions(count) {
  const bus = createMessageBus({ maxQueueSize: 1_000_000 });
  let handled = 0;
  await bus.subscribe('bench.msg', () => void handled++, { componentId: 'worker' });
  for (let s = 0; s < count; s++) await bus.subscribe('bench.other', () => undefined, { componentId: 'agent', sessionId: `d${s}` });
  for (let s = 0; s < count; s++) await bus.publish(envelope(s, 0, `d${s}`));
  await until(() => handled, count);
  const started = performance.now();
  for (let s = 0; s < count; s++) await bus.deleteSessionQueue(`d${s}`);
  const ms = performance.now() - started;
  await bus.close();
  return ms;
}

/** Heap per idle session: its bound group outlives its subscription (durable), everything handled. */
async function idleSessionBytes(count) {
  const bus = createMessageBus({ maxQueueSize: 1_000_000 });
  let handled = 0;
  await bus.subscribe('bench.other', () => undefined, { componentId: 'warm' });
  const before = heapAfterGc();
  const ids = [];
  for (let s = 0; s < count; s++) ids.push(await bus.subscribe('bench.msg', () => void handled++, { componentId: 'agent', sessionId: `i${s}` }));
  for (let s = 0; s < count; s++) await bus.publish(envelope(s, 0, `i${s}`));
  await until(() => handled, count);
  for (const id of ids) await bus.unsubscribe(id);
  ids.length = 0;
  // Idle means a while later: the lanes' shared handler-timeout ticker stops at its next tick
  // (handlerTimeoutMs / 10 = 3 s by default) and is collected with the engines.
  await new Promise((resolve) => setTimeout(resolve, 3_500));
  const bytes = (heapAfterGc() - before) / count;
  const health = await bus.healthCheck();
  await bus.close();
  return { bytes, groupsKept: health.groups.length - 1 };
}

const rows = [];
for (const [name, open] of [['EventEmitter + JSON encode/decode', openBaseline], ['@woodwork/bus-memory', openBus]]) {
  await throughput(open, work); // warm-up
  rows.push({ name, open, ...(await throughput(open, work)) });
}
const rate = Math.floor(rows[0].perSecond / 2);
for (const row of rows) Object.assign(row, await latencyAtRate(row.open, { ratePerSecond: rate, seconds: SECONDS, envelope, publishesPerTurn: 1 }), { rate });
for (const row of rows) row.burst = await latencyAtRate(row.open, { ratePerSecond: rate, seconds: SECONDS, envelope });
const [base, bus] = rows;

const scale = values['skip-scale']
  ? undefined
  : {
      sessionBound: await sessionBound(100_000),
      fanout1: await fanout(1),
      fanout100: await fanout(100),
      fanout1000: await fanout(1000),
      deleteSession10kMs: await deleteSessions(10_000),
      idle: await idleSessionBytes(10_000),
    };

console.log(`memory bus benchmark: ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, ${INFLIGHT} publishes in flight, concurrency ${CONCURRENCY}`);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('');
printTable(rows);
console.log('');
console.log(`bus / baseline throughput: ${fmt(bus.perSecond / base.perSecond, 2)}; CPU per message ${fmt(bus.cpuUsPerMessage, 1)} us vs ${fmt(base.cpuUsPerMessage, 1)} us`);
console.log(`latency above: one publish per turn; the producer was behind its schedule by ${fmt(bus.behindP99Us)} us (bus) / ${fmt(base.behindP99Us)} us (baseline) at p99`);
console.log(
  `every due publish in one turn (bursts after a stall): p50 / p99 ${fmt(bus.burst.p50Us)} / ${fmt(bus.burst.p99Us)} us (bus), ${fmt(base.burst.p50Us)} / ${fmt(base.burst.p99Us)} us (baseline)`,
);
if (scale) {
  console.log(
    `100,000 session-bound subscriptions x 1 message: ${fmt(scale.sessionBound.ms)} ms (CPU ${fmt(scale.sessionBound.cpuMs)} ms), heap +${fmt(scale.sessionBound.heapMb, 1)} MB`,
  );
  const { fanout1: f1, fanout100: f100, fanout1000: f1000 } = scale;
  console.log(`fan-out per publish: 1 group ${fmt(f1.us, 1)} us, 100 groups ${fmt(f100.us, 1)} us, 1,000 groups ${fmt(f1000.us, 1)} us (1,000 / 100: ${fmt(f1000.us / f100.us, 1)}x)`);
  console.log(`  CPU per publish: ${fmt(f1.cpuUs, 1)} / ${fmt(f100.cpuUs, 1)} / ${fmt(f1000.cpuUs, 1)} us (1,000 / 100: ${fmt(f1000.cpuUs / f100.cpuUs, 1)}x)`);
  console.log(`10,000 deleteSessionQueue calls: ${fmt(scale.deleteSession10kMs)} ms`);
  console.log(`idle session (bound group kept after unsubscribe, all handled): ${fmt(scale.idle.bytes)} B each (${fmt(scale.idle.groupsKept)} groups kept)`);
}
console.log(
  JSON.stringify({
    backend: 'memory',
    messages: MESSAGES,
    payloadBytes: PAYLOAD,
    sessions: SESSIONS,
    inflight: INFLIGHT,
    throughput: Math.round(bus.perSecond),
    rawThroughput: Math.round(base.perSecond),
    ratio: Number((bus.perSecond / base.perSecond).toFixed(3)),
    cpuUsPerMessage: Number(bus.cpuUsPerMessage.toFixed(1)),
    rawCpuUsPerMessage: Number(base.cpuUsPerMessage.toFixed(1)),
    rateForLatency: rate,
    p50Us: bus.p50Us,
    p99Us: bus.p99Us,
    rawP50Us: base.p50Us,
    rawP99Us: base.p99Us,
    behindP99Us: bus.behindP99Us,
    rawBehindP99Us: base.behindP99Us,
    burstP99Us: bus.burst.p99Us,
    rawBurstP99Us: base.burst.p99Us,
    sessionBound100kMs: scale ? Math.round(scale.sessionBound.ms) : null,
    sessionBound100kCpuMs: scale ? Math.round(scale.sessionBound.cpuMs) : null,
    sessionBound100kHeapMb: scale ? Number(scale.sessionBound.heapMb.toFixed(1)) : null,
    fanout1Us: scale ? Number(scale.fanout1.us.toFixed(1)) : null,
    fanout100Us: scale ? Number(scale.fanout100.us.toFixed(1)) : null,
    fanout1000Us: scale ? Number(scale.fanout1000.us.toFixed(1)) : null,
    fanout1CpuUs: scale ? Number(scale.fanout1.cpuUs.toFixed(1)) : null,
    fanout100CpuUs: scale ? Number(scale.fanout100.cpuUs.toFixed(1)) : null,
    fanout1000CpuUs: scale ? Number(scale.fanout1000.cpuUs.toFixed(1)) : null,
    deleteSession10kMs: scale ? Math.round(scale.deleteSession10kMs) : null,
    idleSessionBytes: scale ? Math.round(scale.idle.bytes) : null,
  }),
);
process.exit(0);
