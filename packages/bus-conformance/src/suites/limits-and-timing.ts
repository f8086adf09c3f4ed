/**
 * Limits and timing: retry gaps within the backoff's bounds, handler timeouts near
 * `handlerTimeoutMs`, and attempts at once never above `concurrency` (the subscription's, and the
 * bus default without one). Lower bounds are exact (less 1 ms of timer rounding); upper bounds carry
 * the harness's slack, so a busy machine never fails a correct backend.
 */
import { describe, expect, it } from 'vitest';
import { HandlerTimeoutError } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { Concurrency, expectWithin, gate, message, quietPeriod, randomName, useBuses, waitFor } from '../support.js';

/** Node timers fire on a 1 ms clock: a timer of n ms can be seen n - 1 ms later. */
const TIMER_ROUNDING_MS = 1;

export function limitsAndTimingSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('limits and timing', () => {
    it('retry gaps follow the exponential backoff: never shorter than its jittered delay, never much longer', async () => {
      const retry = { initialDelayMs: 100, maxDelayMs: 250, multiplier: 2, jitter: 0.2 };
      const bus = await buses.make({ retry });
      const starts: number[] = [];
      await bus.subscribe('backoff.gaps', () => {
        // The handler fails as it starts: a gap between starts is failure-to-next-attempt.
        starts.push(performance.now());
        throw new Error('again');
      }, { componentId: randomName('gaps') });
      await bus.publish(message({ sessionId: 's', eventType: 'backoff.gaps', maxRetries: 3 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter after four attempts');
      expect(starts).toHaveLength(4);
      // Base delays 100, 200, then capped at 250; jitter spreads each by +-20 %.
      const bases = [100, 200, 250];
      for (const [i, base] of bases.entries()) {
        const gap = starts[i + 1]! - starts[i]!;
        expectWithin(harness, gap, Math.floor(base * (1 - retry.jitter)) - TIMER_ROUNDING_MS, Math.ceil(base * (1 + retry.jitter)), `gap after attempt ${i + 1}`);
      }
    });

    it('a handler timeout fails the attempt no sooner than handlerTimeoutMs, and not much later', async () => {
      const bus = await buses.make({ handlerTimeoutMs: 150 });
      const seen = new Map<string, { startedAt: number; abortedAt?: number; reason?: unknown }>();
      const hang = (who: string) => (_e: unknown, ctx: { signal: AbortSignal }) =>
        new Promise<void>((resolve) => {
          const entry: { startedAt: number; abortedAt?: number; reason?: unknown } = { startedAt: performance.now() };
          seen.set(who, entry);
          ctx.signal.addEventListener('abort', () => {
            entry.abortedAt = performance.now();
            entry.reason = ctx.signal.reason;
            resolve();
          });
        });
      await bus.subscribe('timeout.own', hang('own'), { handlerTimeoutMs: 300 });
      await bus.subscribe('timeout.default', hang('default'));
      // The lower bound is measured from before the publish (the attempt cannot start earlier), the
      // upper one from the handler's start (it cannot start later): a pause of the machine between
      // the two then widens neither bound wrongly.
      const publishedAt = { own: performance.now(), default: 0 };
      await bus.publish(message({ sessionId: 'a', eventType: 'timeout.own', maxRetries: 0 }));
      publishedAt.default = performance.now();
      await bus.publish(message({ sessionId: 'b', eventType: 'timeout.default', maxRetries: 0 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 2, 'both attempts to time out');
      for (const [who, timeoutMs] of [['own', 300], ['default', 150]] as const) {
        const entry = seen.get(who)!;
        expect(entry.reason, who).toBeInstanceOf(HandlerTimeoutError);
        expect(entry.abortedAt! - publishedAt[who], `${who} timeout after the publish`).toBeGreaterThanOrEqual(timeoutMs - TIMER_ROUNDING_MS);
        expectWithin(harness, entry.abortedAt! - entry.startedAt, 0, timeoutMs, `${who} timeout after the handler started`);
      }
      const records = await bus.getDeadLetterMessages();
      expect(records.map((r) => r.error.code)).toEqual(['HANDLER_TIMEOUT', 'HANDLER_TIMEOUT']);
    });

    it("attempts at once never exceed the subscription's concurrency, nor the bus default without one", async () => {
      const bus = await buses.make({ concurrency: 3 });
      const blocker = gate();
      const own = new Concurrency();
      const byDefault = new Concurrency();
      await bus.subscribe('limit.own', (e) => own.around(e.sessionId, () => blocker.promise), { componentId: randomName('own'), concurrency: 2 });
      await bus.subscribe('limit.default', (e) => byDefault.around(e.sessionId, () => blocker.promise), { componentId: randomName('default') });
      for (let i = 0; i < 12; i++) {
        await bus.publish(message({ sessionId: `s${i}`, eventType: 'limit.own' }));
        await bus.publish(message({ sessionId: `s${i}`, eventType: 'limit.default' }));
      }
      // Different sessions run in parallel up to the limit...
      await waitFor(() => own.now === 2 && byDefault.now === 3, 'each subscription to reach its limit');
      // ...and no further, however long they are left waiting.
      await quietPeriod(harness, 100);
      expect(own.max).toBe(2);
      expect(byDefault.max).toBe(3);
      blocker.release();
      await waitFor(() => own.now === 0 && byDefault.now === 0, 'every attempt to finish');
      expect(own.max).toBe(2);
      expect(byDefault.max).toBe(3);
      expect(own.overlaps + byDefault.overlaps).toBe(0);
    });
  });
}
