/**
 * Nothing grows without bound on the memory bus as sessions, targets and groups come and go: per
 * session lanes, target queues, dedupe ids, and groups bound to deleted sessions.
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach({ retry: { initialDelayMs: 1, maxDelayMs: 2 }, closeTimeoutMs: 20 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const msg = (init: Partial<EnvelopeInit> & { sessionId: string }) =>
  createEnvelope({ eventType: 'lo.work', componentSource: 'test', pattern: 'pub_sub', ...init });

describe('what sessions, targets and groups leave behind', () => {
  it('10,000 sessions that come and go leave no lanes, target queues, dead letters or (after the window) dedupe ids', async () => {
    // 30,000 publishes made without awaiting: up to 20,000 wait for room in the worker's queue.
    const bus = makeBus({ concurrency: 64, dedupeWindowMs: 100, maxWaitingPublishes: 30_000 });
    let handled = 0;
    await bus.subscribe('lo.work', (e) => {
      handled++;
      if ((e.payload as { fail?: boolean }).fail) throw new Error('dead');
    }, { componentId: 'worker' });
    const publishes: Promise<unknown>[] = [];
    for (let s = 0; s < 10_000; s++) {
      const sessionId = `s${s}`;
      publishes.push(bus.publish(msg({ sessionId, deliveryMode: 'exactly_once' })));
      publishes.push(bus.publish(msg({ sessionId, payload: { fail: s % 10 === 0 }, maxRetries: 0 })));
      publishes.push(bus.publish(msg({ sessionId, eventType: 'lo.task', pattern: 'point_to_point', componentTarget: 'absent' })));
    }
    await Promise.all(publishes);
    await expect.poll(() => handled, { timeout: 45_000 }).toBe(20_000);
    const busy = await bus.healthCheck();
    expect(busy.metrics.deadLetterQueueSize).toBe(1_000);
    expect(Object.keys(busy.details['waitingForTarget'] as object)).toEqual(['absent']);
    for (let s = 0; s < 10_000; s++) await bus.deleteSessionQueue(`s${s}`);
    await sleep(150);
    const health = await bus.healthCheck();
    expect(health.details).toMatchObject({ sessionLanes: 0, sessionsWaitingForTarget: 0, dedupeIds: 0, waitingForTarget: {} });
    expect(health.metrics.deadLetterQueueSize).toBe(0);
    expect(health.groups.map((g) => [g.group, g.pending, g.lag])).toEqual([['worker~lo~work', 0, 0]]);
  });

  it('the queue of a target that never subscribes expires like an unused durable group, and is reported', async () => {
    const bus = makeBus({ groupExpiryMs: 50 });
    await bus.publish(msg({ sessionId: 's', eventType: 'lo.task', pattern: 'point_to_point', componentTarget: 'ghost' }));
    expect((await bus.healthCheck()).details['waitingForTarget']).toEqual({ ghost: 1 });
    await expect.poll(async () => (await bus.healthCheck()).expiredGroups, { timeout: 5_000 }).toContain('target:ghost');
    expect((await bus.healthCheck()).details['waitingForTarget']).toEqual({});
  });

  it('a group bound to a deleted session goes with its last replica, unless the session started afresh', async () => {
    const bus = makeBus();
    const gone = await bus.subscribe('lo.work', () => undefined, { componentId: 'c', sessionId: 'gone' });
    const back = await bus.subscribe('lo.work', () => undefined, { componentId: 'c', sessionId: 'back' });
    await bus.deleteSessionQueue('gone');
    await bus.deleteSessionQueue('back');
    await bus.publish(msg({ sessionId: 'back' })); // the session starts afresh
    await bus.unsubscribe(gone);
    await bus.unsubscribe(back);
    expect((await bus.healthCheck()).groups.map((g) => g.group)).toEqual(['c~lo~work@back']);
  });
});

describe('deleting sessions among many waiting messages', () => {
  it('removes exactly the session’s target messages and dead letters, keeping the others in order', async () => {
    const bus = makeBus();
    await bus.subscribe('lo.work', () => {
      throw new Error('dead');
    }, { group: 'failing' });
    for (let i = 0; i < 300; i++) {
      const sessionId = `s${i % 3}`;
      await bus.publish(msg({ sessionId, eventType: 'lo.task', pattern: 'point_to_point', componentTarget: 'later', payload: { i } }));
      if (i < 30) await bus.publish(msg({ sessionId, payload: { i }, maxRetries: 0 }));
    }
    await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(30);
    await bus.deleteSessionQueue('s1');
    expect((await bus.healthCheck()).details['waitingForTarget']).toEqual({ later: 200 });
    expect((await bus.getDeadLetterMessages()).map((r) => r.envelope.sessionId).includes('s1')).toBe(false);
    expect(await bus.getDeadLetterMessages()).toHaveLength(20);
    const got: number[] = [];
    await bus.subscribe('*', (e) => void got.push((e.payload as { i: number }).i), { componentId: 'later', targetedOnly: true });
    await expect.poll(() => got.length).toBe(200);
    for (const rest of [0, 2]) {
      expect(got.filter((i) => i % 3 === rest)).toEqual(Array.from({ length: 300 }, (_, i) => i).filter((i) => i % 3 === rest));
    }
    expect((await bus.healthCheck()).details).toMatchObject({ sessionsWaitingForTarget: 0, waitingForTarget: {} });
  });
});
