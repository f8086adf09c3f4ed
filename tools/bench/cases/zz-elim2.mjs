#!/usr/bin/env node
/**
 * Where the slowest messages of the `redis` case's fixed-rate run spend their time (a diagnostic,
 * not a comparison figure). Bare ioredis (the `redis` case's raw loop) and the bus each run at the
 * same fixed rate on one redis-server of this case's own (AOF everysec, automatic rewrite off); for
 * every message it records, in ms after its publish call:
 * - stored: the publish call resolved (XADD answered);
 * - read: the XREADGROUP reply that carried it was handed over (the bus: its group's
 *   `PartitionReader.deliver`; raw: the reply's loop), with that read's size and how many of the
 *   message's session came before it in that read;
 * - handler: the handler started.
 * For the slowest 1 % it prints the median and max of each hop and how many overlapped a GC or an
 * event-loop stall (lib/tail.mjs), then the ten slowest in full. The bus's internals are timed by
 * wrapping prototypes of its built files (this process only).
 *
 *   npm run bench -- redis-tail [--rate 10000] [--seconds 3] [--target both|raw|bus|pub|sub,...] [--pace-ms 1]
 *                               [--batch 256] [--inflight 64] [--url redis://...]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createMessageBus, eventsKey, partitionOf } from '@woodwork/bus-redis';
import { PartitionReader } from '/work/main/packages/bus-redis/dist/partition-reader.js';
import { RedisGroup } from '/work/main/packages/bus-redis/dist/redis-group.js';
import { envelopeMaker, wire } from '/work/main/tools/bench/lib/stats.mjs';
import { ownServer, processCpuSeconds } from '/work/main/tools/bench/lib/servers.mjs';
import { reportTail, watchedRun } from '/work/main/tools/bench/lib/tail.mjs';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '3' },
    target: { type: 'string', default: 'both' },
    url: { type: 'string' },
    batch: { type: 'string', default: '256' },
    inflight: { type: 'string', default: '64' },
    'pace-ms': { type: 'string', default: '1' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BATCH = Number(values.batch);
const INFLIGHT = Number(values.inflight);
const PREFIX = `tail-${process.pid}-${Date.now().toString(36)}`;
const envelope = envelopeMaker({ sessions: 100, payloadBytes: 1024 });

// ---------- per-message marks ----------
let marks = [];
const markOf = (i) => (marks[i] ??= {});
/** The read being handed over now: when, how many entries, how many of each session so far. */
let read;
const reads = [];
function beginRead() {
  read = { at: performance.now(), size: 0, sessions: new Map() };
  reads.push(read);
}
function inRead(i, session) {
  const m = markOf(i);
  m.read = read.at;
  m.readOf = read;
  m.before = read.sessions.get(session) ?? 0;
  read.sessions.set(session, m.before + 1);
  read.size++;
}

const deliverOriginal = PartitionReader.prototype.deliver;
PartitionReader.prototype.deliver = function (reply) {
  beginRead();
  return deliverOriginal.call(this, reply);
};
const onEntryOriginal = RedisGroup.prototype.onEntry;
RedisGroup.prototype.onEntry = function (n, lease, entry, delivered) {
  const result = onEntryOriginal.call(this, n, lease, entry, delivered);
  const delivery = undefined;
  if (delivery && read) inRead(delivery.envelope.payload.i, delivery.envelope.sessionId);
  return result;
};

const { SessionLanes } = await import('/work/main/packages/bus-core/dist/session-lanes.js');
if ((process.env.ELIM ?? '').includes('M')) { const orig = SessionLanes.prototype.push; SessionLanes.prototype.push = function (d) { d.deliveryId = undefined; return orig.call(this, d); }; }
if ((process.env.ELIM ?? '').includes('N')) { const orig = SessionLanes.prototype.completeHead; SessionLanes.prototype.completeHead = function (lane, held) { orig.call(this, lane, held); held.delivery = undefined; }; }
if ((process.env.ELIM ?? '').includes('O')) { const orig = SessionLanes.prototype.push; SessionLanes.prototype.push = function (d) { const r = orig.call(this, d); if (this.byId && !(this.byId instanceof globalThis.ObjMap)) {} return r; }; }
// ---------- targets ----------
async function makeRaw(url) {
  const redis = new Redis(url);
  const reader = new Redis(url);
  const stream = `${PREFIX}-raw`;
  await redis.xgroup('CREATE', stream, 'c', '$', 'MKSTREAM');
  let running = true;
  return {
    name: 'ioredis XADD/XREADGROUP/XACK',
    async publish(e) {
      await redis.xadd(stream, '*', 'envelope', wire(e));
    },
    async subscribe(handler) {
      void (async () => {
        while (running) {
          const reply = await reader.xreadgroup('GROUP', 'c', 'raw', 'COUNT', BATCH, 'BLOCK', 1000, 'STREAMS', stream, '>').catch(() => null);
          for (const [, entries] of reply ?? []) {
            beginRead();
            for (const [id, fields] of entries) {
              const data = JSON.parse(fields[1]);
              inRead(data.payload.i, data.session_id);
              handler({ payload: data.payload, sessionId: data.session_id });
              void redis.xack(stream, 'c', id);
            }
          }
        }
      })();
    },
    async close() {
      running = false;
      reader.disconnect();
      await redis.del(stream);
      await redis.quit();
    },
  };
}

