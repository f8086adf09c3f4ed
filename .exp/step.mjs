import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
const nc = await connect({ servers: process.env.URL ?? '127.0.0.1:4222' });
const js = jetstream(nc, { timeout: 2500 }); const jsm = await jetstreamManager(nc, { timeout: 2500, checkAPI: false });
const name = `steptest-${process.pid}`;
await jsm.streams.add({ name, subjects: [`${name}.>`], max_msgs_per_subject: 1 });
const r = [], w = [];
let seq = 0;
for (let i = 0; i < 150; i++) {
  let t = performance.now();
  try { const m = await jsm.streams.getMessage(name, { last_by_subj: `${name}.x` }); seq = m?.seq ?? 0; } catch { seq = 0; }
  r.push(performance.now() - t); t = performance.now();
  const ack = await js.publish(`${name}.x`, `beat ${i}`, { expect: { lastSubjectSequence: seq } });
  w.push(performance.now() - t);
  await new Promise((res) => setTimeout(res, 20));
}
const q = (a, p) => a.sort((x, y) => x - y)[Math.floor(a.length * p)].toFixed(1);
console.log(`read p50 ${q(r, .5)} p99 ${q(r, .99)} max ${Math.max(...r).toFixed(1)} | write p50 ${q(w, .5)} p99 ${q(w, .99)} max ${Math.max(...w).toFixed(1)}`);
await jsm.streams.delete(name); await nc.close();
