/**
 * What the wrapper does to the calls it passes on, seen through a bus that records them: with no
 * SDK, the very same input reaches the bus and the handler's own value goes back (nothing copied,
 * nothing chained); a fast successful attempt never reads `DeliveryContext.signal` (reading it makes
 * core create an AbortController, the cost the `otel` bench case measures); a failed one does, to
 * tell a timeout or a deleted session from a plain failure.
 */
import type { DeliveryContext, MessageBus, MessageEnvelope, MessageHandler, PublishResult } from '@woodwork/bus-core';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { instrumentBus } from '../src/index.js';
import { startTestSdk } from './support/otel.js';

function recordingBus() {
  const published: unknown[] = [];
  let handler: MessageHandler | undefined;
  const result: PublishResult = { messageId: 'msg-1', duplicate: false };
  const bus: MessageBus & { deliver(e: MessageEnvelope, ctx: DeliveryContext): unknown } = {
    backend: 'recording',
    publish: async (input) => (published.push(input), result),
    subscribe: async (_pattern, h) => ((handler = h as MessageHandler), 'sub-1'),
    unsubscribe: async () => true,
    createSessionQueue: async () => {},
    deleteSessionQueue: async () => {},
    getDeadLetterMessages: async () => [],
    redriveDeadLetters: async () => ({ redriven: [], skipped: [] }),
    purgeDeadLetters: async () => ({ purged: 0 }),
    healthCheck: async () => {
      throw new Error('not asked in these tests');
    },
    close: async () => {},
    deliver: (e, ctx) => handler!(e, ctx),
  };
  return { bus, published, result };
}

const envelope: MessageEnvelope = {
  messageId: 'msg-1',
  sessionId: 's',
  eventType: 'a.b',
  componentSource: 'x',
  componentTarget: null,
  timestamp: 1,
  deliveryMode: 'at_least_once',
  pattern: 'pub_sub',
  payload: {},
  metadata: {},
  retryCount: 0,
  maxRetries: 3,
};

function context(): DeliveryContext & { signalReads: number } {
  const controller = new AbortController();
  return {
    attempt: 1,
    group: 'g',
    subscriptionId: 'sub-1',
    signalReads: 0,
    get signal() {
      this.signalReads++;
      return controller.signal;
    },
  };
}

describe('with no SDK registered', () => {
  it('passes the same input to the bus, the same envelope and context to the handler, and its value back', async () => {
    const { bus, published, result } = recordingBus();
    const wrapped = instrumentBus(bus);
    const input = { sessionId: 's', eventType: 'a.b', componentSource: 'x', metadata: { k: 1 } };
    expect(await wrapped.publish(input)).toBe(result);
    expect(published[0]).toBe(input);

    const seen: unknown[] = [];
    const returned = { any: 'value' };
    await wrapped.subscribe('a.b', (e, ctx) => (seen.push(e, ctx), returned));
    const ctx = context();
    expect(bus.deliver(envelope, ctx)).toBe(returned);
    expect(seen).toEqual([envelope, ctx]);
    expect(seen[0]).toBe(envelope);
    expect(ctx.signalReads).toBe(0);
  });
});

describe('with the SDK recording', () => {
  it('a fast success leaves the signal unread; a failure reads it to name its outcome', async () => {
    // "Fast" is measured with performance.now(): a busy machine can stall even a sync handler past
    // the 1 ms threshold, so the clock is held still here and the verdict never depends on load.
    vi.useFakeTimers({ toFake: ['performance'] });
    onTestFinished(() => {
      vi.useRealTimers();
    });
    const sdk = startTestSdk();
    const { bus } = recordingBus();
    const wrapped = instrumentBus(bus, { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, propagator: sdk.propagator });
    let fail = false;
    await wrapped.subscribe('a.b', () => {
      if (fail) throw new Error('no');
    });
    const ok = context();
    bus.deliver(envelope, ok);
    expect(ok.signalReads).toBe(0);
    fail = true;
    const failed = context();
    expect(() => bus.deliver(envelope, failed)).toThrow('no');
    expect(failed.signalReads).toBeGreaterThan(0);
    expect(sdk.spans().map((s) => s.attributes['woodwork.outcome'])).toEqual(['acknowledged', 'retried']);
    await sdk.shutdown();
  });
});
