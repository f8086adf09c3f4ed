/**
 * Session order: one session's messages run one at a time in publish order within a group, while
 * other sessions run in parallel and are never stalled by a slow or failing one.
 */
import { describe, expect, it } from 'vitest';
import type { BusHarness } from '../harness.js';
import { Ledger, message, randomName, sleep, useBuses, waitFor } from '../support.js';

/** Above the 60 s these tests wait for deliveries on a slow server, so their own wait reports first. */
const LOAD_TEST_TIMEOUT_MS = 90_000;

export function sessionOrderSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('session order', () => {
    it('16 sessions x 100 messages keep their order with >= 4 handlers at once, one slow and one failing session', async () => {
      const bus = await buses.make({ concurrency: 8 });
      const ledger = new Ledger();
      const running = new Map<string, number>();
      let inFlight = 0;
      let maxInFlight = 0;
      let overlapsWithinSession = 0;
      const failedOnce = new Set<string>();
      let slowSessionDone = -1;
      const doneAt = new Map<string, number>();
      let tick = 0;
      await bus.subscribe(
        'order.work',
        async (e) => {
          const s = e.sessionId;
          if ((running.get(s) ?? 0) > 0) overlapsWithinSession++;
          running.set(s, (running.get(s) ?? 0) + 1);
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            if (s === 'session-0') await sleep(8);
            else await sleep(Math.random() < 0.2 ? 1 : 0);
            const n = (e.payload as { i: number }).i;
            if (s === 'session-1' && n % 10 === 3 && !failedOnce.has(e.messageId)) {
              failedOnce.add(e.messageId);
              throw new Error(`transient failure of ${n}`);
            }
            ledger.record(e);
            if ((e.payload as { i: number }).i === 99) doneAt.set(s, ++tick);
            if (s === 'session-0' && n === 99) slowSessionDone = tick;
          } finally {
            inFlight--;
            running.set(s, (running.get(s) ?? 1) - 1);
          }
        },
        { componentId: randomName('worker'), concurrency: 8 },
      );
      const sessions = Array.from({ length: 16 }, (_, i) => `session-${i}`);
      await Promise.all(
        sessions.map(async (sessionId) => {
          for (let i = 0; i < 100; i++) await ledger.publish(bus, message({ sessionId, eventType: 'order.work', payload: { i } }));
        }),
      );
      await waitFor(() => ledger.distinctDelivered === 1600, '1600 deliveries', 60_000);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(result.duplicates).toBe(0);
      expect(overlapsWithinSession).toBe(0);
      expect(maxInFlight).toBeGreaterThanOrEqual(4);
      expect(failedOnce.size).toBe(10);
      const fastFinishedBeforeSlow = sessions.slice(2).filter((s) => (doneAt.get(s) ?? Infinity) < slowSessionDone);
      expect(fastFinishedBeforeSlow.length).toBeGreaterThan(0);
    }, LOAD_TEST_TIMEOUT_MS);

    it('a message waiting for its retry holds back its own session only', async () => {
      // The retry wait must outlast the delivery of b:0 and b:1 on a busy machine and a wire backend.
      const bus = await buses.make({ retry: { initialDelayMs: 2_000, maxDelayMs: 2_000, multiplier: 1, jitter: 0 } });
      const order: string[] = [];
      let failed = false;
      await bus.subscribe('order.hold', (e) => {
        const tag = `${e.sessionId}:${(e.payload as { i: number }).i}`;
        if (tag === 'a:0' && !failed) {
          failed = true;
          throw new Error('retry me');
        }
        order.push(tag);
      });
      await bus.publish(message({ sessionId: 'a', eventType: 'order.hold', payload: { i: 0 } }));
      await bus.publish(message({ sessionId: 'a', eventType: 'order.hold', payload: { i: 1 } }));
      await bus.publish(message({ sessionId: 'b', eventType: 'order.hold', payload: { i: 0 } }));
      await bus.publish(message({ sessionId: 'b', eventType: 'order.hold', payload: { i: 1 } }));
      await waitFor(() => order.length === 4, 'four deliveries');
      expect(order.indexOf('b:1')).toBeLessThan(order.indexOf('a:0'));
      expect(order.indexOf('a:0')).toBeLessThan(order.indexOf('a:1'));
    });

    it('1,000 sessions at once are all delivered, each in order', async () => {
      const bus = await buses.make({ concurrency: 64 });
      const ledger = new Ledger();
      await bus.subscribe('order.many', (e) => ledger.record(e), { componentId: randomName('many') });
      const publishes: Promise<void>[] = [];
      for (let round = 0; round < 3; round++) {
        for (let s = 0; s < 1000; s++) {
          publishes.push(ledger.publish(bus, message({ sessionId: `s${s}`, eventType: 'order.many', payload: { round } })));
        }
        await Promise.all(publishes.splice(0));
      }
      await waitFor(() => ledger.distinctDelivered === 3000, '3000 deliveries', 60_000);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(result.duplicates).toBe(0);
      expect(new Set(ledger.delivered.map((e) => e.sessionId)).size).toBe(1000);
    }, LOAD_TEST_TIMEOUT_MS);
  });
}
