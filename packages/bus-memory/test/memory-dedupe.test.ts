/**
 * exactly_once on the memory bus: a repeated id is a duplicate within dedupeWindowMs and a new
 * message after it; at_least_once ids are never deduplicated; dedupeWindowMs 0 turns dedupe off.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach();
const msg = (init: Partial<EnvelopeInit> = {}) =>
  createEnvelope({ sessionId: 's', eventType: 'dd.work', componentSource: 'test', pattern: 'pub_sub', ...init });

describe('memory exactly_once window', () => {
  afterEach(() => void vi.useRealTimers());

  it('dedupes within the window, delivers again after it, never dedupes at_least_once', async () => {
    // The window is measured on the bus's clock (Date.now): a fake one, so a slow machine cannot
    // end the window between two publishes. Timers stay real.
    vi.useFakeTimers({ toFake: ['Date'] });
    const bus = makeBus({ dedupeWindowMs: 80 });
    const got: string[] = [];
    await bus.subscribe('dd.work', (e) => void got.push(`${e.deliveryMode}:${e.messageId}`), { group: 'g' });
    const once = msg({ messageId: 'msg-once', deliveryMode: 'exactly_once' });
    const least = msg({ messageId: 'msg-least' });
    expect((await bus.publish(once)).duplicate).toBe(false);
    expect((await bus.publish(once)).duplicate).toBe(true);
    expect((await bus.publish(least)).duplicate).toBe(false);
    expect((await bus.publish(least)).duplicate).toBe(false);
    vi.advanceTimersByTime(79);
    expect((await bus.publish(once)).duplicate).toBe(true);
    vi.advanceTimersByTime(1);
    expect((await bus.publish(once)).duplicate).toBe(false);
    await expect.poll(() => got.length).toBe(4);
    expect(got.sort()).toEqual(['at_least_once:msg-least', 'at_least_once:msg-least', 'exactly_once:msg-once', 'exactly_once:msg-once']);
  });

  it('a publish the bus accepts again after the window is delivered, even when the first was handled late in its window', async () => {
    // The window counts from the publish. A group that counted it from its handling would still
    // skip the id after the bus had accepted it again (`duplicate: false`): nobody would handle it.
    vi.useFakeTimers({ toFake: ['Date'] });
    const bus = makeBus({ dedupeWindowMs: 80 });
    const got: string[] = [];
    await bus.subscribe(
      'dd.work',
      (e) => {
        got.push(e.messageId);
        if (got.length === 1) vi.advanceTimersByTime(50); // handled 50 ms into the window
      },
      { group: 'g' },
    );
    const once = msg({ messageId: 'msg-late', deliveryMode: 'exactly_once' });
    expect((await bus.publish(once)).duplicate).toBe(false);
    await expect.poll(() => got.length).toBe(1);
    vi.advanceTimersByTime(29);
    expect((await bus.publish(once)).duplicate).toBe(true);
    vi.advanceTimersByTime(1);
    expect((await bus.publish(once)).duplicate).toBe(false);
    await expect.poll(() => got.length).toBe(2);
    expect(got).toEqual(['msg-late', 'msg-late']);
  });

  it('dedupeWindowMs 0 turns dedupe off', async () => {
    const bus = makeBus({ dedupeWindowMs: 0 });
    const once = msg({ deliveryMode: 'exactly_once' });
    expect((await bus.publish(once)).duplicate).toBe(false);
    expect((await bus.publish(once)).duplicate).toBe(false);
  });
});
