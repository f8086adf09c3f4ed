#!/usr/bin/env node
/**
 * The NATS bus beside the bare nats.js JetStream client doing the same work against the same server
 * in one run:
 * - raw: `js.publish` of the envelope's wire JSON awaiting each PubAck (the same number of publishes
 *   in flight), a durable pull consumer read with `consume()` in batches of the same size,
 *   JSON.parse per message, the handler, `ack()` per message;
 * - bus: `publish` with the same number in flight, a durable group with the same concurrency and
 *   pull batch; per-session order, retries, acks as the contract says.
 * Both use file-storage streams with the same settings. Measured: throughput at saturation (first
 * publish to last handled), then p50/p99 of publish call to handler start at a fixed rate of half
 * the raw maximum (the hop, not a backlog; in paired rounds), then 100,000 sessions with one message each on the same
 * connection (time, client heap growth). Prints a table and, last, one JSON line.
 *
 *   npm run bench -- nats [--messages 20000] [--sessions 100] [--inflight 64] [--batch 256]
 *                         [--payload 1024] [--seconds 3] [--pace-ms 1] [--latency-rounds 3]
 *                         [--url nats://...] [--skip-100k]
 * `--latency-rounds`: fixed-rate runs per target, raw and bus back to back, the order alternating;
 * the table shows the medians of their p50 and p99, the added p99 is the median of the rounds'
 * differences.
 * `--pace-ms`: the fixed-rate producer sends what fell due every N ms (0: it checks every loop turn
 * and spins a core; lib/stats.mjs `pace`), the same for both targets.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { envelopeMaker, fmt, latencyInRounds, median, printTable, throughput } from '../lib/stats.mjs';
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
    url: { type: 'string' },
    'skip-100k': { type: 'boolean', default: false },
    partitions: { type: 'string' },
    'pace-ms': { type: 'string', default: '1' },
    'latency-rounds': { type: 'string', default: '3' },
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const BATCH = Number(values.batch);
const PAYLOAD = Number(values.payload);
const LATENCY_SECONDS = Number(values.seconds);
const PACE_MS = Number(values['pace-ms']);
const LATENCY_ROUNDS = Math.max(1, Number(values['latency-rounds']));
const PREFIX = `bench-${process.pid}-${Date.now().toString(36)}`;
const envelope = envelopeMaker({ sessions: SESSIONS, payloadBytes: PAYLOAD });
const work = { messages: MESSAGES, inflight: INFLIGHT, envelope };

// ---------- the server ----------
async function startServer() {
  const url = values.url ?? process.env.NATS_URL;
  if (url) return { url, own: false, stop: async () => undefined };
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
    stop: async () => {
      proc.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const { makeRaw, makeBus, manySessions } = natsTargets({ prefix: PREFIX, batch: BATCH, inflight: INFLIGHT, partitions: values.partitions, envelope });

const server = await startServer();
try {
  const rows = [];
  for (const make of [makeRaw, makeBus]) {
    await throughput(() => make(server.url), work); // warm-up
    rows.push({ make, ...(await throughput(() => make(server.url), work)) });
  }
  const rate = Math.floor(rows[0].perSecond / 2);
  // Latency in paired rounds, the order alternating (lib/stats.mjs latencyInRounds).
  const latency = await latencyInRounds(
    rows.map((row) => () => row.make(server.url)),
    { rounds: LATENCY_ROUNDS, ratePerSecond: rate, seconds: LATENCY_SECONDS, envelope, paceMs: PACE_MS },
  );
  rows.forEach((row, i) => Object.assign(row, latency.rows[i]));
  const { addedP99Us } = latency;
  const sessions = values['skip-100k'] ? undefined : await manySessions(server.url);

  const [rawRow, busRow] = rows;
  const names = ['nats.js JetStream publish/pull/ack', '@woodwork/bus-nats'];
  console.log(`nats bus benchmark: ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, ${INFLIGHT} publishes in flight, pull batch ${BATCH}, node ${process.version}`);
  console.log(`server: ${server.own ? `own nats-server (file store) at ${server.url}` : server.url}; both file-storage streams; bus: concurrency ${INFLIGHT}, ${values.partitions ?? 'the default'} partitions (one durable consumer each)`);
  console.log(`fixed-rate producer: ${PACE_MS > 0 ? `sends what fell due every ${PACE_MS} ms` : 'checks every loop turn (spins a core)'}, both targets`);
  console.log('');
  console.log(`latency: ${LATENCY_ROUNDS} paired rounds of ${LATENCY_SECONDS} s, the order alternating (p50 / p99 us); the table shows their medians`);
  rawRow.roundP99Us.forEach((rawP99, round) => {
    const busP99 = busRow.roundP99Us[round];
    console.log(`  round ${round + 1}: raw ${fmt(rawRow.roundP50Us[round])} / ${fmt(rawP99)}; bus ${fmt(busRow.roundP50Us[round])} / ${fmt(busP99)}; added p99 ${fmt(busP99 - rawP99)}`);
  });
  console.log('');
  rows.forEach((r, i) => (r.name = names[i]));
  printTable(rows);
  console.log('');
  console.log(`bus / raw throughput: ${fmt(busRow.perSecond / rawRow.perSecond, 2)}; added p99 at half the raw max rate: ${fmt(addedP99Us)} us (median of the rounds' differences)`);
  if (sessions) {
    console.log(`100,000 sessions x 1 message: ${fmt(sessions.ms)} ms, client heap +${fmt(sessions.clientMb, 1)} MB, session lanes left ${sessions.lanesLeft}, held ${sessions.heldLeft}`);
  }
  console.log(
    JSON.stringify({
      backend: 'nats',
      messages: MESSAGES,
      payloadBytes: PAYLOAD,
      sessions: SESSIONS,
      inflight: INFLIGHT,
      batch: BATCH,
      throughput: Math.round(busRow.perSecond),
      rawThroughput: Math.round(rawRow.perSecond),
      ratio: Number((busRow.perSecond / rawRow.perSecond).toFixed(3)),
      rateForLatency: rate,
      paceMs: PACE_MS,
      p50Us: busRow.p50Us,
      p99Us: busRow.p99Us,
      rawP50Us: rawRow.p50Us,
      rawP99Us: rawRow.p99Us,
      addedP99Us,
      latencyRounds: LATENCY_ROUNDS,
      p99UsRounds: rows[1].roundP99Us,
      rawP99UsRounds: rows[0].roundP99Us,
      cpuUsPerMessage: Number(busRow.cpuUsPerMessage.toFixed(1)),
      rawCpuUsPerMessage: Number(rawRow.cpuUsPerMessage.toFixed(1)),
      sessions100kMs: sessions ? Math.round(sessions.ms) : null,
      sessions100kClientMb: sessions ? Number(sessions.clientMb.toFixed(1)) : null,
    }),
  );
} finally {
  await server.stop();
}
process.exit(0);
