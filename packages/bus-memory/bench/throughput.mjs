#!/usr/bin/env node
/**
 * Memory-bus overhead, side by side with a plain EventEmitter + queueMicrotask hand-off in the same
 * run: messages/s at full speed, then p50/p99 latency (publish call to handler start) at a fixed
 * rate of half each one's own maximum. Build first (`nx run @woodwork/bus-memory:build`).
 *
 *   node bench/throughput.mjs [--messages 200000] [--sessions 100]
 */
import { EventEmitter } from 'node:events';
import { parseArgs } from 'node:util';
import { createMessageBus } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '200000' },
    sessions: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '2' },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const LATENCY_SECONDS = Number(values.seconds);

/** The smallest thing that does the same job: an async publish that hands off on a microtask. */
function makeBaseline() {
  const emitter = new EventEmitter();
  return {
    name: 'EventEmitter + queueMicrotask',
    async publish(message) {
      queueMicrotask(() => emitter.emit('message', message));
      return { messageId: message.messageId, duplicate: false };
    },
    async subscribe(handler) {
      emitter.on('message', (m) => void handler(m));
    },
    async close() {
      emitter.removeAllListeners();
    },
  };
}

function makeBusTarget() {
  const bus = createMessageBus({ maxQueueSize: 1_000_000, concurrency: 64 });
  return {
    name: '@woodwork/bus-memory',
    publish: (message) => bus.publish(message),
    subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench' }),
    close: () => bus.close(),
  };
}

function envelope(i, sentAt) {
  return {
    messageId: `m-${i}`,
    sessionId: `s${i % SESSIONS}`,
    eventType: 'bench.msg',
    componentSource: 'bench',
    pattern: 'pub_sub',
    payload: { i, sentAt, text: 'a short agent message' },
  };
}

async function throughput(make) {
  const target = make();
  let received = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await target.subscribe(() => {
    if (++received === MESSAGES) done();
  });
  const started = performance.now();
  for (let i = 0; i < MESSAGES; i++) await target.publish(envelope(i, 0));
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await target.close();
  return MESSAGES / seconds;
}

async function latencyAtRate(make, ratePerSecond) {
  const target = make();
  const latencies = [];
  await target.subscribe((m) => {
    latencies.push(performance.now() - m.payload.sentAt);
  });
  const total = Math.floor(ratePerSecond * LATENCY_SECONDS);
  const started = performance.now();
  let sent = 0;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * ratePerSecond));
    while (sent < due) {
      await target.publish(envelope(sent, performance.now()));
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  while (latencies.length < total) await new Promise((resolve) => setTimeout(resolve, 5));
  await target.close();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99), count: latencies.length };
}

const rows = [];
for (const make of [makeBaseline, makeBusTarget]) {
  const name = make().name;
  await throughput(make); // warm-up
  const perSecond = await throughput(make);
  const rate = Math.floor(perSecond / 2);
  const latency = await latencyAtRate(make, rate);
  rows.push({ name, perSecond, rate, ...latency });
}

const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
console.log(`memory bus benchmark: ${fmt(MESSAGES)} messages over ${SESSIONS} sessions, node ${process.version}`);
console.log('');
console.log(`${'target'.padEnd(32)}${'msgs/s'.padStart(14)}${'at rate/s'.padStart(12)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`);
for (const r of rows) {
  console.log(`${r.name.padEnd(32)}${fmt(r.perSecond).padStart(14)}${fmt(r.rate).padStart(12)}${fmt(r.p50, 3).padStart(10)}${fmt(r.p99, 3).padStart(10)}`);
}
const [base, bus] = rows;
console.log('');
console.log(`bus / baseline throughput: ${fmt((bus.perSecond / base.perSecond) * 100, 1)}%; per-message overhead ≈ ${fmt((1e6 / bus.perSecond) - (1e6 / base.perSecond), 2)} µs`);
