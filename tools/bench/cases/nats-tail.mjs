#!/usr/bin/env node
/**
 * Where the slowest messages of the `nats` case's fixed-rate run spend their time (a diagnostic,
 * not a comparison figure). Raw nats.js and the bus each run at the same fixed rate; for every
 * message it records, in ms after its publish call:
 * - PubAck: the publish call resolved (the server stored it and answered);
 * - arrival: the pulled message reached the client (its subscription's callback);
 * - flush: the bus handed the socket read's batch to the group (its lanes); raw: the `consume()`
 *   iterator yielded it;
 * - handler: the handler started.
 * For the slowest 1 % it prints the median and max of each hop and how many overlapped a GC or an
 * event-loop stall, then the stalls themselves (GC from a PerformanceObserver, event-loop delay
 * from a 1 ms interval timer), so a tail can be pinned on a hop, on the process, or on the server.
 * (lib/tail.mjs). The bus's internals are timed by wrapping prototypes of its built files (this
 * process only).
 *
 *   npm run bench -- nats-tail [--rate 5000] [--seconds 3] [--target both|raw|bus] [--pace-ms 1]
 *                              [--partitions P] [--url nats://...]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createMessageBus } from '@woodwork/bus-nats';
import { PartitionPuller } from '../../../packages/bus-nats/dist/partition-puller.js';
import { PubAcks } from '../../../packages/bus-nats/dist/pub-acks.js';
import { envelopeMaker, wire } from '../lib/stats.mjs';
import { reportTail, watchedRun } from '../lib/tail.mjs';
import { ownServer, processCpuSeconds } from '../lib/servers.mjs';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    seconds: { type: 'string', default: '3' },
    target: { type: 'string', default: 'both' },
    url: { type: 'string' },
    batch: { type: 'string', default: '256' },
    inflight: { type: 'string', default: '64' },
    'pace-ms': { type: 'string', default: '1' },
    partitions: { type: 'string' },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const BATCH = Number(values.batch);
const INFLIGHT = Number(values.inflight);
const PREFIX = `tail-${process.pid}-${Date.now().toString(36)}`;
const envelope = envelopeMaker({ sessions: 100, payloadBytes: 1024 });

// ---------- per-message timestamps ----------
let marks = []; // i -> { sent, stored (PubAck), arrival, flush, handler }
const seqToI = new Map();
const arrivalBySeq = new Map();
const flushBySeq = new Map();
function reset() {
  marks = [];
  seqToI.clear();
  arrivalBySeq.clear();
  flushBySeq.clear();
}
const markOf = (i) => (marks[i] ??= {});

// The bus's publish (PubAck with its stream sequence) and pull path.
const publishOriginal = PubAcks.prototype.publish;
PubAcks.prototype.publish = function (subject, body, msgID, ms) {
  const promise = publishOriginal.call(this, subject, body, msgID, ms);
  const i = Number(/"payload":\{"i":(\d+)/.exec(body)?.[1]);
  promise.then((ack) => seqToI.set(ack.seq, i), () => undefined);
  return promise;
};
const receivedOriginal = PartitionPuller.prototype.received;
PartitionPuller.prototype.received = function (msg) {
  arrivalBySeq.set(msg.seq, performance.now());
  const result = receivedOriginal.call(this, msg);
  // No request left open: the next message of this partition waits on the server for a new pull.
  if (this.open.length === 0) count('ranDry');
  return result;
};
const counts = {};
const count = (name) => (counts[name] = (counts[name] ?? 0) + 1);
for (const method of ['droppedArrival', 'pullMore', 'status', 'reconnected', 'closeInbox']) {
  const original = PartitionPuller.prototype[method];
  PartitionPuller.prototype[method] = function (...args) {
    const result = original.apply(this, args);
    if (method !== 'pullMore' || result) count(method === 'status' ? `status ${args[1]}` : method);
    return result;
  };
}
const flushOriginal = PartitionPuller.prototype.flush;
PartitionPuller.prototype.flush = function () {
  const now = performance.now();
  for (const msg of this.burst) flushBySeq.set(msg.seq, now);
  return flushOriginal.call(this);
};

// ---------- targets ----------
async function makeRaw(url) {
  const nc = await connect({ servers: url });
  // The pulled message's arrival in the client, as for the bus (its subscription callback).
  const subscribe = nc.subscribe.bind(nc);
  nc.subscribe = (subject, opts) => {
    const callback = opts?.callback;
    if (!callback) return subscribe(subject, opts);
    return subscribe(subject, {
      ...opts,
      callback: (error, msg) => {
        if (msg?.reply?.startsWith('$JS.ACK.')) {
          const tokens = msg.reply.split('.');
          arrivalBySeq.set(Number(tokens[tokens.length === 9 ? 5 : 7]), performance.now());
        }
        callback(error, msg);
      },
    });
  };
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const name = `${PREFIX}-raw`;
  await jsm.streams.add({ name, subjects: [`${name}.>`], duplicate_window: 120e9 });
  let messages;
  return {
    name: 'raw nats.js',
    async publish(e) {
      const ack = await js.publish(`${name}.${e.sessionId}.${e.eventType}`, wire(e), { msgID: `pub-${e.messageId}` });
      seqToI.set(ack.seq, e.payload.i);
    },
    async subscribe(handler) {
      await jsm.consumers.add(name, { durable_name: 'c', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, max_ack_pending: 20_000 });
      const consumer = await js.consumers.get(name, 'c');
      messages = await consumer.consume({ max_messages: BATCH });
      void (async () => {
        for await (const m of messages) {
          flushBySeq.set(m.seq, performance.now());
          const data = JSON.parse(m.string());
          handler({ payload: data.payload });
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
  const streamPrefix = `${PREFIX}-bus`;
  const bus = await createMessageBus({ url, streamPrefix, concurrency: INFLIGHT, fetchBatch: BATCH, maxHeldPerGroup: 20_000, maxAckPending: 20_000, ...(values.partitions ? { partitions: Number(values.partitions) } : {}) });
  return {
    name: 'bus-nats',
    publish: (e) => bus.publish(e),
    subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: INFLIGHT }),
    async close() {
      await bus.close();
      const nc = await connect({ servers: url });
      const jsm = await jetstreamManager(nc);
      for (const s of ['EVENTS', 'DLQ', 'STATE']) await jsm.streams.delete(`${streamPrefix}~${s}`).catch(() => undefined);
      await nc.close();
    },
  };
}

// ---------- one fixed-rate run (lib/tail.mjs: the same schedule as lib/stats.mjs latencyAtRate) ----------
async function run(make, url) {
  const target = await make(url);
  reset();
  for (const k of Object.keys(counts)) delete counts[k];
  const { started, warm, watch, cpuLine } = await watchedRun(target, { rate: RATE, seconds: SECONDS, paceMs: Number(values['pace-ms']), envelope, marks }, serverCpuSeconds);
  console.log(`\n${cpuLine}; puller events ${JSON.stringify(counts)}; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
  await target.close();
  for (const [seq, i] of seqToI) {
    const m = markOf(i);
    m.seq = seq;
    m.arrival = arrivalBySeq.get(seq);
    m.flush = flushBySeq.get(seq);
  }
  reportTail({
    name: target.name,
    rate: RATE,
    list: marks.slice(warm),
    started,
    watch,
    hops: [
      ['publish->PubAck', 'sent', 'stored'],
      ['publish->arrival', 'sent', 'arrival'],
      ['arrival->flush', 'arrival', 'flush'],
      ['flush->handler', 'flush', 'handler'],
      ['arrival->handler', 'arrival', 'handler'],
    ],
    describe: (m) => `seq ${m.seq}`,
  });
}

// ---------- the server ----------
let serverPid;
const serverCpuSeconds = () => processCpuSeconds(serverPid);
async function startServer() {
  const url = values.url ?? process.env.NATS_URL;
  if (url) return { url, stop: async () => undefined };
  const own = await ownServer({ bin: process.env.NATS_SERVER_BIN ?? 'nats-server', name: 'nats-server', args: (port, dir) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir] });
  serverPid = own.pid;
  return { url: `nats://127.0.0.1:${own.port}`, stop: own.stop };
}

const server = await startServer();
try {
  const targets = values.target === 'raw' ? [makeRaw] : values.target === 'bus' ? [makeBus] : [makeRaw, makeBus];
  for (const make of targets) await run(make, server.url);
} finally {
  await server.stop();
}
process.exit(0);
