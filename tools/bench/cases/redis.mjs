#!/usr/bin/env node
/**
 * The Redis bus beside bare ioredis doing the same work against the same server in one run:
 * - raw: `XADD` of the envelope's wire JSON (field `envelope`) awaiting each reply (the same number
 *   of publishes in flight), one consumer group read with `XREADGROUP COUNT <batch> BLOCK` on its
 *   own connection, JSON.parse per entry, the handler, `XACK` per entry (not awaited: pipelined);
 * - bus: `publish` with the same number in flight (a plain XADD carrying its idempotency token), a
 *   durable group with the same concurrency and read batch; what the raw loop does not do and the
 *   bus does: validation on publish and on read, per-session order (a session's next message starts
 *   once the previous one's ack is queued: acks go out in order per partition, one call in flight
 *   each, so the server always holds a prefix of them), leases, fenced acks batched per turn.
 *   (Until 4 Dec 2026 a third row showed raw with the bus's former rule, the next message of a
 *   session only after the previous XACK's reply; the bus no longer waits for it.)
 * Both on one redis-server of its own (AOF on, everysec, automatic AOF rewrite off) unless --url
 * names one. The rewrite is off because it forks the server every 64 MB written, every few seconds
 * at these rates: each fork stopped the server for 8-40 ms on this machine (INFO latest_fork_usec,
 * LATENCY HISTORY fork), twice or so in each 4 s latency run, and whichever side was measuring then
 * took it as its p99 (the raw p99 of 5-8 ms on a quiet machine). `--aof-rewrite` turns it back on.
 * Measured:
 * throughput at saturation (first publish to last handled), then p50/p99 of publish call to
 * handler start at a fixed rate of half the raw maximum after a 1 s warm-up, with at most 4,096
 * publishes unanswered (lib/stats.mjs: a target that cannot publish at that rate is reported as not
 * sustaining it, with the rate it reached, instead of measuring a backlog; the bus is then also
 * measured at half its own saturated max), then 100,000
 * sessions with one message each on the same connections (time, client heap growth). Prints a
 * table and, last, one JSON line.
 *
 * Throughput is measured in `--rounds` rounds (default 5) after one warm-up of each target, the
 * order of the targets rotating from round to round so that load drifting on a shared machine hits
 * all of them; the ratio is the median of the rounds' ratios, the rows show medians. The fixed-rate
 * latency likewise runs in `--latency-rounds` rounds (default 5), the order rotating: each row shows
 * the medians of its rounds' p50 and p99, and the added p99 is the median of the rounds' bus p99
 * minus raw p99. Measured once each, one hiccup of the shared machine (a GC, the process or the
 * server off CPU for tens of ms) landed in one target's run and became its p99; raw and bus
 * measured at once in one process (same hiccups) had p99s within about 1 ms of each other. The load
 * average is printed at the start and at the end.
 *
 *   npm run bench -- redis [--messages 20000] [--sessions 100] [--inflight 64] [--batch 256]
 *                          [--payload 1024] [--seconds 3] [--rounds 5] [--latency-rounds 5] [--pace-ms 1]
 *                          [--url redis://...] [--skip-100k]
 *                          [--appendfsync everysec|always|no] [--aof-rewrite] [--acl] [--tls]
 *
 * `--pace-ms`: the fixed-rate producer sends what fell due every N ms (0: it checks every loop turn
 * and spins a core that the server and the client's GC need on this 2-core machine; lib/stats.mjs
 * `pace`), the same for every target.
 *
 * Production settings, on its own server (the README's "Production" figures): `--appendfsync`
 * sets the AOF fsync policy; `--acl` makes both sides log in as an ACL user with exactly the bus's
 * documented rules (`redisAclRules('bench-*')`, checked on every command); `--tls` serves only TLS
 * (`--port 0 --tls-port`, certificates made with openssl, `tls-auth-clients yes`) and both sides
 * connect with the CA and a client certificate.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createMessageBus, redisAclRules } from '@woodwork/bus-redis';
import { makeCertificates } from '../../../packages/bus-redis/test/support/tls-certs.mjs';
import { envelopeMaker, fmt, heapAfterGc, latencyAtRate, latencyInRounds, median, printTable, publishAll, throughput, wire } from '../lib/stats.mjs';
import { freePort, portOpen } from '../lib/servers.mjs';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    sessions: { type: 'string', default: '100' },
    inflight: { type: 'string', default: '64' },
    batch: { type: 'string', default: '256' },
    payload: { type: 'string', default: '1024' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    'latency-rounds': { type: 'string', default: '5' },
    'pace-ms': { type: 'string', default: '1' },
    url: { type: 'string' },
    'skip-100k': { type: 'boolean', default: false },
    appendfsync: { type: 'string', default: 'everysec' },
    'aof-rewrite': { type: 'boolean', default: false },
    acl: { type: 'boolean', default: false },
    tls: { type: 'boolean', default: false },
  },
});
if (!['everysec', 'always', 'no'].includes(values.appendfsync)) throw new Error(`--appendfsync must be everysec, always or no; got ${values.appendfsync}`);
const ACL_USER = 'bench';
const ACL_PASSWORD = `bench-${Math.random().toString(36).slice(2)}`;
/** What both sides add to connect (ACL login, TLS): ioredis options for the raw client, bus options for the bus. */
const security = { raw: {}, bus: {} };
const MESSAGES = Number(values.messages);
const SESSIONS = Number(values.sessions);
const INFLIGHT = Number(values.inflight);
const BATCH = Number(values.batch);
const PAYLOAD = Number(values.payload);
const LATENCY_SECONDS = Number(values.seconds);
const ROUNDS = Math.max(1, Number(values.rounds));
const PACE_MS = Number(values['pace-ms']);
const LATENCY_ROUNDS = Math.max(1, Number(values['latency-rounds']));
const PREFIX = `bench-${process.pid}-${Date.now().toString(36)}`;
const MAX_BUFFERED = 20_000;
const envelope = envelopeMaker({ sessions: SESSIONS, payloadBytes: PAYLOAD });
/** What each side is given, printed with the results: the same publishes in flight, read batch and encoding. */
const SETTINGS = {
  raw: `${INFLIGHT} publishes in flight (XADD, each awaited), XREADGROUP COUNT ${BATCH} BLOCK 1000 on its own connection, XACK per entry (not awaited), envelope wire JSON in field "envelope"`,
  bus: `${INFLIGHT} publishes in flight (bus.publish, each awaited), readBatchSize ${BATCH}, concurrency ${INFLIGHT}, maxBufferedPerGroup ${fmt(MAX_BUFFERED)}, one durable group over its partitions, the same wire JSON`,
};
const work = { messages: MESSAGES, inflight: INFLIGHT, envelope };

