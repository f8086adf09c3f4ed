/**
 * The numbers health reports reach an app's onMetric too, also when they go down: the dead-letter
 * queue size after purge, redrive and deleteSessionQueue, and the health status when it changes.
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type MetricEvent } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach();

describe('memory metrics events', () => {
  it('the last dead_letter_queue_size event always equals the store size health reports', async () => {
    const events: MetricEvent[] = [];
    const bus = makeBus({ retry: { initialDelayMs: 1, maxDelayMs: 2 }, onMetric: (e) => void events.push(e) });
    let fail = true;
    await bus.subscribe('mx.work', () => {
      if (fail) throw new Error('down');
    }, { group: 'g' });
    for (const sessionId of ['a', 'b', 'c', 'd']) {
      await bus.publish(createEnvelope({ sessionId, eventType: 'mx.work', componentSource: 't', pattern: 'pub_sub', maxRetries: 0 }));
    }
    const lastSize = () => events.filter((e) => e.name === 'message_bus.dead_letter_queue_size').at(-1)?.value;
    const stored = async () => (await bus.healthCheck()).metrics.deadLetterQueueSize;
    await expect.poll(lastSize).toBe(4);
    await bus.purgeDeadLetters({ sessionId: 'a' });
    expect(lastSize()).toBe(await stored());
    await bus.deleteSessionQueue('b');
    expect(lastSize()).toBe(await stored());
    fail = false;
    await bus.redriveDeadLetters({ sessionId: 'c' });
    expect(lastSize()).toBe(await stored());
    expect(lastSize()).toBe(1);
  });

  it('sends backend_health_status when the status changes', async () => {
    const events: MetricEvent[] = [];
    const bus = makeBus({ maxQueueSize: 1, closeTimeoutMs: 10, onMetric: (e) => void events.push(e) });
    await bus.subscribe('mx.work', () => new Promise(() => undefined), { handlerTimeoutMs: 0 });
    const m = () => createEnvelope({ sessionId: 's', eventType: 'mx.work', componentSource: 't', pattern: 'pub_sub' });
    await bus.healthCheck();
    await bus.publish(m());
    void bus.publish(m()).catch(() => undefined); // waits: the bus is degraded
    await bus.healthCheck();
    await bus.healthCheck();
    const statuses = events.filter((e) => e.name === 'message_bus.backend_health_status').map((e) => e.value);
    expect(statuses).toEqual([1, 0.5]);
  });
});
