/**
 * What every case measures the same way: envelopes of a given payload size, publishes with a window
 * in flight, throughput at saturation (msg/s and CPU per message), latency at a fixed rate (an HDR
 * histogram, microseconds), and the table's number format.
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
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
 * Latency of the hop at a fixed publish rate: publishes go out on a schedule (`ratePerSecond`, not
 * awaited one by one; the publish time is in the payload's `sentAt`), and each handler start records
 * publish call to handler start. p50 and p99 in microseconds. Fair to both sides and honest:
 * - the first `warmupSeconds` run at the same rate and are not recorded (a new target's connections,
 *   groups and code paths settle first);
 * - at most `maxInFlight` publishes are unanswered at once: past that the producer waits instead of
 *   queueing without bound (a target that cannot keep up shows as a lower `sentPerSecond` and as
 *   latency, never as an ever-growing queue inside the producer);
 * - `sentPerSecond` is the rate actually achieved and `sustained` whether it was within 5% of the
 *   rate asked for: a latency measured below the rate asked for is a backlog, not the hop;
 * - `paceMs`: how the producer waits between sends. 0 (the default) checks the schedule every loop
 *   turn (`setImmediate`): messages go out one at a time, exactly on time, but the producer spins a
 *   whole core. N > 0 sleeps N ms between checks and sends what fell due meanwhile (at 5,000/s and
 *   1 ms, about 5 at once): on a 2-core machine the spinning core is one the server and the
 *   client's own GC need (see pace());
 * - `publishesPerTurn` caps the publishes made in one turn of the producer's loop (default: no cap,
 *   every publish that is due). An in-process target runs no handler inside `publish` (it returns
 *   the id first), so the first publish of a burst waits for every later publish call of its burst:
 *   after a stall (a collection, the process waiting for a core) the loop publishes hundreds at once
 *   and the p99 measures that burst, not the hop (issue 11: the slowest 1% sat in bursts of 500 to
 *   900, none overlapping a collection). With 1, each publish gets its own turn, as publishes coming
 *   from separate I/O events would, and the loop catches up one turn at a time;
 * - `behindP99Us` is how late the producer published against its schedule (p99): a target that
 *   costs more per message catches up more slowly after a stall, and shows here.
 */
export async function latencyAtRate(open, { ratePerSecond, seconds, envelope, warmupSeconds = 1, maxInFlight = 4096, paceMs = 0, publishesPerTurn = Number.POSITIVE_INFINITY }) {
  const target = await open();
  const histogram = latencyHistogram();
  const warm = Math.floor(ratePerSecond * warmupSeconds);
  const total = warm + Math.max(1, Math.floor(ratePerSecond * seconds));
  let handled = 0;
  await target.subscribe((m) => {
    handled++;
    if (m.payload.i >= warm) histogram.recordMs(performance.now() - m.payload.sentAt);
  });
  const behind = latencyHistogram();
  const collector = watchCollector();
  const started = performance.now();
  let measuredFrom = started;
  let sent = 0;
  let inFlight = 0;
  const settled = () => void inFlight--;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * ratePerSecond));
    let turn = 0;
    while (sent < due && inFlight < maxInFlight && turn < publishesPerTurn) {
      if (sent === warm) measuredFrom = performance.now();
      inFlight++;
      turn++;
      const now = performance.now();
      if (sent >= warm) behind.recordMs(now - started - (sent * 1000) / ratePerSecond);
      target.publish(envelope(sent, now)).then(settled, (error) => {
        settled();
        throw error;
      });
      sent++;
    }
    await pace(paceMs);
  }
  const sentPerSecond = (total - warm) / ((performance.now() - measuredFrom) / 1000);
  while (inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 5));
  while (handled < total) await new Promise((resolve) => setTimeout(resolve, 5));
  const gc = collector.stop(measuredFrom);
  await target.close();
  return {
    p50Us: histogram.percentileUs(50),
    p99Us: histogram.percentileUs(99),
    count: total - warm,
    sentPerSecond,
    sustained: sentPerSecond >= ratePerSecond * 0.95,
    behindP99Us: behind.percentileUs(99),
    gcMs: gc.ms,
    gcMaxMs: gc.maxMs,
    gcMajor: gc.major,
  };
}

