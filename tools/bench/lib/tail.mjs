/**
 * What the tail diagnostics (cases/nats-tail.mjs, cases/redis-tail.mjs) share: the process's
 * stalls (GC from a PerformanceObserver, event-loop delay from a 1 ms interval timer), one
 * fixed-rate run on the same schedule as lib/stats.mjs `latencyAtRate`, and the report of where
 * the slowest 1 % spent their time, hop by hop.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { pace } from './stats.mjs';

/**
 * `fixedRateRun` with the process watched (`watchProcess`) and the CPU of this process and of the
 * server (`serverCpuSeconds()`, NaN when unknown) measured over it, as percentages of a core; and a
 * line that says so, for the tail cases to extend.
 */
export async function watchedRun(target, options, serverCpuSeconds) {
  const watch = watchProcess();
  const cpu = process.cpuUsage();
  const serverCpu = serverCpuSeconds();
  const t0 = performance.now();
  const run = await fixedRateRun(target, options);
  const wall = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  watch.stop();
  const clientPercent = (used.user + used.system) / 1000 / wall / 10;
  const serverPercent = ((serverCpuSeconds() - serverCpu) * 100) / wall;
  return { ...run, watch, cpuLine: `${target.name}: client CPU ${clientPercent.toFixed(0)} % of a core, server ${serverPercent.toFixed(0)} %` };
}

const q = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

/** Starts watching the process: GCs and event-loop stalls longer than 5 ms. */
export function watchProcess() {
  const gcs = [];
  const stalls = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, ms: e.duration, kind: e.detail?.kind });
  });
  observer.observe({ entryTypes: ['gc'] });
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    if (now - lastTick > 5) stalls.push({ start: lastTick, ms: now - lastTick });
    lastTick = now;
  }, 1);
  return {
    gcs,
    stalls,
    stop() {
      clearInterval(ticker);
      observer.disconnect();
    },
  };
}

/**
 * Publishes `rate` messages a second for one warm-up second plus `seconds` (what fell due every
 * `paceMs`), marking each message's `sent` and `stored` (publish resolved) in `marks[i]`; the
 * target's handler marks `handler`. Resolves once all were handled: when the measured part started,
 * and how many publishes were unanswered when it looked.
 */
export async function fixedRateRun(target, { rate, seconds, paceMs, envelope, marks }) {
  const markOf = (i) => (marks[i] ??= {});
  const total = rate + rate * seconds;
  let handled = 0;
  await target.subscribe((m) => {
    handled++;
    markOf(m.payload.i).handler = performance.now();
  });
  const started = performance.now();
  let sent = 0;
  let stored = 0;
  /** Publishes not answered yet, sampled before each send. */
  const unanswered = [];
  while (sent < total) {
    unanswered.push(sent - stored);
    const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * rate));
    while (sent < due) {
      const i = sent++;
      const sentAt = performance.now();
      markOf(i).sent = sentAt;
      target.publish(envelope(i, sentAt)).then(() => {
        stored++;
        markOf(i).stored = performance.now();
      });
    }
    await pace(paceMs);
  }
  while (handled < total) await new Promise((resolve) => setTimeout(resolve, 5));
  unanswered.sort((a, b) => a - b);
  return { started, warm: rate, unanswered: { p50: q(unanswered, 50), p99: q(unanswered, 99), max: unanswered.at(-1) } };
}

export const ms = (n) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(2));

/**
 * Prints, for the messages of one run (`list`: their marks, each with `sent` and `handler`), the
 * hops' p50 / p99 over all and over the slowest 1 %, when the slow ones were published, the GCs and
 * stalls they overlapped, and the 10 slowest in full (`describe(m)` adds a target's own fields).
 */
export function reportTail({ name, rate, list, started, hops, watch, describe = () => '' }) {
  const total = list.map((m) => m.handler - m.sent).sort((a, b) => a - b);
  const p99 = q(total, 99);
  const slow = list.filter((m) => m.handler - m.sent >= p99);
  const hop = (m, from, to) => (m[to] ?? NaN) - (m[from] ?? NaN);
  console.log(`\n== ${name}: ${list.length} messages at ${rate}/s; publish->handler p50 ${ms(q(total, 50))} p99 ${ms(p99)} max ${ms(total.at(-1))} ms`);
  console.log(`${'hop (ms)'.padEnd(20)}${'all p50'.padStart(10)}${'all p99'.padStart(10)}${'slow1% p50'.padStart(12)}${'slow1% max'.padStart(12)}`);
  for (const [label, from, to] of hops) {
    const all = list.map((m) => hop(m, from, to)).filter((n) => !Number.isNaN(n)).sort((a, b) => a - b);
    const s = slow.map((m) => hop(m, from, to)).filter((n) => !Number.isNaN(n)).sort((a, b) => a - b);
    if (all.length === 0) continue;
    console.log(`${label.padEnd(20)}${ms(q(all, 50)).padStart(10)}${ms(q(all, 99)).padStart(10)}${ms(q(s, 50)).padStart(12)}${ms(s.at(-1)).padStart(12)}`);
  }
  // When were the slow ones published (clusters = one stall; spread = a per-message cost)?
  const buckets = new Map();
  for (const m of slow) {
    const b = Math.floor((m.sent - started) / 100) * 100;
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
  }
  console.log(`slow 1% by publish time (ms after start: count): ${[...buckets].sort((a, b) => a[0] - b[0]).map(([b, c]) => `${b}:${c}`).join(' ')}`);
  const from = list[0].sent;
  const to = Math.max(...list.map((m) => m.handler));
  const inRun = (e) => e.start + e.ms >= from && e.start <= to;
  const runGcs = watch.gcs.filter(inRun);
  const runStalls = watch.stalls.filter(inRun);
  const overlaps = (m, e) => e.start < m.handler && e.start + e.ms > m.sent;
  console.log(`GCs in run: ${runGcs.length} (total ${ms(runGcs.reduce((n, e) => n + e.ms, 0))} ms, longest ${ms(Math.max(0, ...runGcs.map((e) => e.ms)))} ms); slow messages overlapping a GC: ${slow.filter((m) => runGcs.some((e) => overlaps(m, e))).length}/${slow.length}`);
  console.log(`event-loop stalls > 5 ms in run: ${runStalls.length} (${runStalls.map((e) => `${Math.round(e.start - started)}+${ms(e.ms)}`).join(' ')}); slow overlapping one: ${slow.filter((m) => runStalls.some((e) => overlaps(m, e))).length}/${slow.length}`);
  const longGcs = runGcs.filter((e) => e.ms > 2);
  if (longGcs.length) console.log(`GCs > 2 ms: ${longGcs.map((e) => `${Math.round(e.start - started)}+${ms(e.ms)}(kind ${e.kind})`).join(' ')}`);
  for (const m of [...slow].sort((a, b) => b.handler - b.sent - (a.handler - a.sent)).slice(0, 10)) {
    console.log(`  at ${ms(m.sent - started)}: total ${ms(m.handler - m.sent)} ${hops.map(([label, f, t]) => `${label} ${ms(hop(m, f, t))}`).join(' ')} ${describe(m)}`);
  }
}
