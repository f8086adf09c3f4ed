/**
 * `deleteSessionQueue` across processes: a bus that did not read the session (an admin process)
 * deletes it while another bus holds its messages (one running, the others queued behind it). When
 * the call resolves, the consuming bus has aborted the running attempt with `SessionDeletedError`
 * and never runs the rest; its other sessions go on. Two buses on one prefix share nothing but Redis.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SessionDeletedError, type MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { sharedRedisUrl } from './support/redis-server.js';

const url = await sharedRedisUrl();
const buses: RedisMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
});

describe('deleteSessionQueue across processes', () => {
  it('the bus holding the session aborts its running attempt before the call resolves and runs nothing more of it', async () => {
    const prefix = randomName('delete');
    const consumer = await RedisMessageBus.connect({ url, streamPrefix: prefix });
    const admin = await RedisMessageBus.connect({ url, streamPrefix: prefix });
    buses.push(consumer, admin);
    const started: string[] = [];
    let abortReason: unknown;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await consumer.subscribe(
      'delete.x',
      async (e: MessageEnvelope, context) => {
        started.push(`${e.sessionId}:${e.payload['i'] as number}`);
        if (e.sessionId === 'doomed' && e.payload['i'] === 0) {
          context.signal.addEventListener('abort', () => (abortReason = context.signal.reason));
          await gate;
        }
      },
      { componentId: 'worker' },
    );
    for (let i = 0; i < 5; i++) await admin.publish({ sessionId: 'doomed', eventType: 'delete.x', componentSource: 'test', payload: { i } });
    await waitFor(() => started.includes('doomed:0'), 'the first message running');
    // The other four were read too: they wait in the consumer's lanes, not on the server.
    await waitFor(async () => (await consumer.healthCheck()).details['heldMessages'] === 5, 'all five held by the consumer');

    await admin.deleteSessionQueue('doomed');
    expect(abortReason).toBeInstanceOf(SessionDeletedError);
    // Only the aborted attempt is left, counted until its handler returns.
    expect((await consumer.healthCheck()).details['heldMessages']).toBe(1);

    release();
    await waitFor(async () => (await consumer.healthCheck()).details['heldMessages'] === 0, 'nothing held once the handler returned');
    await admin.publish({ sessionId: 'other', eventType: 'delete.x', componentSource: 'test', payload: { i: 0 } });
    await waitFor(() => started.includes('other:0'), 'another session still handled');
    await new Promise((r) => setTimeout(r, 200));
    expect(started.filter((s) => s.startsWith('doomed'))).toEqual(['doomed:0']);
    // A later publish to the session starts it afresh, on the consumer.
    await admin.publish({ sessionId: 'doomed', eventType: 'delete.x', componentSource: 'test', payload: { i: 9 } });
    await waitFor(() => started.includes('doomed:9'), 'the session starts afresh');
  }, 60_000);
});
