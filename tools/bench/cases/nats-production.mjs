#!/usr/bin/env node
/**
 * `npm run bench -- nats-production`: what the production settings cost, the bus beside the bare
 * nats.js JetStream client (the `nats` case's raw loop: `js.publish` awaiting each PubAck, one durable
 * pull consumer read with `consume()`, JSON.parse and `ack()` per message) in the same run, on
 * nats-servers of its own:
 * - `plain/file`   no TLS, no login, file storage (the default streams);
 * - `plain/memory` no TLS, no login, memory storage (`storage: 'memory'`);
 * - `tls/file`     TLS (a CA and server certificate made by openssl) and a user/password login, file storage;
 * - `tls/memory`   the same with memory storage.
 * Each round runs every setting, raw and bus back to back (the order alternating), after one
 * warm-up of each; medians over `--rounds` are printed with the server's CPU per message (from
 * /proc), each setting's throughput against `plain/file`, and one JSON line last.
 *
 *   npm run bench -- nats-production [--messages 10000] [--sessions 100] [--inflight 64]
 *                                    [--batch 256] [--payload 1024] [--rounds 3]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, StorageType, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createMessageBus } from '@woodwork/bus-nats';
import { envelopeMaker, fmt, throughput, wire } from '../lib/stats.mjs';
import { freePort, portOpen } from '../lib/servers.mjs';
import { makeCertificates } from '../../../packages/bus-redis/test/support/tls-certs.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    sessions: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '64' },
    batch: { type: 'string', default: '256' },
    payload: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
  },
});
const MESSAGES = Number(values.messages);
const INFLIGHT = Number(values.inflight);
const BATCH = Number(values.batch);
const PAYLOAD = Number(values.payload);
const ROUNDS = Math.max(1, Number(values.rounds));
const PREFIX = `benchprod-${process.pid}-${Date.now().toString(36)}`;
const USER = 'bench';
const PASSWORD = `bench-${process.pid}-${Math.random().toString(36).slice(2)}`;
const envelope = envelopeMaker({ sessions: Number(values.sessions), payloadBytes: PAYLOAD });
const work = { messages: MESSAGES, inflight: INFLIGHT, envelope };

/** A nats-server of our own (JetStream, store in `dir`), with `config` written to its config file. */
async function startServer(dir, config) {
  const port = await freePort();
  const conf = join(dir, 'server.conf');
  writeFileSync(conf, config);
  const bin = process.env.NATS_SERVER_BIN ?? 'nats-server';
  const proc = spawn(bin, ['-c', conf, '-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'store')], { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 0; !(await portOpen(port)); i++) {
    if (i > 400) throw new Error('nats-server did not start (install it, or set NATS_SERVER_BIN)');
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
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
    },
  };
}

let seq = 0;

function makeRaw(setting) {
  return async () => {
    const nc = await connect({ servers: setting.server.url, ...setting.rawLogin });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const name = `${PREFIX}-raw-${++seq}`;
    await jsm.streams.add({ name, subjects: [`${name}.>`], duplicate_window: 120e9, storage: setting.storage === 'memory' ? StorageType.Memory : StorageType.File });
    let messages;
    return {
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
  };
}

function makeBus(setting) {
  return async () => {
    const streamPrefix = `${PREFIX}-bus-${++seq}`;
    const bus = await createMessageBus({
      url: setting.server.url, streamPrefix, storage: setting.storage, concurrency: INFLIGHT, fetchBatch: BATCH, maxHeldPerGroup: 20_000, maxAckPending: 20_000,
      ...setting.busLogin,
    });
    return {
      publish: (e) => bus.publish(e),
      subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: INFLIGHT }),
      async close() {
        await bus.close();
        const nc = await connect({ servers: setting.server.url, ...setting.rawLogin });
        const jsm = await jetstreamManager(nc);
        for (const stream of [`${streamPrefix}~EVENTS`, `${streamPrefix}~DLQ`, `${streamPrefix}~STATE`]) await jsm.streams.delete(stream).catch(() => undefined);
        await nc.close();
      },
    };
  };
}

