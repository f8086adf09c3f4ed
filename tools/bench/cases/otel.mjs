#!/usr/bin/env node
/**
 * What `instrumentBus` costs with no OpenTelemetry SDK registered (issue 15: at most 5% per
 * message): a memory bus beside the same memory bus wrapped by `@woodwork/bus-otel`, same work, in
 * one run. Only `@opentelemetry/api` is loaded, so every tracer and meter is the API's no-op, as in
 * an app that installed the package and never set up an SDK.
 * Both: 1 KiB payloads over 100 sessions, a window of publishes in flight, one durable group; the
 * two targets alternate for `--rounds` rounds after a warm-up of each (the machine's load drifts),
 * and each reports its median msg/s and CPU us per message; then p50/p99 (publish call to handler
 * start) at a fixed rate of half the plain bus's median. Then the wrapper's own work alone, with
 * the noise of the bus taken away: publish and one handler call through a bus that does nothing,
 * wrapped and not, in nanoseconds per message. Last line: one JSON object.
 *
 *   npm run bench -- otel [--messages 100000] [--rounds 9] [--sessions 100] [--inflight 256]
 *                         [--payload 1024] [--seconds 2]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createMessageBus } from '@woodwork/bus-memory';

// The root `npm run bench` builds the backends; this case also needs @woodwork/bus-otel built.
const otelDist = new URL('../../../packages/bus-otel/dist/index.js', import.meta.url);
if (!existsSync(otelDist)) {
  const built = spawnSync('npx', ['nx', 'run', '@woodwork/bus-otel:build', '--outputStyle=static'], {
    cwd: new URL('../../../', import.meta.url),
    stdio: ['ignore', 2, 2],
    env: { ...process.env, NX_DAEMON: 'false', NX_TUI: 'false', NX_NO_CLOUD: 'true' },
  });
  if (built.status !== 0) {
    console.error('could not build @woodwork/bus-otel (npx nx run @woodwork/bus-otel:build)');
    process.exit(1);
  }
}
const { instrumentBus } = await import('@woodwork/bus-otel');
import { envelopeMaker, fmt, latencyAtRate, printTable, throughput } from '../lib/stats.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '9' },
    sessions: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '256' },
    concurrency: { type: 'string', default: '64' },
    payload: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '2' },
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

function opener(wrap) {
  return () => {
    const inner = createMessageBus({ maxQueueSize: 1_000_000, concurrency: CONCURRENCY });
    const bus = wrap ? instrumentBus(inner) : inner;
    return {
      publish: (message) => bus.publish(message),
      subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench' }),
      close: () => bus.close(),
    };
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const targets = [
  { name: '@woodwork/bus-memory', open: opener(false), runs: [] },
  { name: 'instrumentBus(memory), no SDK', open: opener(true), runs: [] },
];
for (const t of targets) await throughput(t.open, work); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  // Alternate which goes first, so neither always runs on the warmer (or more loaded) side.
  const order = round % 2 === 0 ? targets : [...targets].reverse();
  for (const t of order) t.runs.push(await throughput(t.open, work));
}
const rows = targets.map((t) => ({
  name: t.name,
  open: t.open,
  perSecond: median(t.runs.map((r) => r.perSecond)),
  cpuUsPerMessage: median(t.runs.map((r) => r.cpuUsPerMessage)),
  cpuRuns: t.runs.map((r) => r.cpuUsPerMessage),
  rateRuns: t.runs.map((r) => r.perSecond),
}));
const rate = Math.floor(rows[0].perSecond / 2);
for (const row of rows) Object.assign(row, await latencyAtRate(row.open, { ratePerSecond: rate, seconds: SECONDS, envelope }), { rate });
const [plain, wrapped] = rows;

/**
 * The wrapper's own work per message: `publish` and one handler call (as the bus makes it) through a
 * bus that does nothing, wrapped and not; the difference, in ns, is what `instrumentBus` adds.
 */
