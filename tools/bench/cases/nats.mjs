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
 * the raw maximum (the hop, not a backlog), then 100,000 sessions with one message each on the same
 * connection (time, client heap growth). Prints a table and, last, one JSON line.
 *
 *   npm run bench -- nats [--messages 20000] [--sessions 100] [--inflight 64] [--batch 256]
 *                         [--payload 1024] [--seconds 3] [--url nats://...] [--skip-100k]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createMessageBus } from '@woodwork/bus-nats';

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
  },
});
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const BATCH = Number(values.batch);
const PAYLOAD = Number(values.payload);
const LATENCY_SECONDS = Number(values.seconds);
const PREFIX = `bench-${process.pid}-${Date.now().toString(36)}`;
const TEXT = 'x'.repeat(Math.max(0, PAYLOAD - 40));

// ---------- the server ----------
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => (socket.destroy(), resolve(false)));
  });
}

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

function envelope(i, sentAt, session = `s${i % SESSIONS}`) {
  return {
    messageId: `m-${i}-${sentAt}`,
    sessionId: session,
    eventType: 'bench.msg',
    componentSource: 'bench',
    pattern: 'pub_sub',
    payload: { i, sentAt, text: TEXT },
  };
}

/** The same wire JSON the bus sends (the design's snake_case keys). */
function wire(e) {
  return JSON.stringify({
    message_id: e.messageId, session_id: e.sessionId, event_type: e.eventType, component_source: e.componentSource,
    component_target: null, timestamp: Date.now() / 1000, delivery_mode: 'at_least_once', pattern: e.pattern,
    payload: e.payload, metadata: {}, retry_count: 0, max_retries: 3,
  });
}

let seq = 0;

// ---------- targets ----------
async function makeRaw(url) {
  const nc = await connect({ servers: url });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const name = `${PREFIX}-raw-${++seq}`;
  await jsm.streams.add({ name, subjects: [`${name}.>`], duplicate_window: 120e9 });
  let messages;
  return {
    name: 'nats.js JetStream publish/pull/ack',
    async publish(e) {
      await js.publish(`${name}.${e.sessionId}.${e.eventType}`, wire(e), { msgID: `pub-${e.messageId}` });
    },
    async subscribe(handler) {
      await jsm.consumers.add(name, { durable_name: 'c', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, max_ack_pending: 20_000 });
      const consumer = await js.consumers.get(name, 'c');
      messages = await consumer.consume({ max_messages: BATCH });
      void (async () => {
        for await (const m of messages) {
          const data = JSON.parse(m.string());
          handler({ payload: data.payload, sessionId: data.session_id });
          m.ack();
        }
      })();
    },
    async close() {
      messages?.stop();
      await jsm.streams.delete(name);
      await nc.close();
    },
  };
}

async function makeBus(url) {
  const streamPrefix = `${PREFIX}-bus-${++seq}`;
  const bus = await createMessageBus({
    url, streamPrefix, concurrency: INFLIGHT, fetchBatch: BATCH, maxHeldPerGroup: 20_000, maxAckPending: 20_000,
    ...(values.partitions ? { partitions: Number(values.partitions) } : {}),
  });
  return {
    name: '@woodwork/bus-nats',
    bus,
    publish: (e) => bus.publish(e),
    subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: INFLIGHT }),
    async close() {
      await bus.close();
      await deletePrefix(url, streamPrefix);
    },
  };
}

/** Removes a bench prefix's three streams (only ever our own). */
async function deletePrefix(url, prefix) {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  for (const stream of [`${prefix}~EVENTS`, `${prefix}~DLQ`, `${prefix}~STATE`]) await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
}

/** Publishes `count` messages with `INFLIGHT` in flight; `make(i)` builds each. */
async function publishAll(target, count, make) {
  let next = 0;
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (next < count) await target.publish(make(next++));
    }),
  );
}

async function throughput(make, url) {
  const target = await make(url);
  let received = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await target.subscribe(() => {
    if (++received === MESSAGES) done();
  });
  const started = performance.now();
  await publishAll(target, MESSAGES, (i) => envelope(i, 0));
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await target.close();
  return MESSAGES / seconds;
}

async function latencyAtRate(make, url, ratePerSecond) {
  const target = await make(url);
  const latencies = [];
  await target.subscribe((m) => {
    latencies.push(performance.now() - m.payload.sentAt);
  });
  const total = Math.floor(ratePerSecond * LATENCY_SECONDS);
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
  while (latencies.length < total) await new Promise((resolve) => setTimeout(resolve, 5));
  await target.close();
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return { p50: at(0.5), p99: at(0.99), count: latencies.length };
}

async function manySessions(url) {
  const count = 100_000;
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const target = await makeBus(url);
  let received = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await target.subscribe(() => {
    if (++received === count) done();
  });
  const started = performance.now();
  await publishAll(target, count, (i) => envelope(i, 0, `session-${i}`));
  await finished;
  const ms = performance.now() - started;
  const health = await target.bus.healthCheck();
  global.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  await target.close();
  return { ms, clientMb: (heapAfter - heapBefore) / (1024 * 1024), lanesLeft: health.details.sessionLanes, heldLeft: health.details.heldMessages };
}

const server = await startServer();
try {
  const rows = [];
  for (const make of [makeRaw, makeBus]) {
    await throughput(make, server.url); // warm-up
    rows.push({ make, perSecond: await throughput(make, server.url) });
  }
  const rate = Math.floor(rows[0].perSecond / 2);
  for (const row of rows) Object.assign(row, await latencyAtRate(row.make, server.url, rate), { rate });
  const sessions = values['skip-100k'] ? undefined : await manySessions(server.url);

  const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const [rawRow, busRow] = rows;
  const names = ['nats.js JetStream publish/pull/ack', '@woodwork/bus-nats'];
  console.log(`nats bus benchmark: ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, ${INFLIGHT} publishes in flight, pull batch ${BATCH}, node ${process.version}`);
  console.log(`server: ${server.own ? `own nats-server (file store) at ${server.url}` : server.url}; both file-storage streams; bus: concurrency ${INFLIGHT}, ${values.partitions ?? 16} partitions (one durable consumer each)`);
  console.log('');
  console.log(`${'target'.padEnd(36)}${'msgs/s'.padStart(12)}${'at rate/s'.padStart(12)}${'p50 ms'.padStart(10)}${'p99 ms'.padStart(10)}`);
  rows.forEach((r, i) => console.log(`${names[i].padEnd(36)}${fmt(r.perSecond).padStart(12)}${fmt(r.rate).padStart(12)}${fmt(r.p50, 3).padStart(10)}${fmt(r.p99, 3).padStart(10)}`));
  console.log('');
  console.log(`bus / raw throughput: ${fmt(busRow.perSecond / rawRow.perSecond, 2)}; added p99 at half the raw max rate: ${fmt(busRow.p99 - rawRow.p99, 3)} ms`);
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
      p50Us: Math.round(busRow.p50 * 1000),
      p99Us: Math.round(busRow.p99 * 1000),
      rawP50Us: Math.round(rawRow.p50 * 1000),
      rawP99Us: Math.round(rawRow.p99 * 1000),
      sessions100kMs: sessions ? Math.round(sessions.ms) : null,
      sessions100kClientMb: sessions ? Number(sessions.clientMb.toFixed(1)) : null,
    }),
  );
} finally {
  await server.stop();
}
process.exit(0);
