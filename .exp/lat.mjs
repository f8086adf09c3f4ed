import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, createConnection } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createMessageBus } from '@woodwork/bus-nats';
import net from 'node:net';
let writes = 0, bytes = 0; const ow = net.Socket.prototype.write; net.Socket.prototype.write = function (b, ...a) { writes++; bytes += b.length ?? 0; return ow.call(this, b, ...a); };

const RATE = Number(process.argv[2] ?? 3000), SECONDS = Number(process.argv[3] ?? 6);
const port = await new Promise((r) => { const s = createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const proc = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', mkdtempSync(join(tmpdir(), 'natslat-'))], { stdio: 'ignore' });
const open = () => new Promise((r) => { const s = createConnection({ port, host: '127.0.0.1' }); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
while (!(await open())) await new Promise((r) => setTimeout(r, 25));
const t0 = performance.now();
const events = [];
const logger = { debug: (m, f) => events.push([performance.now() - t0, 'debug', m, JSON.stringify(f)]), info: (m, f) => events.push([performance.now() - t0, 'info', m, JSON.stringify(f)]), warn: (m, f) => events.push([performance.now() - t0, 'warn', m, JSON.stringify(f)]), error: (m, f) => events.push([performance.now() - t0, 'error', m, JSON.stringify(f)]) };
import { connect } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
let bus;
if (process.env.RAW) {
  const nc = await connect({ servers: `nats://127.0.0.1:${port}` }); const js = jetstream(nc); const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'raw', subjects: ['raw.>'], duplicate_window: 120e9 });
  bus = { publish: (e) => js.publish(`raw.${e.sessionId}.${e.eventType}`, JSON.stringify({ message_id: e.messageId, session_id: e.sessionId, payload: e.payload }), { msgID: `pub-${e.messageId}` }),
    subscribe: async (_, handler) => { await jsm.consumers.add('raw', { durable_name: 'c', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, max_ack_pending: 20000 }); const c = await js.consumers.get('raw', 'c'); const it = await c.consume({ max_messages: 256 }); void (async () => { for await (const m of it) { const d = JSON.parse(m.string()); handler({ payload: d.payload }); m.ack(); } })(); },
    close: () => nc.close() };
} else bus = await createMessageBus({ url: `nats://127.0.0.1:${port}`, streamPrefix: 'lat', concurrency: 64, fetchBatch: 256, maxHeldPerGroup: 20000, maxAckPending: 20000, logger, ...(process.env.P ? { partitions: Number(process.env.P) } : {}) });
const lat = [];
await bus.subscribe('bench.msg', (m) => { lat.push([m.payload.sentAt - t0, performance.now() - m.payload.sentAt]); }, { componentId: 'bench', concurrency: 64 });
const text = 'x'.repeat(984);
const h = monitorEventLoopDelay({ resolution: 5 }); h.enable();
const total = RATE * SECONDS; let sent = 0; const started = performance.now();
const pend = new Set();
while (sent < total) {
  const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE));
  while (sent < due) { const p = bus.publish({ messageId: `m-${sent}`, sessionId: `s${sent % 100}`, eventType: 'bench.msg', componentSource: 'b', pattern: 'pub_sub', payload: { i: sent, sentAt: performance.now(), text } }); pend.add(p); p.finally(() => pend.delete(p)); sent++; }
  await new Promise((r) => setImmediate(r));
}
await Promise.all(pend);
while (lat.length < total) await new Promise((r) => setTimeout(r, 5));
h.disable(); console.log(`writes ${writes} (${(writes / total).toFixed(2)} per msg), bytes/write ${(bytes / writes).toFixed(0)}`);
const sorted = lat.map((x) => x[1]).sort((a, b) => a - b);
console.log(`p50 ${sorted[Math.floor(total * 0.5)].toFixed(1)} ms p99 ${sorted[Math.floor(total * 0.99)].toFixed(1)} ms max ${sorted.at(-1).toFixed(1)}; loop delay p99 ${(h.percentile(99) / 1e6).toFixed(1)} max ${(h.max / 1e6).toFixed(1)} ms`);
const buckets = new Map();
for (const [at, l] of lat) { const b = Math.floor(at / 250); const e = buckets.get(b) ?? [0, 0]; buckets.set(b, [Math.max(e[0], l), e[1] + 1]); }
console.log([...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([b, [m, n]]) => `${(b * 0.25).toFixed(2)}s:${m.toFixed(0)}`).join(' '));
for (const e of events) console.log(e.map(String).join(' ').slice(0, 300));
await bus.close();
proc.kill('SIGKILL');