async function wrapperNs(count) {
  const result = { messageId: 'm', duplicate: false };
  const nullBus = () => {
    let handler;
    return {
      backend: 'null',
      publish: async () => result,
      subscribe: async (_p, h) => ((handler = h), 'sub'),
      unsubscribe: async () => true,
      createSessionQueue: async () => {},
      deleteSessionQueue: async () => {},
      getDeadLetterMessages: async () => [],
      redriveDeadLetters: async () => ({ redriven: [], skipped: [] }),
      purgeDeadLetters: async () => ({ purged: 0 }),
      healthCheck: async () => ({}),
      close: async () => {},
      deliver: (e, ctx) => handler(e, ctx),
    };
  };
  const time = async (wrap) => {
    const inner = nullBus();
    const bus = wrap ? instrumentBus(inner) : inner;
    let seen = 0;
    await bus.subscribe('bench.msg', () => void seen++, { componentId: 'bench' });
    const e = envelope(0, 0);
    const ctx = { attempt: 1, group: 'bench~bench~msg', subscriptionId: 'sub', get signal() { throw new Error('read signal'); } };
    const run = async (n) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < n; i++) {
        await bus.publish(e);
        inner.deliver(e, ctx);
      }
      return Number(process.hrtime.bigint() - started) / n;
    };
    await run(count / 10);
    return run(count);
  };
  const plainNs = [];
  const wrappedNs = [];
  for (let r = 0; r < 5; r++) {
    plainNs.push(await time(false));
    wrappedNs.push(await time(true));
  }
  return { plainNs: median(plainNs), wrappedNs: median(wrappedNs) };
}
const alone = await wrapperNs(1_000_000);
const cpuOverhead = wrapped.cpuUsPerMessage / plain.cpuUsPerMessage - 1;
const throughputRatio = wrapped.perSecond / plain.perSecond;

console.log(`otel wrapper benchmark (no SDK registered): ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, ${INFLIGHT} in flight, concurrency ${CONCURRENCY}, median of ${ROUNDS} alternating rounds`);
console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log('');
printTable(rows);
console.log('');
for (const row of rows) {
  console.log(`${row.name.padEnd(36)} CPU us/msg per round: ${row.cpuRuns.map((v) => fmt(v, 2)).join(', ')}`);
  console.log(`${''.padEnd(36)} msgs/s per round:     ${row.rateRuns.map((v) => fmt(v)).join(', ')}`);
}
console.log(`wrapped / plain: throughput ${fmt(throughputRatio, 3)}; CPU per message ${fmt(wrapped.cpuUsPerMessage, 2)} us vs ${fmt(plain.cpuUsPerMessage, 2)} us (${cpuOverhead >= 0 ? '+' : ''}${fmt(cpuOverhead * 100, 1)}%; goal <= +5%)`);
console.log(`the wrapper alone (a bus that does nothing, median of 5 x 1,000,000): ${fmt(alone.plainNs)} ns -> ${fmt(alone.wrappedNs)} ns per publish + handler call, +${fmt(alone.wrappedNs - alone.plainNs)} ns (${fmt(((alone.wrappedNs - alone.plainNs) / 1000 / plain.cpuUsPerMessage) * 100, 1)}% of the memory bus's CPU per message)`);
console.log(
  JSON.stringify({
    backend: 'otel',
    over: 'memory',
    sdk: false,
    messages: MESSAGES,
    rounds: ROUNDS,
    payloadBytes: PAYLOAD,
    sessions: SESSIONS,
    inflight: INFLIGHT,
    throughput: Math.round(wrapped.perSecond),
    rawThroughput: Math.round(plain.perSecond),
    ratio: Number(throughputRatio.toFixed(3)),
    cpuUsPerMessage: Number(wrapped.cpuUsPerMessage.toFixed(2)),
    rawCpuUsPerMessage: Number(plain.cpuUsPerMessage.toFixed(2)),
    cpuOverheadPercent: Number((cpuOverhead * 100).toFixed(1)),
    rateForLatency: rate,
    p50Us: wrapped.p50Us,
    p99Us: wrapped.p99Us,
    rawP50Us: plain.p50Us,
    rawP99Us: plain.p99Us,
    wrapperAloneNs: Math.round(alone.wrappedNs - alone.plainNs),
  }),
);
process.exit(0);
