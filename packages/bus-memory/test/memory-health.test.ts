/**
 * Health numbers of the memory bus, exactly: pending (running or waiting for a retry) and lag
 * (not started) per group, and the counters after retries and dead letters.
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';
import { gate } from './support/gate.js';

const makeBus = busesClosedAfterEach();
const msg = (sessionId: string, i: number, init: Partial<EnvelopeInit> = {}) =>
  createEnvelope({ sessionId, eventType: 'hl.work', componentSource: 'test', pattern: 'pub_sub', payload: { i }, ...init });

describe('memory health', () => {
  it('pending counts running and retrying deliveries, lag the ones not started; counters follow retries and dead letters', async () => {
    // The retry wait must outlast the few steps between flaky's failure and the pending check, on a
    // busy machine too: 2 s is far more than they take.
    const bus = makeBus({ retry: { initialDelayMs: 2_000, maxDelayMs: 2_000, multiplier: 1, jitter: 0 }, closeTimeoutMs: 20 });
    const hold = gate();
    const failedOnce = new Set<string>();
    await bus.subscribe(
      'hl.work',
      async (e) => {
        const i = (e.payload as { i: number }).i;
        if (e.sessionId === 'slow' && i === 0) await hold.opened;
        if (e.sessionId === 'flaky' && !failedOnce.has(e.messageId)) {
          failedOnce.add(e.messageId);
          throw new Error('retry me');
        }
        if (e.sessionId === 'dead') throw new Error('always');
      },
      { group: 'g', concurrency: 2 },
    );
    for (let i = 0; i < 4; i++) await bus.publish(msg('slow', i)); // 1 running, 3 behind it
    await bus.publish(msg('flaky', 0)); // fails once, then waits 2 s for its retry
    await expect.poll(() => failedOnce.size).toBe(1);
    await bus.publish(msg('other', 0)); // the retry wait freed its slot: this one runs and is acknowledged
    await expect.poll(async () => (await bus.healthCheck()).metrics.messagesConsumedTotal).toBe(1);
    const g = () => bus.healthCheck().then((h) => h.groups.find((x) => x.group === 'g'));
    expect(await g()).toMatchObject({ pending: 2, lag: 3 }); // slow:0 running + flaky retrying; slow:1..3 not started
    hold.open();
    await bus.publish(msg('dead', 0, { maxRetries: 1 }));
    await expect.poll(async () => (await bus.healthCheck()).metrics.messagesDeadLetteredTotal, { timeout: 15_000 }).toBe(1);
    await expect.poll(async () => (await g())?.pending, { timeout: 15_000 }).toBe(0);
    const health = await bus.healthCheck();
    expect(health.groups.find((x) => x.group === 'g')).toMatchObject({ pending: 0, lag: 0, consumers: 1 });
    expect(health.metrics).toMatchObject({
      messagesPublishedTotal: 7,
      messagesConsumedTotal: 6,
      messagesFailedTotal: 3, // flaky once, dead twice
      messagesDeadLetteredTotal: 1,
      deadLetterQueueSize: 1,
      activeSubscriptions: 1,
    });
    expect(health.metrics.messageProcessingTimeMs.count).toBe(6);
  });

  it('oldestPendingAgeMs: the age of the oldest held message by its publish timestamp, null when the group holds none', async () => {
    const bus = makeBus();
    const hold = gate();
    await bus.subscribe('hl.work', () => hold.opened, { group: 'aged' });
    const g = () => bus.healthCheck().then((h) => h.groups.find((x) => x.group === 'aged'));
    expect((await g())?.oldestPendingAgeMs).toBeNull();
    const now = Date.now() / 1000;
    await bus.publish(msg('a', 0, { timestamp: now - 30 })); // running
    await bus.publish(msg('a', 1, { timestamp: now - 5 })); // behind it
    await bus.publish(msg('b', 0, { timestamp: now - 60 })); // another session's head: the oldest
    const age = (await g())?.oldestPendingAgeMs ?? 0;
    expect(age).toBeGreaterThanOrEqual(60_000);
    expect(age).toBeLessThan(60_000 + 30_000); // wall clock passes, but nowhere near another 30 s
    hold.open();
    await expect.poll(async () => (await g())?.oldestPendingAgeMs).toBeNull();
  });
});