const median = (xs) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'woodwork-bench-nats-prod-'));
const plainDir = join(dir, 'plain');
const tlsDir = join(dir, 'tls');
mkdirSync(plainDir, { recursive: true });
mkdirSync(tlsDir, { recursive: true });
const certs = makeCertificates();
const plain = await startServer(plainDir, '');
const secure = await startServer(
  tlsDir,
  `tls {\n  cert_file: "${certs.serverCertFile}"\n  key_file: "${certs.serverKeyFile}"\n}\nauthorization {\n  users = [ { user: "${USER}", password: "${PASSWORD}" } ]\n}\n`,
);
try {
  const tlsRaw = { tls: { ca: readFileSync(certs.caFile, 'utf8') }, user: USER, pass: PASSWORD };
  const tlsBus = { tls: { caFile: certs.caFile }, username: USER, password: PASSWORD };
  const settings = [
    { name: 'plain/file', server: plain, storage: 'file', rawLogin: {}, busLogin: {} },
    { name: 'plain/memory', server: plain, storage: 'memory', rawLogin: {}, busLogin: {} },
    { name: 'tls/file', server: secure, storage: 'file', rawLogin: tlsRaw, busLogin: tlsBus },
    { name: 'tls/memory', server: secure, storage: 'memory', rawLogin: tlsRaw, busLogin: tlsBus },
  ];
  for (const s of settings) {
    s.makers = [makeRaw(s), makeBus(s)];
    s.runs = [[], []];
    for (const make of s.makers) await throughput(make, work); // warm-up
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of settings) {
      for (const i of round % 2 === 0 ? [0, 1] : [1, 0]) {
        const before = s.server.cpuMs();
        const result = await throughput(s.makers[i], work);
        const after = s.server.cpuMs();
        s.runs[i].push({ ...result, serverCpuUsPerMessage: before === undefined || after === undefined ? undefined : ((after - before) * 1000) / MESSAGES });
      }
    }
  }
  const rows = settings.map((s) => {
    const [raw, bus] = s.runs.map((runs) => ({
      perSecond: median(runs.map((r) => r.perSecond)),
      cpuUsPerMessage: median(runs.map((r) => r.cpuUsPerMessage)),
      serverCpuUsPerMessage: runs[0].serverCpuUsPerMessage === undefined ? undefined : median(runs.map((r) => r.serverCpuUsPerMessage)),
    }));
    return { name: s.name, raw, bus, ratio: median(s.runs[1].map((b, i) => b.perSecond / s.runs[0][i].perSecond)) };
  });
  const base = rows[0];
  console.log(`nats production settings: ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${values.sessions} sessions, ${INFLIGHT} in flight, pull batch ${BATCH}, ${ROUNDS} rounds (medians), node ${process.version}`);
  console.log('servers: own nats-servers; tls = TLS 1.3 with an openssl CA + user/password login; bus: its default partitions, concurrency 64');
  console.log('');
  const cols = ['setting', 'raw msgs/s', 'bus msgs/s', 'bus/raw', 'raw vs plain/file', 'bus vs plain/file', 'client us/msg raw', 'client us/msg bus', 'srv us/msg raw', 'srv us/msg bus'];
  const widths = [14, 12, 12, 9, 19, 19, 19, 19, 16, 16];
  console.log(cols.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(''));
  for (const r of rows) {
    const cells = [
      r.name,
      fmt(r.raw.perSecond),
      fmt(r.bus.perSecond),
      fmt(r.ratio, 2),
      fmt(r.raw.perSecond / base.raw.perSecond, 2),
      fmt(r.bus.perSecond / base.bus.perSecond, 2),
      fmt(r.raw.cpuUsPerMessage, 1),
      fmt(r.bus.cpuUsPerMessage, 1),
      r.raw.serverCpuUsPerMessage === undefined ? '-' : fmt(r.raw.serverCpuUsPerMessage, 1),
      r.bus.serverCpuUsPerMessage === undefined ? '-' : fmt(r.bus.serverCpuUsPerMessage, 1),
    ];
    console.log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(''));
  }
  console.log('');
  console.log(
    JSON.stringify({
      backend: 'nats',
      case: 'nats-production',
      messages: MESSAGES,
      payloadBytes: PAYLOAD,
      rounds: ROUNDS,
      settings: rows.map((r) => ({
        name: r.name,
        rawThroughput: Math.round(r.raw.perSecond),
        throughput: Math.round(r.bus.perSecond),
        ratio: Number(r.ratio.toFixed(3)),
        rawServerCpuUsPerMessage: r.raw.serverCpuUsPerMessage === undefined ? null : Number(r.raw.serverCpuUsPerMessage.toFixed(1)),
        serverCpuUsPerMessage: r.bus.serverCpuUsPerMessage === undefined ? null : Number(r.bus.serverCpuUsPerMessage.toFixed(1)),
        cpuUsPerMessage: Number(r.bus.cpuUsPerMessage.toFixed(1)),
        rawCpuUsPerMessage: Number(r.raw.cpuUsPerMessage.toFixed(1)),
      })),
    }),
  );
} finally {
  await plain.stop();
  await secure.stop();
  rmSync(dir, { recursive: true, force: true });
  certs.remove();
}
process.exit(0);
