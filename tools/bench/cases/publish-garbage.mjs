#!/usr/bin/env node
/**
 * Bytes allocated per publish to make a message's wire text, and the time, before any I/O: a
 * diagnostic of what a busy publisher's collector pays for (V8's sampling heap profiler, collected
 * objects included, 512-byte sampling; so the times include the profiler's cost). The bench's 1 KiB
 * envelope (`envelopeMaker`, 100 sessions) through:
 * - raw: `JSON.stringify` of the wire object (what the raw clients of the redis and nats cases send);
 * - checked, text spliced: `preparePublish` (checks, plain copies, the payload's own JSON text) and
 *   `encodeWireText` around it (what bus-redis and bus-nats did until 4 Dec 2026);
 * - checked, one stringify: `prepareCheckedPublish` (checks and copies, the size counted during the
 *   walk) and `encodeCheckedWire` (one `JSON.stringify` of the wire form with the copies): what
 *   they do now. The two checked texts are compared byte for byte.
 *
 *   npm run bench -- publish-garbage [--messages 100000]
 */
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { encodeCheckedWire, encodeWireText, prepareCheckedPublish, preparePublish } from '@woodwork/bus-core';
import { envelopeMaker, wire } from '../lib/stats.mjs';

const { values } = parseArgs({ options: { messages: { type: 'string', default: '100000' } } });
const N = Number(values.messages);
const envelope = envelopeMaker({ sessions: 100, payloadBytes: 1024 });
const options = { maxRetries: 3, maxPayloadBytes: 1024 * 1024 };
const session = new Session();
session.connect();

async function measure(label, make) {
  for (let i = 0; i < 20_000; i++) make(i); // warm-up: optimized code
  await session.post('HeapProfiler.startSampling', { samplingInterval: 512, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  let length = 0;
  const started = performance.now();
  for (let i = 0; i < N; i++) length += make(i).length;
  const ms = performance.now() - started;
  const { profile } = await session.post('HeapProfiler.stopSampling');
  let bytes = 0;
  const walk = (node) => {
    bytes += node.selfSize;
    node.children.forEach(walk);
  };
  walk(profile.head);
  console.log(`${label.padEnd(70)}${`${Math.round(bytes / N)} B`.padStart(10)}${`${((ms * 1000) / N).toFixed(2)} us`.padStart(12)}${`${Math.round(length / N)} B`.padStart(10)}`);
}

console.log(`${N.toLocaleString('en-US')} envelopes of a 1 KiB payload, node ${process.version}`);
console.log(`${'wire text made by'.padEnd(70)}${'garbage'.padStart(10)}${'time'.padStart(12)}${'text'.padStart(10)}`);
await measure('raw: JSON.stringify of the wire object', (i) => wire(envelope(i, i)));
await measure('checked, text spliced (preparePublish + encodeWireText)', (i) => {
  const p = preparePublish(envelope(i, i), options);
  return encodeWireText(p.envelope, p);
});
await measure('checked, one stringify (prepareCheckedPublish + encodeCheckedWire)', (i) => {
  const p = prepareCheckedPublish(envelope(i, i), options);
  return encodeCheckedWire(p.envelope, p);
});
const e = envelope(7, 7);
const spliced = preparePublish(e, options);
const checked = prepareCheckedPublish(e, options);
console.log(`the two checked texts are ${encodeWireText(spliced.envelope, spliced) === encodeCheckedWire(spliced.envelope, checked) ? 'identical' : 'DIFFERENT'}`);
session.disconnect();