async function makeBus(url) {
  const streamPrefix = `${PREFIX}-bus`;
  const bus = await createMessageBus({ url, streamPrefix, concurrency: INFLIGHT, readBatchSize: BATCH, maxBufferedPerGroup: 20_000 });
  return {
    name: '@woodwork/bus-redis',
    publish: (e) => bus.publish(e),
    subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: INFLIGHT }),
    close: () => bus.close(),
  };
}

/**
 * Half and half, to tell which side of the bus a cost is on: `pub` publishes through the bus and
 * reads with the raw loop (its own group on the bus's partition streams); `sub` writes the raw XADD
 * (the bus's fields: envelope and token) to the session's partition stream and consumes with the bus.
 */
async function makeBusPublishRawConsume(url) {
  const streamPrefix = `${PREFIX}-pub`;
  const bus = await createMessageBus({ url, streamPrefix, maxBufferedPerGroup: 20_000 });
  const streams = Array.from({ length: bus.layout.partitions }, (_, n) => eventsKey(bus.layout, n));
  const redis = new Redis(url);
  const reader = new Redis(url);
  for (const stream of streams) await redis.xgroup('CREATE', stream, 'raw', '$', 'MKSTREAM');
  let running = true;
  return {
    name: 'bus publish, raw consume',
    publish: (e) => bus.publish(e),
    async subscribe(handler) {
      void (async () => {
        while (running) {
          const reply = await reader.xreadgroup('GROUP', 'raw', 'raw', 'COUNT', BATCH, 'BLOCK', 1000, 'STREAMS', ...streams, ...streams.map(() => '>')).catch(() => null);
          for (const [stream, entries] of reply ?? []) {
            beginRead();
            for (const [id, fields] of entries) {
              const data = JSON.parse(fields[fields.indexOf('envelope') + 1]);
              inRead(data.payload.i, data.session_id);
              handler({ payload: data.payload, sessionId: data.session_id });
              void redis.xack(stream, 'raw', id);
            }
          }
        }
      })();
    },
    async close() {
      running = false;
      reader.disconnect();
      await bus.close();
      await redis.quit();
    },
  };
}

async function makeRawPublishBusConsume(url) {
  const streamPrefix = `${PREFIX}-sub`;
  const bus = await createMessageBus({ url, streamPrefix, concurrency: INFLIGHT, readBatchSize: BATCH, maxBufferedPerGroup: 20_000 });
  const redis = new Redis(url);
  let token = 0;
  return {
    name: 'raw publish, bus consume',
    publish: (e) => redis.xadd(eventsKey(bus.layout, partitionOf(e.sessionId, bus.layout.partitions)), '*', 'envelope', wire(e), 'token', `raw.${++token}`),
    subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: INFLIGHT }),
    async close() {
      await bus.close();
      await redis.quit();
    },
  };
}

// ---------- one run ----------
async function run(make, url) {
  const target = await make(url);
  marks = [];
  reads.length = 0;
  read = undefined;
  const { started, warm, unanswered, watch, cpuLine } = await watchedRun(target, { rate: RATE, seconds: SECONDS, paceMs: Number(values['pace-ms']), envelope, marks }, serverCpuSeconds);
  await target.close();
  const measured = reads.filter((r) => r.at >= started + 1000);
  const sizes = measured.map((r) => r.size).sort((a, b) => a - b);
  console.log(
    `\n${cpuLine}; ` +
      `reads ${measured.length}, entries per read p50 ${sizes[Math.floor(sizes.length / 2)] ?? 0} max ${sizes.at(-1) ?? 0}; ` +
      `publishes unanswered p50 ${unanswered.p50} p99 ${unanswered.p99} max ${unanswered.max}; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
  );
  reportTail({
    name: target.name,
    rate: RATE,
    list: marks.slice(warm),
    started,
    watch,
    hops: [
      ['publish->stored', 'sent', 'stored'],
      ['publish->read', 'sent', 'read'],
      ['read->handler', 'read', 'handler'],
    ],
    describe: (m) => `read of ${m.readOf?.size ?? '-'}, ${m.before ?? '-'} of its session before it`,
  });
}

// ---------- the server ----------
let serverPid;
const serverCpuSeconds = () => processCpuSeconds(serverPid);
async function startServer() {
  const url = values.url ?? process.env.REDIS_URL;
  if (url) return { url, stop: async () => undefined };
  const own = await ownServer({ bin: process.env.REDIS_SERVER_BIN ?? 'redis-server', name: 'redis-server', args: (port, dir) => ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--auto-aof-rewrite-percentage', '0'] });
  serverPid = own.pid;
  return { url: `redis://127.0.0.1:${own.port}`, stop: own.stop };
}

const server = await startServer();
try {
  const all = { raw: makeRaw, bus: makeBus, pub: makeBusPublishRawConsume, sub: makeRawPublishBusConsume };
  const targets = values.target === 'both' ? [makeRaw, makeBus] : values.target.split(',').map((name) => {
    if (!all[name]) throw new Error(`--target: one of both, raw, bus, pub, sub (or several, comma-separated); got ${name}`);
    return all[name];
  });
  for (const make of targets) await run(make, server.url);
} finally {
  await server.stop();
}
process.exit(0);
