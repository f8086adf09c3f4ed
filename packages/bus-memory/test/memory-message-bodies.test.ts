/**
 * Each attempt gets objects of its own (message-bodies.ts): the first attempt to ask takes the plain
 * copies `publish` made while validating, every other attempt, group and dead letter decodes its own
 * from the JSON text. Nothing a publisher or a handler does to its objects reaches another reader,
 * and the copy reads exactly like the decoded text.
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type EnvelopeInit, type JsonObject, type MessageEnvelope } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach({ closeTimeoutMs: 20, retry: { initialDelayMs: 1, maxDelayMs: 2 } });
const msg = (init: Partial<EnvelopeInit>) => createEnvelope({ sessionId: 's', eventType: 'mb.work', componentSource: 'test', pattern: 'pub_sub', ...init });

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2_000 && !check(); i++) await new Promise((r) => setTimeout(r, 2));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('payload and metadata objects per attempt', () => {
  it('a publisher changing its objects right after publish changes nothing a handler sees', async () => {
    const bus = makeBus();
    const seen: MessageEnvelope[] = [];
    await bus.subscribe('mb.work', (e) => void seen.push(e), { componentId: 'a' });
    const payload = { list: ['x'], nested: { n: 1 } };
    const metadata: JsonObject = { trace: 't1' };
    await bus.publish(msg({ payload, metadata }));
    payload.list.push('changed');
    payload.nested.n = 2;
    metadata['trace'] = 'changed';
    await waitFor(() => seen.length === 1, 'the delivery');
    expect(seen[0]?.payload).toEqual({ list: ['x'], nested: { n: 1 } });
    expect(seen[0]?.metadata).toEqual({ trace: 't1' });
    expect(seen[0]?.payload).not.toBe(payload);
    expect(seen[0]?.metadata).not.toBe(metadata);
  });

  it('two groups, a retry and the dead letter each get objects of their own, equal to the decoded JSON', async () => {
    const bus = makeBus();
    const text = '{"__proto__":{"own":true},"zero":-0,"list":[1,{"k":"v"}]}';
    const byA: JsonObject[] = [];
    const textsSeenByA: string[] = [];
    const byB: JsonObject[] = [];
    await bus.subscribe(
      'mb.work',
      (e) => {
        textsSeenByA.push(JSON.stringify(e.payload));
        byA.push(e.payload);
        (e.payload['list'] as unknown[]).push('changed by a');
        e.metadata['changed'] = true;
        throw new Error('fails, to be retried');
      },
      { componentId: 'a' },
    );
    await bus.subscribe('mb.work', (e) => void byB.push(e.payload), { componentId: 'b' });
    await bus.publish(msg({ payload: JSON.parse(text) as JsonObject, metadata: { m: 1 }, maxRetries: 1 }));
    await waitFor(() => byA.length === 2 && byB.length === 1, 'two attempts of a and one of b');
    let records = await bus.getDeadLetterMessages();
    for (let i = 0; i < 500 && records.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 2));
      records = await bus.getDeadLetterMessages();
    }
    // What a reader of the published JSON gets (-0 is written "0").
    const decoded = JSON.parse(JSON.stringify(JSON.parse(text))) as JsonObject;
    const [firstAObject, secondAObject] = byA;
    expect(textsSeenByA).toEqual([JSON.stringify(decoded), JSON.stringify(decoded)]);
    expect(byB[0]).toStrictEqual(decoded);
    expect(records[0]?.envelope.payload).toStrictEqual(decoded);
    expect(records[0]?.envelope.metadata).toEqual({ m: 1 });
    // Whichever attempt took the copies made at publish, it reads like the others.
    for (const payload of [firstAObject, secondAObject, byB[0]]) {
      expect(Object.hasOwn(payload as object, '__proto__')).toBe(true);
      expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
      expect(Object.is((payload as JsonObject)['zero'], 0)).toBe(true);
    }
    expect(new Set([firstAObject, secondAObject, byB[0], records[0]?.envelope.payload]).size).toBe(4);
  });
});