/**
 * The collector's pauses in this process from `stop(from)`'s `from` on: total and longest (ms), and
 * how many were full (mark-compact) collections. Printed beside a latency round: a p99 of a few
 * thousand messages is often set by one pause or a cluster of them.
 */
function watchCollector() {
  const entries = [];
  const observer = new PerformanceObserver((list) => entries.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop(from) {
      observer.disconnect();
      const mine = entries.filter((e) => e.startTime >= from);
      return {
        ms: mine.reduce((sum, e) => sum + e.duration, 0),
        maxMs: Math.max(0, ...mine.map((e) => e.duration)),
        major: mine.filter((e) => e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR).length,
      };
    },
  };
}

/**
 * The producer's wait between schedule checks (latencyAtRate's `paceMs`). Measured on this 2-core
 * machine (tools/bench/cases/nats-tail.mjs, 5,000 msg/s, load 3.5-5.6, 2026-12-04): spinning took
 * the bench process to 79-97 % of a core against 35-55 % with 1 ms, and the nats-server spent
 * 39-50 % of a core against 27-34 % (one message per socket write), for both targets alike.
 */
export function pace(ms) {
  return new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));
}

/** The median of numbers (the mean of the middle two for an even count). */
export function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Latency of every target (`opens[i]()` opens one) in `rounds` paired rounds, the order rotating
 * from round to round: a p99 over a few seconds on a shared machine is set by a few stalls of the
 * process or the server, which hit whichever target is measuring then. Each target's row holds the
 * medians of its rounds (the slowest round's rate; sustained only if every round was), and
 * `addedP99Us` is the median of the rounds' differences between target 1 and target 0 (measured
 * back to back in each round). `options` go to `latencyAtRate`.
 */
export async function latencyInRounds(opens, { rounds, ...options }) {
  const runs = opens.map(() => []);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < opens.length; k++) {
      const i = (k + round) % opens.length;
      runs[i].push(await latencyAtRate(opens[i], options));
    }
  }
  const rows = runs.map((r) => ({
    rate: options.ratePerSecond,
    p50Us: median(r.map((x) => x.p50Us)),
    p99Us: median(r.map((x) => x.p99Us)),
    roundP50Us: r.map((x) => x.p50Us),
    roundP99Us: r.map((x) => x.p99Us),
    roundGc: r.map((x) => ({ ms: x.gcMs, maxMs: x.gcMaxMs, major: x.gcMajor })),
    sentPerSecond: Math.min(...r.map((x) => x.sentPerSecond)),
    sustained: r.every((x) => x.sustained),
  }));
  const addedP99Us = median(runs[1].map((bus, round) => bus.p99Us - runs[0][round].p99Us));
  return { rows, addedP99Us };
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

/**
 * Prints the side-by-side table: each row `{ name, perSecond, cpuUsPerMessage?, rate, p50Us, p99Us,
 * sentPerSecond? }`; a row that could not publish at the rate (`sustained` false) shows the rate it
 * reached, marked `!`.
 */
export function printTable(rows) {
  console.log(`${'target'.padEnd(36)}${'msgs/s'.padStart(12)}${'CPU us/msg'.padStart(12)}${'at rate/s'.padStart(12)}${'p50 us'.padStart(12)}${'p99 us'.padStart(12)}`);
  for (const r of rows) {
    const cpu = r.cpuUsPerMessage === undefined ? '-' : fmt(r.cpuUsPerMessage, 1);
    const rate = r.sustained === false ? `!${fmt(r.sentPerSecond)}` : fmt(r.rate);
    console.log(`${r.name.padEnd(36)}${fmt(r.perSecond).padStart(12)}${cpu.padStart(12)}${rate.padStart(12)}${fmt(r.p50Us).padStart(12)}${fmt(r.p99Us).padStart(12)}`);
  }
}
