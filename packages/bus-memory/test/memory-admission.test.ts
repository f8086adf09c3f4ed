/**
 * Publishes waiting for room (`onQueueFull: 'wait'`) are admitted as soon as room frees up: when a
 * delivery is acknowledged, dead-lettered, or the aborted attempt of a deleted session settles.
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';
import { gate } from './support/gate.js';

const makeBus = busesClosedAfterEach({ retry: { initialDelayMs: 5, maxDelayMs: 20 } });

const msg = (i: number, init: Partial<EnvelopeInit> = {}) =>
  createEnvelope({ sessionId: 's', eventType: 'adm.work', componentSource: 'test', pattern: 'pub_sub', payload: { i }, ...init });

describe('admission of waiting publishes', () => {
  // A publish that is still waiting when publishTimeoutMs passes rejects with QueueFullError, so each
  // test fails if room that was freed is not noticed.
  const slow = { maxQueueSize: 1, onQueueFull: 'wait', publishTimeoutMs: 10_000 } as const;

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

describe('what a waiting publish holds back', () => {
  const stuck = () => new Promise<void>(() => undefined);

  it('a full queue does not hold back publishes to other queues', async () => {
    const bus = makeBus({ maxQueueSize: 1, onQueueFull: 'wait', publishTimeoutMs: 60_000, closeTimeoutMs: 10 });
    await bus.subscribe('adm.work', stuck, { group: 'stuck', handlerTimeoutMs: 0 });
    const other: string[] = [];
    await bus.subscribe('adm.other', (e) => void other.push(e.sessionId), { group: 'other' });
    // A group that sees everything, as hooks do, but is not full.
    await bus.subscribe('*', () => undefined, { group: 'hooks' });
    await bus.publish(msg(0, { sessionId: 'a' }));
    let waitingSettled = false;
    const waiting = bus.publish(msg(1, { sessionId: 'a' })).then(
      () => (waitingSettled = true),
      (error: unknown) => {
        waitingSettled = true;
        return error;
      },
    );
    // Another event type, and a target with no listener yet: neither shares the full queue.
    await bus.publish(msg(2, { sessionId: 'b', eventType: 'adm.other' }));
    await bus.publish(msg(3, { sessionId: 'b', eventType: 'adm.task', pattern: 'point_to_point', componentTarget: 'later' }));
    await expect.poll(() => other).toEqual(['b']);
    expect(waitingSettled).toBe(false);
    expect((await bus.healthCheck()).details['waitingPublishes']).toBe(1);
    await bus.close();
    expect(await waiting).toMatchObject({ code: 'BUS_CLOSED' });
  });

  it('a waiting publish holds back later publishes of its session, to any queue, and later ones to its full queue', async () => {
    const bus = makeBus({ maxQueueSize: 1, onQueueFull: 'wait', publishTimeoutMs: 60_000, closeTimeoutMs: 10 });
    const hold = gate();
    const order: string[] = [];
    await bus.subscribe('adm.work', async (e) => {
      await hold.opened;
      order.push(`work:${e.sessionId}:${(e.payload as { i: number }).i}`);
    }, { group: 'slow', handlerTimeoutMs: 0 });
    await bus.subscribe('*', (e) => void order.push(`any:${e.sessionId}:${(e.payload as { i: number }).i}`), { group: 'watch' });
    await bus.publish(msg(0, { sessionId: 'a' }));
    const resolved: string[] = [];
    const track = (name: string, p: Promise<unknown>) => p.then(() => void resolved.push(name));
    const all = [
      track('a1', bus.publish(msg(1, { sessionId: 'a' }))), // waits: slow is full
      track('a2-other', bus.publish(msg(2, { sessionId: 'a', eventType: 'adm.other' }))), // waits: same session as a1
      track('b3', bus.publish(msg(3, { sessionId: 'b' }))), // waits: a1 waits for the same queue
      track('c4-other', bus.publish(msg(4, { sessionId: 'c', eventType: 'adm.other' }))), // free to go
    ];
    await expect.poll(() => resolved).toEqual(['c4-other']);
    hold.open();
    await Promise.all(all);
    expect(resolved).toEqual(['c4-other', 'a1', 'a2-other', 'b3']);
    await expect.poll(() => order.filter((o) => o.startsWith('any:a'))).toEqual(['any:a:0', 'any:a:1', 'any:a:2']);
    await expect.poll(() => order.filter((o) => o.startsWith('work:'))).toEqual(['work:a:0', 'work:a:1', 'work:b:3']);
  });

  it('an exactly_once publish made twice while waiting is accepted once, the second is a duplicate', async () => {
    const bus = makeBus({ maxQueueSize: 1, onQueueFull: 'wait', publishTimeoutMs: 60_000, closeTimeoutMs: 10 });
    const hold = gate();
    const got: string[] = [];
    await bus.subscribe('adm.work', async (e) => {
      await hold.opened;
      got.push(e.messageId);
    }, { group: 'g', handlerTimeoutMs: 0 });
    await bus.publish(msg(0));
    const m = msg(1, { deliveryMode: 'exactly_once' });
    const first = bus.publish(m);
    const second = bus.publish(m);
    hold.open();
    await expect(first).resolves.toEqual({ messageId: m.messageId, duplicate: false });
    await expect(second).resolves.toEqual({ messageId: m.messageId, duplicate: true });
    await expect.poll(() => got.length).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(got.filter((id) => id === m.messageId)).toHaveLength(1);
  });

  it('deleteSessionQueue takes the waiting publishes of the session with it: they resolve, nothing is delivered', async () => {
    const bus = makeBus({ maxQueueSize: 1, onQueueFull: 'wait', publishTimeoutMs: 60_000, closeTimeoutMs: 10 });
    const got: string[] = [];
    await bus.subscribe('adm.work', (e, { signal }) => {
      got.push(`${e.sessionId}:${(e.payload as { i: number }).i}`);
      if (e.sessionId === 'doomed') return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      return undefined;
    }, { group: 'g', handlerTimeoutMs: 0 });
    await bus.publish(msg(0, { sessionId: 'doomed' }));
    await expect.poll(() => got).toEqual(['doomed:0']);
    const late = bus.publish(msg(1, { sessionId: 'doomed' }));
    const other = bus.publish(msg(2, { sessionId: 'other' }));
    await bus.deleteSessionQueue('doomed');
    await expect(late).resolves.toMatchObject({ duplicate: false });
    await expect(other).resolves.toMatchObject({ duplicate: false });
    await expect.poll(() => got).toEqual(['doomed:0', 'other:2']);
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toEqual(['doomed:0', 'other:2']);
  });
});