// ---------- the server ----------
async function startServer() {
  const url = values.url ?? process.env.REDIS_URL;
  if (url) {
    if (values.acl || values.tls || values.appendfsync !== 'everysec' || values['aof-rewrite']) throw new Error('--acl, --tls, --appendfsync and --aof-rewrite need the bench\'s own server: leave out --url and REDIS_URL');
    return { url, own: false, stop: async () => undefined };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'woodwork-bench-redis-'));
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const certs = values.tls ? makeCertificates() : undefined;
  const listen = certs
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', certs.serverCertFile, '--tls-key-file', certs.serverKeyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'yes']
    : ['--port', String(port)];
  const proc = spawn(bin, [...listen, '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', values.appendfsync, '--save', '', ...(values['aof-rewrite'] ? [] : ['--auto-aof-rewrite-percentage', '0'])], { stdio: 'ignore' });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  for (let i = 0; !(await portOpen(port)); i++) {
    if (i > 400) throw new Error('redis-server did not start (install it, or pass --url)');
    await new Promise((r) => setTimeout(r, 25));
  }
  if (certs) {
    security.raw.tls = { ca: readFileSync(certs.caFile), cert: readFileSync(certs.clientCertFile), key: readFileSync(certs.clientKeyFile) };
    security.bus.tls = { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile };
  }
  const serverUrl = `${certs ? 'rediss' : 'redis'}://127.0.0.1:${port}`;
  if (values.acl) {
    const admin = new Redis(serverUrl, security.raw);
    await admin.call('ACL', 'SETUSER', ACL_USER, 'on', `>${ACL_PASSWORD}`, ...redisAclRules('bench-*'));
    await admin.quit();
    Object.assign(security.raw, { username: ACL_USER, password: ACL_PASSWORD });
    Object.assign(security.bus, { username: ACL_USER, password: ACL_PASSWORD });
  }
  return {
    url: serverUrl,
    own: true,
    describe: `own redis-server (AOF ${values.appendfsync}, automatic rewrite ${values['aof-rewrite'] ? 'on' : 'off'}${values.acl ? ', ACL user with the documented rules' : ''}${values.tls ? ', TLS only, client certificates' : ''})`,
    stop: async () => {
      proc.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
      certs?.remove();
    },
  };
}

