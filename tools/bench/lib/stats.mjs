/**
 * What every case measures the same way: envelopes of a given payload size, publishes with a window
 * in flight, throughput at saturation (msg/s and CPU per message), latency at a fixed rate (an HDR
 * histogram, microseconds), and the table's number format.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as hdr from 'hdr-histogram-js';

export const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** A `pub_sub` envelope of `bench.msg` whose payload is about `payloadBytes` of JSON. */
export function envelopeMaker({ sessions, payloadBytes }) {
  const text = 'x'.repeat(Math.max(0, payloadBytes - 40));
  return (i, sentAt, session = `s${i % sessions}`) => ({
    messageId: `m-${i}-${sentAt}`,
    sessionId: session,
    eventType: 'bench.msg',
    componentSource: 'bench',
    pattern: 'pub_sub',
    payload: { i, sentAt, text },
  });
}

/** The wire JSON the bus backends send (the design's snake_case keys). */
export function wire(e) {
  return JSON.stringify({
    message_id: e.messageId, session_id: e.sessionId, event_type: e.eventType, component_source: e.componentSource,
    component_target: null, timestamp: Date.now() / 1000, delivery_mode: 'at_least_once', pattern: e.pattern,
    payload: e.payload, metadata: {}, retry_count: 0, max_retries: 3,
  });
}

/** Publishes `count` messages, `inflight` at a time; `make(i)` builds each. */
export async function publishAll(target, count, make, inflight) {
  let next = 0;
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (next < count) await target.publish(make(next++));
    }),
  );
}

/**
 * Opens a target (`{ publish, subscribe(handler), close }`), publishes `messages` with `inflight` in
 * flight and waits until the handler saw them all: msg/s from the first publish to the last handled,
 * and the process's CPU (user + system) per message in microseconds.
 */
export async function throughput(open, { messages, inflight, envelope }) {
  const target = await open();
  let received = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await target.subscribe(() => {
    if (++received === messages) done();
  });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await publishAll(target, messages, (i) => envelope(i, 0), inflight);
  await finished;
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await target.close();
  return { perSecond: messages / seconds, cpuUsPerMessage: (used.user + used.system) / messages };
}

/** A latency histogram in microseconds (1 us to 60 s, 3 significant digits). */
export function latencyHistogram() {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  return {
    recordMs: (ms) => histogram.recordValue(Math.max(1, Math.round(ms * 1000))),
    get count() {
      return histogram.totalCount;
    },
    percentileUs: (p) => histogram.getValueAtPercentile(p),
  };
}

/**
 * Publishes at `ratePerSecond` for `seconds` (publish time in the payload's `sentAt`, not awaited
 * one by one) and records publish call to handler start: p50 and p99 in microseconds.
 */
export async function latencyAtRate(open, { ratePerSecond, seconds, envelope }) {
  const target = await open();
  const histogram = latencyHistogram();
  await target.subscribe((m) => histogram.recordMs(performance.now() - m.payload.sentAt));
  const total = Math.max(1, Math.floor(ratePerSecond * seconds));
  const started = performance.now();
  let sent = 0;
  const pending = new Set();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * ratePerSecond));
    while (sent < due) {
      const p = target.publish(envelope(sent, performance.now()));
      pending.add(p);
      p.finally(() => pending.delete(p));
      sent++;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  await Promise.all(pending);
  while (histogram.count < total) await new Promise((resolve) => setTimeout(resolve, 5));
  await target.close();
  return { p50Us: histogram.percentileUs(50), p99Us: histogram.percentileUs(99), count: total };
}

/** A full garbage collection (exposed at run time, so `node main.mjs` needs no flag); heap used after it. */
export function heapAfterGc() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
let gcFunction;
function gc() {
  if (!gcFunction) {
    v8.setFlagsFromString('--expose-gc');
    gcFunction = runInNewContext('gc');
  }
  gcFunction();
}

/** Prints the side-by-side table: each row `{ name, perSecond, cpuUsPerMessage?, rate, p50Us, p99Us }`. */
export function printTable(rows) {
  console.log(`${'target'.padEnd(36)}${'msgs/s'.padStart(12)}${'CPU us/msg'.padStart(12)}${'at rate/s'.padStart(12)}${'p50 us'.padStart(10)}${'p99 us'.padStart(10)}`);
  for (const r of rows) {
    const cpu = r.cpuUsPerMessage === undefined ? '-' : fmt(r.cpuUsPerMessage, 1);
    console.log(`${r.name.padEnd(36)}${fmt(r.perSecond).padStart(12)}${cpu.padStart(12)}${fmt(r.rate).padStart(12)}${fmt(r.p50Us).padStart(10)}${fmt(r.p99Us).padStart(10)}`);
  }
}
