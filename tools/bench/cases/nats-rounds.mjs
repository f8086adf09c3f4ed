#!/usr/bin/env node
/**
 * `npm run bench -- nats-rounds`: the `nats` case measured in paired rounds, with server CPU and the
 * handling lag at the end of the fixed-rate run (the figures in packages/bus-nats/README.md).
 *
 * The NATS bus beside the bare nats.js JetStream client doing the same work against the same server
 * in one run:
 * - raw: `js.publish` of the envelope's wire JSON awaiting each PubAck (the same number of publishes
 *   in flight), a durable pull consumer read with `consume()` in batches of the same size,
 *   JSON.parse per message, the handler, `ack()` per message;
 * - bus: `publish` with the same number in flight, a durable group with the same concurrency and
 *   pull batch; per-session order, retries, acks as the contract says.
 * Both use file-storage streams with the same settings, and the client's default connection
 * options. Measured: throughput at saturation (first publish to last handled) in `--rounds` paired
 * rounds after one warm-up each (raw and bus back to back, the order alternating, so load that
 * drifts on a shared machine hits both; the ratio is the median of the rounds' ratios), with the
 * client's and, on its own server, the server's CPU per message; then p50/p99 of publish call to
 * handler start at a fixed rate of half the raw maximum (in paired rounds too, with this process's event-loop delay), with how far handling lagged publishing
 * when publishing ended (the hop, not a backlog, when that is near 0); then 100,000 sessions with
 * one message each on the same connection (time, client heap growth). Prints a table and, last,
 * one JSON line.
 *
 *   npm run bench -- nats-rounds [--messages 20000] [--sessions 100] [--inflight 64] [--batch 256]
 *                         [--payload 1024] [--seconds 3] [--rounds 3] [--url nats://...]
 *                         [--partitions P] [--pace-ms 1] [--skip-100k]
 * `--pace-ms`: as in the `nats` case (the fixed-rate producer's wait between sends; 0 spins).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { envelopeMaker, fmt, latencyHistogram, pace, printTable, throughput } from '../lib/stats.mjs';
import { freePort, portOpen } from '../lib/servers.mjs';
import { natsTargets } from '../lib/nats-targets.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    sessions: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '64' },
    batch: { type: 'string', default: '256' },
    payload: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    url: { type: 'string' },
    'skip-100k': { type: 'boolean', default: false },
    partitions: { type: 'string' },
    'pace-ms': { type: 'string', default: '1' },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const BATCH = Number(values.batch);
const PAYLOAD = Number(values.payload);
const LATENCY_SECONDS = Number(values.seconds);
const ROUNDS = Math.max(1, Number(values.rounds));
const PACE_MS = Number(values['pace-ms']);
const PREFIX = `bench-${process.pid}-${Date.now().toString(36)}`;
const envelope = envelopeMaker({ sessions: SESSIONS, payloadBytes: PAYLOAD });
const work = { messages: MESSAGES, inflight: INFLIGHT, envelope };

// ---------- the server ----------
async function startServer() {
  const url = values.url ?? process.env.NATS_URL;
  if (url) return { url, own: false, cpuMs: () => undefined, stop: async () => undefined };
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'woodwork-bench-nats-'));
  const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
  const proc = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 0; !(await portOpen(port)); i++) {
    if (i > 400) throw new Error('nats-server did not start (install it, or pass --url)');
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    own: true,
    /** The server's CPU (user + system) so far, from /proc (Linux; undefined elsewhere). */
    cpuMs: () => {
      try {
        const fields = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
        return (Number(fields[11]) + Number(fields[12])) * 10;
      } catch {
        return undefined;
      }
    },
    stop: async () => {
      proc.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const { makeRaw, makeBus, manySessions } = natsTargets({ prefix: PREFIX, batch: BATCH, inflight: INFLIGHT, partitions: values.partitions, envelope });

/**
 * lib/stats.mjs's `latencyAtRate` plus `behindAtEnd`: how many published messages no handler had
 * started when publishing ended (near 0: the latencies are the hop; large: a backlog).
 */
async function latencyAtRate(open, { ratePerSecond, seconds, envelope }) {
  const target = await open();
  const histogram = latencyHistogram();
  // This process's event-loop delay meanwhile: how long a ready callback waited for the CPU (a
  // starved process on a shared machine delays every message, whichever client it runs).
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
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
    await pace(PACE_MS);
  }
  const behindAtEnd = total - histogram.count;
  await Promise.all(pending);
  while (histogram.count < total) await new Promise((resolve) => setTimeout(resolve, 5));
  loopDelay.disable();
  await target.close();
  return { p50Us: histogram.percentileUs(50), p99Us: histogram.percentileUs(99), count: total, behindAtEnd, loopP99Ms: loopDelay.percentile(99) / 1e6 };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const loadAtStart = loadavg()[0];
const server = await startServer();
try {
  const makers = [makeRaw, makeBus];
  const names = ['nats.js JetStream publish/pull/ack', '@woodwork/bus-nats'];
  for (const make of makers) await throughput(() => make(server.url), work); // warm-up
  /** Per target: each round's { perSecond, cpuUsPerMessage, serverCpuUsPerMessage }. */
  const runs = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      const before = server.cpuMs();
      const result = await throughput(() => makers[i](server.url), work);
      const after = server.cpuMs();
      runs[i].push({ ...result, serverCpuUsPerMessage: before === undefined || after === undefined ? undefined : ((after - before) * 1000) / MESSAGES });
    }
  }
  const ratios = runs[1].map((bus, round) => bus.perSecond / runs[0][round].perSecond);
  const rows = runs.map((rounds, i) => ({
    name: names[i],
    make: makers[i],
    perSecond: median(rounds.map((r) => r.perSecond)),
    cpuUsPerMessage: median(rounds.map((r) => r.cpuUsPerMessage)),
    serverCpuUsPerMessage: rounds[0].serverCpuUsPerMessage === undefined ? undefined : median(rounds.map((r) => r.serverCpuUsPerMessage)),
  }));
  const rate = Math.floor(rows[0].perSecond / 2);
  // Latency in paired rounds too (the order alternating): one fixed-rate run says more about the
  // machine's load at that moment than about either client.
  const latencyRuns = [[], []];
  for (let round = 0; round < ROUNDS; round++) {
    for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
      latencyRuns[i].push(await latencyAtRate(() => makers[i](server.url), { ratePerSecond: rate, seconds: LATENCY_SECONDS, envelope }));
    }
  }
  rows.forEach((row, i) => {
    const r = latencyRuns[i];
    Object.assign(row, {
      rate,
      p50Us: median(r.map((x) => x.p50Us)),
      p99Us: median(r.map((x) => x.p99Us)),
      behindAtEnd: median(r.map((x) => x.behindAtEnd)),
      loopP99Ms: median(r.map((x) => x.loopP99Ms)),
    });
  });
  const sessions = values['skip-100k'] ? undefined : await manySessions(server.url);

  const [rawRow, busRow] = rows;
  const ratio = median(ratios);
  console.log(`nats bus benchmark (paired rounds): ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, ${INFLIGHT} publishes in flight, pull batch ${BATCH}, node ${process.version}`);
  console.log(`server: ${server.own ? `own nats-server (file store) at ${server.url}` : server.url}; both file-storage streams; bus: concurrency ${INFLIGHT}, ${values.partitions ?? 'the default'} partitions (one durable consumer each)`);
  console.log(`throughput: ${ROUNDS} paired rounds after a warm-up each (medians below)`);
  runs[0].forEach((raw, round) => {
    const bus = runs[1][round];
    const server = (r) => (r.serverCpuUsPerMessage === undefined ? '' : `, server ${fmt(r.serverCpuUsPerMessage, 1)} us/msg`);
    console.log(`  round ${round + 1}: raw ${fmt(raw.perSecond)} msgs/s${server(raw)}; bus ${fmt(bus.perSecond)} msgs/s${server(bus)}; ratio ${fmt(ratios[round], 2)}`);
  });
  console.log(`latency: ${ROUNDS} paired rounds of ${LATENCY_SECONDS} s at ${fmt(rate)} msgs/s, producer pace ${PACE_MS > 0 ? `${PACE_MS} ms` : 'every loop turn'} (medians below; p50 / p99 us, this process's event-loop delay p99)`);
  latencyRuns[0].forEach((raw, round) => {
    const bus = latencyRuns[1][round];
    console.log(`  round ${round + 1}: raw ${fmt(raw.p50Us)} / ${fmt(raw.p99Us)} us, loop ${fmt(raw.loopP99Ms, 1)} ms; bus ${fmt(bus.p50Us)} / ${fmt(bus.p99Us)} us, loop ${fmt(bus.loopP99Ms, 1)} ms`);
  });
  console.log('');
  printTable(rows);
  console.log('');
  console.log(`bus / raw throughput: ${fmt(ratio, 2)} (median of the rounds); added p99 at half the raw max rate: ${fmt(busRow.p99Us - rawRow.p99Us)} us`);
  if (busRow.serverCpuUsPerMessage !== undefined) {
    console.log(`server CPU per message: raw ${fmt(rawRow.serverCpuUsPerMessage, 1)} us, bus ${fmt(busRow.serverCpuUsPerMessage, 1)} us`);
  }
  console.log(`handling behind publishing when the fixed-rate publishing ended: raw ${fmt(rawRow.behindAtEnd)}, bus ${fmt(busRow.behindAtEnd)} messages`);
  const loadAtEnd = loadavg()[0];
  console.log(`load average (1 min) at start ${fmt(loadAtStart, 1)}, at end ${fmt(loadAtEnd, 1)}`);
  if (sessions) {
    console.log(`100,000 sessions x 1 message: ${fmt(sessions.ms)} ms, client heap +${fmt(sessions.clientMb, 1)} MB, session lanes left ${sessions.lanesLeft}, held ${sessions.heldLeft}`);
  }
  console.log(
    JSON.stringify({
      backend: 'nats',
      case: 'nats-rounds',
      messages: MESSAGES,
      payloadBytes: PAYLOAD,
      sessions: SESSIONS,
      inflight: INFLIGHT,
      batch: BATCH,
      throughput: Math.round(busRow.perSecond),
      rawThroughput: Math.round(rawRow.perSecond),
      ratio: Number(ratio.toFixed(3)),
      rounds: ROUNDS,
      ratios: ratios.map((r) => Number(r.toFixed(3))),
      rateForLatency: rate,
      paceMs: PACE_MS,
      p50Us: busRow.p50Us,
      p99Us: busRow.p99Us,
      rawP50Us: rawRow.p50Us,
      rawP99Us: rawRow.p99Us,
      cpuUsPerMessage: Number(busRow.cpuUsPerMessage.toFixed(1)),
      rawCpuUsPerMessage: Number(rawRow.cpuUsPerMessage.toFixed(1)),
      serverCpuUsPerMessage: busRow.serverCpuUsPerMessage === undefined ? null : Number(busRow.serverCpuUsPerMessage.toFixed(1)),
      rawServerCpuUsPerMessage: rawRow.serverCpuUsPerMessage === undefined ? null : Number(rawRow.serverCpuUsPerMessage.toFixed(1)),
      behindAtEnd: busRow.behindAtEnd,
      rawBehindAtEnd: rawRow.behindAtEnd,
      p99UsRounds: latencyRuns[1].map((x) => x.p99Us),
      rawP99UsRounds: latencyRuns[0].map((x) => x.p99Us),
      loopP99Ms: Number(busRow.loopP99Ms.toFixed(1)),
      rawLoopP99Ms: Number(rawRow.loopP99Ms.toFixed(1)),
      loadAverage: [Number(loadAtStart.toFixed(1)), Number(loadAtEnd.toFixed(1))],
      sessions100kMs: sessions ? Math.round(sessions.ms) : null,
      sessions100kClientMb: sessions ? Number(sessions.clientMb.toFixed(1)) : null,
    }),
  );
} finally {
  await server.stop();
}
process.exit(0);
