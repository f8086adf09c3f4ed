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
import { PartitionReader } from '../../../packages/bus-redis/dist/partition-reader.js';
import { RedisGroup } from '../../../packages/bus-redis/dist/redis-group.js';
import { envelopeMaker } from '../lib/stats.mjs';
import { redisTargets } from '../lib/redis-targets.mjs';
import { ownServer, processCpuSeconds } from '../lib/servers.mjs';
import { reportTail, watchedRun } from '../lib/tail.mjs';

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
  const delivery = this.lanes.holding(`${n}/${entry.id}`);
  if (delivery && read) inRead(delivery.envelope.payload.i, delivery.envelope.sessionId);
  return result;
};

// ---------- targets ----------
const targets = redisTargets({ prefix: PREFIX, batch: BATCH, inflight: INFLIGHT, hooks: { beginRead, inRead } });

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
  const chosen = values.target === 'both' ? [targets.raw, targets.bus] : values.target.split(',').map((name) => {
    if (!targets[name]) throw new Error(`--target: one of both, raw, bus, pub, sub (or several, comma-separated); got ${name}`);
    return targets[name];
  });
  for (const make of chosen) await run(make, server.url);
} finally {
  await server.stop();
}
process.exit(0);
