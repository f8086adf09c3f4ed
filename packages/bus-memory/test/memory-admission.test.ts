/**
 * Publishes waiting for room (`onQueueFull: 'wait'`) are admitted as soon as room frees up: when a
 * delivery is acknowledged, dead-lettered, or the aborted attempt of a deleted session settles.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import { MemoryMessageBus, createMessageBus } from '../src/index.js';

const open: MemoryMessageBus[] = [];
function makeBus(options: ConstructorParameters<typeof MemoryMessageBus>[0] = {}): MemoryMessageBus {
  const bus = createMessageBus({ retry: { initialDelayMs: 5, maxDelayMs: 20 }, ...options });
  open.push(bus);
  return bus;
}
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
});

const msg = (i: number, init: Partial<EnvelopeInit> = {}) =>
  createEnvelope({ sessionId: 's', eventType: 'adm.work', componentSource: 'test', pattern: 'pub_sub', payload: { i }, ...init });

describe('admission of waiting publishes', () => {
  // A publish that is still waiting when publishTimeoutMs passes rejects with QueueFullError, so each
  // test fails if room that was freed is not noticed.
  const slow = { maxQueueSize: 1, onQueueFull: 'wait', publishTimeoutMs: 3_000 } as const;

  it('admits the next publish when the only queued message is acknowledged', async () => {
    const bus = makeBus(slow);
    const seen: number[] = [];
    await bus.subscribe('adm.work', async (e) => {
      await new Promise((r) => setTimeout(r, 2));
      seen.push((e.payload as { i: number }).i);
    });
    await Promise.all([0, 1, 2, 3].map((i) => bus.publish(msg(i))));
    await expect.poll(() => seen).toEqual([0, 1, 2, 3]);
  });

  it('admits the next publish when the only queued message is dead-lettered', async () => {
    const bus = makeBus(slow);
    await bus.subscribe('adm.work', () => {
      throw new Error('no');
    });
    await Promise.all([0, 1, 2].map((i) => bus.publish(msg(i, { maxRetries: 1 }))));
    await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(3);
  });

  it("admits a publish when a deleted session's aborted attempt settles", async () => {
    const bus = makeBus(slow);
    const seen: string[] = [];
    await bus.subscribe('adm.work', (e, { signal }) => {
      seen.push(e.sessionId);
      if (e.sessionId !== 'doomed') return undefined;
      return new Promise<void>((resolve) => signal.addEventListener('abort', () => setTimeout(resolve, 5)));
    });
    await bus.publish(msg(0, { sessionId: 'doomed' }));
    await expect.poll(() => seen).toEqual(['doomed']);
    const waiting = bus.publish(msg(1, { sessionId: 'next' }));
    await bus.deleteSessionQueue('doomed');
    await expect(waiting).resolves.toMatchObject({ duplicate: false });
    await expect.poll(() => seen).toEqual(['doomed', 'next']);
  });
});