let seq = 0;

// ---------- targets ----------
async function makeRaw(url) {
  const redis = new Redis(url, security.raw);
  const reader = new Redis(url, security.raw);
  const stream = `${PREFIX}-raw-${++seq}`;
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
            for (const [id, fields] of entries) {
              const data = JSON.parse(fields[1]);
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
  const streamPrefix = `${PREFIX}-bus-${++seq}`;
  const bus = await createMessageBus({ url, ...security.bus, streamPrefix, concurrency: INFLIGHT, readBatchSize: BATCH, maxBufferedPerGroup: MAX_BUFFERED });
  return {
    name: '@woodwork/bus-redis',
    bus,
    publish: (e) => bus.publish(e),
    subscribe: (handler) => bus.subscribe('bench.msg', handler, { componentId: 'bench', concurrency: INFLIGHT }),
    async close() {
      await bus.close();
      await deletePrefix(url, streamPrefix, bus.layout.partitions);
    },
  };
}

/** Removes a bench prefix's keys (only ever our own; leases, tokens and memberships expire). */
async function deletePrefix(url, prefix, partitions) {
  const redis = new Redis(url, security.raw);
  const base = `${prefix}:{${prefix}}`;
  const keys = [`${base}:meta`, `${base}:groups`, `${base}:group-active`, `${base}:dlq`];
  for (let n = 0; n < partitions; n++) for (const k of ['events', 'targets', 'subscribed']) keys.push(`${prefix}:{${prefix}/${n}}:${k}`);
  for (const key of keys) await redis.del(key);
  await redis.quit();
}

async function manySessions(url) {
  const count = 100_000;
  const heapBefore = heapAfterGc();
  const target = await makeBus(url);
  let received = 0;
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  await target.subscribe(() => {
    if (++received === count) done();
  });
  const started = performance.now();
  await publishAll(target, count, (i) => envelope(i, 0, `session-${i}`), INFLIGHT);
  await finished;
  const ms = performance.now() - started;
  const health = await target.bus.healthCheck();
  const heapAfter = heapAfterGc();
  await target.close();
  return { ms, clientMb: (heapAfter - heapBefore) / (1024 * 1024), lanesLeft: health.details.sessionLanes, heldLeft: health.details.heldMessages };
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

const server = await startServer();
try {
  const loadAtStart = load();
  const makers = [makeRaw, makeBus];
  for (const make of makers) await throughput(() => make(server.url), work); // warm-up
  // The server's CPU (INFO cpu, user + sys) per message of each run: where TLS and ACL checks cost.
  const admin = new Redis(server.url, security.raw);
  const serverCpuSeconds = async () => {
    const info = await admin.info('cpu');
    return ['used_cpu_user', 'used_cpu_sys'].reduce((sum, k) => sum + Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? 0), 0);
  };
  /** Per target: each round's { perSecond, cpuUsPerMessage, serverCpuUsPerMessage }. */
  const runs = makers.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < makers.length; k++) {
      const i = (k + round) % makers.length;
      const before = await serverCpuSeconds();
      const result = await throughput(() => makers[i](server.url), work);
      runs[i].push({ ...result, serverCpuUsPerMessage: ((await serverCpuSeconds()) - before) * 1e6 / MESSAGES });
    }
  }
  await admin.quit();
  const ratios = runs[1].map((bus, round) => bus.perSecond / runs[0][round].perSecond);
  const rows = runs.map((rounds, i) => ({
    make: makers[i],
    perSecond: median(rounds.map((r) => r.perSecond)),
    cpuUsPerMessage: median(rounds.map((r) => r.cpuUsPerMessage)),
    serverCpuUsPerMessage: median(rounds.map((r) => r.serverCpuUsPerMessage)),
  }));
  const rate = Math.floor(rows[0].perSecond / 2);
  // Latency in rounds too, the order rotating (lib/stats.mjs latencyInRounds): each row shows the
  // medians of its rounds; the added p99 is the median of the rounds' bus-minus-raw differences.
  const latency = await latencyInRounds(
    rows.map((row) => () => row.make(server.url)),
    { rounds: LATENCY_ROUNDS, ratePerSecond: rate, seconds: LATENCY_SECONDS, envelope, paceMs: PACE_MS },
  );
  rows.forEach((row, i) => Object.assign(row, latency.rows[i]));
  const { addedP99Us } = latency;
  // The rate asked for may be above what the bus sustains (its saturated max below it): its latency
  // there measures a backlog. Then also measure it at half its own max, the hop at a rate it keeps.
  const busAtRate = rows[1];
  const ownRate = Math.floor(busAtRate.perSecond / 2);
  // Also when it published at the rate but its saturated max is below it (its handlers then fall
  // behind: a backlog again).
  const busAtOwnHalf = busAtRate.sustained && rate <= busAtRate.perSecond ? undefined : { rate: ownRate, ...(await latencyAtRate(() => makeBus(server.url), { ratePerSecond: ownRate, seconds: LATENCY_SECONDS, envelope, paceMs: PACE_MS })) };
  const sessions = values['skip-100k'] ? undefined : await manySessions(server.url);
  const loadAtEnd = load();

  const [rawRow, busRow] = rows;
  const names = ['ioredis XADD/XREADGROUP/XACK', '@woodwork/bus-redis'];
  console.log(`redis bus benchmark: ${fmt(MESSAGES)} messages of ${PAYLOAD} B over ${SESSIONS} sessions, node ${process.version}`);
  console.log(`server: ${server.own ? `${server.describe} at ${server.url}` : server.url}`);
  console.log(`raw settings: ${SETTINGS.raw}`);
  console.log(`bus settings: ${SETTINGS.bus}`);
  console.log(`fixed-rate producer: sends what fell due every ${PACE_MS > 0 ? `${PACE_MS} ms` : 'loop turn (spinning)'}, the same for every target`);
  console.log(`load average (1, 5, 15 min): ${loadAtStart} at the start, ${loadAtEnd} at the end; ${ROUNDS} rounds after a warm-up of each target, order rotating (medians below)`);
  runs[0].forEach((raw, round) => {
    console.log(`  round ${round + 1}: raw ${fmt(raw.perSecond)} msgs/s; bus ${fmt(runs[1][round].perSecond)}; ratio ${fmt(ratios[round], 2)}`);
  });
  console.log('');
  rows.forEach((r, i) => (r.name = names[i]));
  printTable(rows);
  console.log(`redis-server CPU per message (INFO cpu, median of the rounds): raw ${fmt(rawRow.serverCpuUsPerMessage, 1)} us, bus ${fmt(busRow.serverCpuUsPerMessage, 1)} us`);
  console.log('');
  const ratio = median(ratios);
  console.log(`bus / raw throughput: ${fmt(ratio, 2)} (median of the rounds' ratios); added p99 at half the raw max rate: ${fmt(addedP99Us)} us (median of ${LATENCY_ROUNDS} paired rounds)`);
  rows.forEach((r, i) => console.log(`  p99 per latency round, ${names[i]}: ${r.roundP99Us.map((us) => fmt(us)).join(', ')} us`));
  rows.forEach((r, i) => console.log(`  this process's GC per latency round, ${names[i]} (total / longest ms, full GCs): ${r.roundGc.map((g) => `${fmt(g.ms)} / ${fmt(g.maxMs, 1)}, ${g.major}`).join('; ')}`));
  for (const r of rows) {
    const kept = r.sustained && rate <= r.perSecond;
    console.log(
      `at ${fmt(rate)}/s (half the raw max): ${r.name} published ${fmt(r.sentPerSecond)}/s, ${r.sustained ? 'sustained' : 'NOT sustained'}; its max at saturation ${fmt(r.perSecond)}/s${kept ? '' : ' (its latency includes a backlog)'}`,
    );
  }
  if (busAtOwnHalf) {
    console.log(
      `bus at half its own max (${fmt(busAtOwnHalf.rate)}/s): published ${fmt(busAtOwnHalf.sentPerSecond)}/s (${busAtOwnHalf.sustained ? 'sustained' : 'NOT sustained'}), p50 ${fmt(busAtOwnHalf.p50Us)} us, p99 ${fmt(busAtOwnHalf.p99Us)} us`,
    );
  }
  if (sessions) {
    console.log(`100,000 sessions x 1 message: ${fmt(sessions.ms)} ms, client heap +${fmt(sessions.clientMb, 1)} MB, session lanes left ${sessions.lanesLeft}, held ${sessions.heldLeft}`);
  }
  console.log(
    JSON.stringify({
      backend: 'redis',
      server: server.own ? { appendfsync: values.appendfsync, aofRewrite: values['aof-rewrite'], acl: values.acl, tls: values.tls } : 'given',
      serverCpuUsPerMessage: Number(busRow.serverCpuUsPerMessage.toFixed(1)),
      rawServerCpuUsPerMessage: Number(rawRow.serverCpuUsPerMessage.toFixed(1)),
      messages: MESSAGES,
      payloadBytes: PAYLOAD,
      sessions: SESSIONS,
      inflight: INFLIGHT,
      batch: BATCH,
      rawSettings: SETTINGS.raw,
      busSettings: SETTINGS.bus,
      throughput: Math.round(busRow.perSecond),
      rawThroughput: Math.round(rawRow.perSecond),
      ratio: Number(ratio.toFixed(3)),
      rounds: ROUNDS,
      roundRatios: ratios.map((r) => Number(r.toFixed(3))),
      loadAverageStart: loadAtStart,
      loadAverageEnd: loadAtEnd,
      rateForLatency: rate,
      paceMs: PACE_MS,
      rateSustained: busRow.sustained && rate <= busRow.perSecond,
      rawRateSustained: rawRow.sustained && rate <= rawRow.perSecond,
      latencyRounds: LATENCY_ROUNDS,
      addedP99Us,
      p50Us: busRow.p50Us,
      p99Us: busRow.p99Us,
      rawP50Us: rawRow.p50Us,
      rawP99Us: rawRow.p99Us,
      busOwnHalfRate: busAtOwnHalf?.rate ?? null,
      busOwnHalfSustained: busAtOwnHalf?.sustained ?? null,
      busOwnHalfP50Us: busAtOwnHalf?.p50Us ?? null,
      busOwnHalfP99Us: busAtOwnHalf?.p99Us ?? null,
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
