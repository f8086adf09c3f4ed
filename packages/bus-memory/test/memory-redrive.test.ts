/**
 * Redrive on the memory bus: the queue bound holds for redriven messages too, and an exactly_once
 * message its group already acknowledged is not delivered again.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach({ retry: { initialDelayMs: 2, maxDelayMs: 5 }, closeTimeoutMs: 20 });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const msg = (i: number, init: Partial<EnvelopeInit> = {}) =>
  createEnvelope({ sessionId: `s${i}`, eventType: 'rd.work', componentSource: 'test', pattern: 'pub_sub', payload: { i }, maxRetries: 0, ...init });

describe('memory redrive', () => {
  afterEach(() => void vi.useRealTimers());

  it('redrives only what fits in the group queue; the rest is skipped with the reason and kept', async () => {
    const bus = makeBus({ maxQueueSize: 2 });
    let mode: 'fail' | 'hang' = 'fail';
    await bus.subscribe(
      'rd.work',
      () => {
        if (mode === 'fail') throw new Error('down');
        return new Promise<void>(() => undefined);
      },
      { group: 'g', handlerTimeoutMs: 0 },
    );
    for (let i = 0; i < 4; i++) await bus.publish(msg(i));
    await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(4);
    mode = 'hang';
    const result = await bus.redriveDeadLetters();
    expect(result.redriven).toHaveLength(2);
    expect(result.skipped).toHaveLength(2);
    expect(result.skipped[0]?.reason).toMatch(/full \(limit 2\)/);
    const group = (await bus.healthCheck()).groups.find((g) => g.group === 'g');
    expect((group?.pending ?? 0) + (group?.lag ?? 0)).toBe(2);
    expect((await bus.getDeadLetterMessages()).map((r) => r.id)).toEqual(result.skipped.map((s) => s.id));
  });

  it('an exactly_once message its group acknowledged since it was dead-lettered is skipped, not delivered twice', async () => {
    // Dedupe windows are measured on the bus's clock (Date.now): a fake one, so the group's window
    // cannot pass between its acknowledgement and the redrive on a slow machine. Timers stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    const bus = makeBus({ dedupeWindowMs: 150 });
    let fail = true;
    const delivered: string[] = [];
    await bus.subscribe(
      'rd.work',
      (e) => {
        if (fail) throw new Error('down');
        delivered.push(e.messageId);
      },
      { group: 'g' },
    );
    const m = msg(0, { deliveryMode: 'exactly_once' });
    await bus.publish(m);
    await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(1);
    fail = false;
    vi.advanceTimersByTime(150); // past the publish dedupe window: the publisher sends it again, and it is handled
    await expect(bus.publish(m)).resolves.toMatchObject({ duplicate: false });
    await expect.poll(() => delivered).toEqual([m.messageId]);
    const result = await bus.redriveDeadLetters();
    expect(result.redriven).toEqual([]);
    expect(result.skipped[0]?.reason).toMatch(/already acknowledged/);
    await sleep(30);
    expect(delivered).toEqual([m.messageId]);
  });
});
