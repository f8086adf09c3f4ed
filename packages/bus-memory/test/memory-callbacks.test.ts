/**
 * The app's callbacks (onMetric, logger) are not the bus's caller: one that throws is reported and
 * changes nothing a publisher or a handler sees.
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type BusLogger } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach();

const msg = (i: number) =>
  createEnvelope({ sessionId: 's', eventType: 'cb.work', componentSource: 'test', pattern: 'pub_sub', payload: { i }, maxRetries: 2 });

describe('callbacks that throw', () => {
  it('an onMetric that throws is logged; subscribe, publish, retries and dead letters work as usual', async () => {
    const warnings: string[] = [];
    const logger: BusLogger = { debug() {}, info() {}, warn: (m) => void warnings.push(m), error() {} };
    const bus = makeBus({
      retry: { initialDelayMs: 2, maxDelayMs: 5 },
      logger,
      maxQueueSize: 1,
      onMetric: () => {
        throw new Error('metrics sink down');
      },
    });
    const seen: Array<[number, number]> = [];
    await expect(
      bus.subscribe('cb.work', (e) => {
        const i = (e.payload as { i: number }).i;
        seen.push([i, e.retryCount]);
        if (i === 1 && e.retryCount === 0) throw new Error('once');
        if (i === 2) throw new Error('always');
      }),
    ).resolves.toMatch(/^sub-/);
    // maxQueueSize 1: publishes 1 and 2 wait and are admitted from a delivery's completion.
    const results = await Promise.all([0, 1, 2].map((i) => bus.publish(msg(i))));
    expect(results.map((r) => r.duplicate)).toEqual([false, false, false]);
    await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(1);
    expect(seen).toEqual([
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 0],
      [2, 1],
      [2, 2],
    ]);
    const health = await bus.healthCheck();
    expect(health.metrics).toMatchObject({ messagesPublishedTotal: 3, messagesConsumedTotal: 2, messagesDeadLetteredTotal: 1 });
    expect(warnings).toContain('onMetric callback failed');
  });
});
