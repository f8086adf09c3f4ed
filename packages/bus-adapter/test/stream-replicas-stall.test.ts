import { StreamManager } from '@woodwork/bus-adapter';
import { createMessageBus } from '@woodwork/bus-memory';
import { expect, it } from 'vitest';

it('producer replicas: credits reach the replica that writes (window 1)', async () => {
  const bus = createMessageBus({ closeTimeoutMs: 100 });
  const got: string[] = [];
  const consumer = new StreamManager(bus, { componentId: 'out', onStream: async (r) => { for await (const c of r) got.push(String(c)); } });
  await consumer.start();
  const a = new StreamManager(bus, { componentId: 'agent', window: 1 });
  const b = new StreamManager(bus, { componentId: 'agent', window: 1 });
  await a.start(); await b.start();
  const w = await a.createStream<string>({ target: 'out', sessionId: 's' });
  const t = setTimeout(() => console.log('STALLED: received', got.length, 'written', w.chunksWritten, 'taken', w.chunksTaken), 2000);
  for (let i = 0; i < 20; i++) await w.write(`c${i}`);
  await w.end();
  clearTimeout(t);
  await new Promise((r) => setTimeout(r, 50));
  expect(got).toHaveLength(20);
  await bus.close();
}, 4000);
