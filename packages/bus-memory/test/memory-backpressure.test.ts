/**
 * What only the memory backend promises: bounded queues with backpressure (wait in publish order, or
 * reject), the bound in health, and payloads copied at publish.
 */
import { describe, expect, it } from 'vitest';
import { BusClosedError, InvalidConfigError, QueueFullError, createEnvelope } from '@woodwork/bus-core';
import { createMessageBus } from '../src/index.js';
import { busesClosedAfterEach } from './support/memory-buses.js';
import { gate } from './support/gate.js';

const makeBus = busesClosedAfterEach({ retry: { initialDelayMs: 5, maxDelayMs: 20 } });

const msg = (i: number, sessionId = 's') =>
  createEnvelope({ sessionId, eventType: 'bp.work', componentSource: 'test', pattern: 'pub_sub', payload: { i } });


describe('memory backpressure', () => {
  it("onQueueFull 'reject' rejects a publish that would overflow a group, and nothing is half written", async () => {
    const bus = makeBus({ maxQueueSize: 3, onQueueFull: 'reject' });
    const hold = gate();
    const small: number[] = [];
    await bus.subscribe('bp.work', () => hold.opened, { group: 'slow' });
    await bus.subscribe('bp.work', (e) => void small.push((e.payload as { i: number }).i), { group: 'fast', concurrency: 1 });
    for (let i = 0; i < 3; i++) await bus.publish(msg(i, `s${i}`));
    const error = await bus.publish(msg(3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error).toMatchObject({ code: 'QUEUE_FULL', limit: 3, queue: expect.stringContaining('slow') });
    await expect.poll(() => small).toEqual([0, 1, 2]);
    hold.open();
    await expect.poll(async () => (await bus.healthCheck()).groups.find((g) => g.group === 'slow')?.lag).toBe(0);
    await expect(bus.publish(msg(4))).resolves.toMatchObject({ duplicate: false });
    // 4 is of the same session as the rejected 3: had 3 been written to "fast", it would come first.
    await expect.poll(() => small).toEqual([0, 1, 2, 4]);
  });

  it("onQueueFull 'wait' holds publishes in call order until room frees up", async () => {
    const bus = makeBus({ maxQueueSize: 2, onQueueFull: 'wait' });
    const seen: number[] = [];
    const hold = gate();
    await bus.subscribe(
      'bp.work',
      async (e) => {
        await hold.opened;
        seen.push((e.payload as { i: number }).i);
      },
      { group: 'g', concurrency: 1 },
    );
    const resolved: number[] = [];
    const publishes = Array.from({ length: 6 }, (_, i) => bus.publish(msg(i)).then(() => resolved.push(i)));
    await new Promise((r) => setTimeout(r, 30));
    expect(resolved).toEqual([0, 1]);
    expect((await bus.healthCheck()).status).toBe('degraded');
    expect((await bus.healthCheck()).details['waitingPublishes']).toBe(4);
    hold.open();
    await Promise.all(publishes);
    await expect.poll(() => seen.length).toBe(6);
    expect(resolved).toEqual([0, 1, 2, 3, 4, 5]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a waiting publish rejects with QueueFullError after publishTimeoutMs, and with BusClosedError on close', async () => {
    const bus = makeBus({ maxQueueSize: 1, publishTimeoutMs: 50, closeTimeoutMs: 10 });
    await bus.subscribe('bp.work', () => new Promise(() => undefined), { group: 'stuck', handlerTimeoutMs: 0 });
    await bus.publish(msg(0));
    await expect(bus.publish(msg(1))).rejects.toMatchObject({ code: 'QUEUE_FULL', message: expect.stringContaining('publishTimeoutMs') });
    const bus2 = makeBus({ maxQueueSize: 1, publishTimeoutMs: 10_000, closeTimeoutMs: 10 });
    await bus2.subscribe('bp.work', () => new Promise(() => undefined), { group: 'stuck', handlerTimeoutMs: 0 });
    await bus2.publish(msg(0));
    const waiting = bus2.publish(msg(1)).catch((e: unknown) => e);
    await bus2.close();
    expect(await waiting).toBeInstanceOf(BusClosedError);
  });

  it('a target queue that waits for its listener is bounded too', async () => {
    const bus = makeBus({ maxQueueSize: 2, onQueueFull: 'reject' });
    const to = (i: number) => createEnvelope({ sessionId: 's', eventType: 'bp.task', componentSource: 't', componentTarget: 'later', payload: { i } });
    await bus.publish(to(0));
    await bus.publish(to(1));
    await expect(bus.publish(to(2))).rejects.toMatchObject({ queue: expect.stringContaining('target:later') });
    expect((await bus.healthCheck()).details['waitingForTarget']).toEqual({ later: 2 });
  });

  it('copies payload and metadata at publish', async () => {
    const bus = makeBus();
    const seen: unknown[] = [];
    const hold = gate();
    await bus.subscribe('bp.work', async (e) => {
      await hold.opened;
      seen.push(e.payload);
    });
    const payload = { list: [1, 2], text: 'original' };
    await bus.publish(createEnvelope({ sessionId: 's', eventType: 'bp.work', componentSource: 't', pattern: 'pub_sub', payload }));
    payload.list.push(3);
    payload.text = 'changed';
    hold.open();
    await expect.poll(() => seen.length).toBe(1);
    expect(seen[0]).toEqual({ list: [1, 2], text: 'original' });
  });

  it('rejects bad memory options with InvalidConfigError', () => {
    expect(() => createMessageBus({ maxQueueSize: 0 })).toThrow(InvalidConfigError);
    expect(() => createMessageBus({ onQueueFull: 'drop' as never })).toThrow(/onQueueFull.*allowed: wait, reject/);
  });

  it('reports the bounds and the dead letters dropped by retention in health', async () => {
    const bus = makeBus({ deadLetterMaxSize: 2, maxQueueSize: 50 });
    await bus.subscribe('bp.work', () => {
      throw new Error('no');
    });
    for (let i = 0; i < 4; i++) await bus.publish({ ...msg(i), maxRetries: 0 });
    await expect.poll(async () => (await bus.healthCheck()).details['deadLettersDropped']).toBe(2);
    const health = await bus.healthCheck();
    expect(health.details).toMatchObject({ maxQueueSize: 50, deadLetterMaxSize: 2 });
    expect((await bus.getDeadLetterMessages()).map((r) => (r.envelope.payload as { i: number }).i)).toEqual([2, 3]);
  });
});
