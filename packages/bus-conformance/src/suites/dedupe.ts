/**
 * Dedupe: only `exactly_once` messages are deduplicated by `messageId`, only within the dedupe
 * window, and concurrent duplicate publishes (on one bus, or on two instances sharing a namespace)
 * give exactly one `duplicate: false`.
 */
import { describe, expect, it } from 'vitest';
import type { BusHarness } from '../harness.js';
import { message, quietAfterSentinel, randomName, sleep, upperBound, useBuses, waitFor } from '../support.js';

export function dedupeSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('dedupe', () => {
    it('at_least_once messages are never deduplicated: the same id published twice is delivered twice', async () => {
      const bus = await buses.make();
      const got: string[] = [];
      await bus.subscribe('dedupe.alo', (e) => void got.push(e.messageId), { componentId: randomName('c') });
      const m = message({ sessionId: 's', eventType: 'dedupe.alo', deliveryMode: 'at_least_once' });
      await expect(bus.publish(m)).resolves.toEqual({ messageId: m.messageId, duplicate: false });
      await expect(bus.publish(m)).resolves.toEqual({ messageId: m.messageId, duplicate: false });
      const sentinel = message({ sessionId: 's', eventType: 'dedupe.alo' });
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => got.includes(sentinel.messageId));
      expect(got).toEqual([m.messageId, m.messageId, sentinel.messageId]);
    });

    it('exactly_once: the same id is a duplicate within the dedupe window and accepted again after it', async () => {
      const windowMs = 600;
      const bus = await buses.make({ dedupeWindowMs: windowMs });
      const got: string[] = [];
      await bus.subscribe('dedupe.window', (e) => void got.push(e.messageId), { componentId: randomName('c') });
      const m = message({ sessionId: 's', eventType: 'dedupe.window', deliveryMode: 'exactly_once' });
      const firstAt = performance.now();
      await expect(bus.publish(m)).resolves.toMatchObject({ duplicate: false });
      await waitFor(() => got.length === 1, 'the first delivery');
      // Inside the window (checked only while it surely is): a duplicate.
      if (performance.now() - firstAt < windowMs - 50) await expect(bus.publish(m)).resolves.toMatchObject({ duplicate: true });
      await sleep(windowMs);
      const deadline = firstAt + upperBound(harness, windowMs);
      let again = await bus.publish(m);
      while (again.duplicate && performance.now() < deadline) {
        await sleep(20);
        again = await bus.publish(m);
      }
      expect(again.duplicate, 'accepted again once the window has passed').toBe(false);
      await waitFor(() => got.length === 2, 'the second delivery');
      expect(got).toEqual([m.messageId, m.messageId]);
    });

    it('concurrent duplicate publishes of one exactly_once message give exactly one duplicate: false and one delivery', async () => {
      const bus = await buses.make();
      const got: string[] = [];
      await bus.subscribe('dedupe.race', (e) => void got.push(e.messageId), { componentId: randomName('c') });
      const m = message({ sessionId: 's', eventType: 'dedupe.race', deliveryMode: 'exactly_once' });
      const results = await Promise.all(Array.from({ length: 10 }, () => bus.publish(m)));
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
      const sentinel = message({ sessionId: 's', eventType: 'dedupe.race' });
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => got.includes(sentinel.messageId));
      expect(got).toEqual([m.messageId, sentinel.messageId]);
    });

    it.skipIf(!harness.features.crossProcess)('duplicate publishes from two instances at once give exactly one duplicate: false', async () => {
      const streamPrefix = randomName('dd');
      const one = await buses.make({ streamPrefix });
      const two = await buses.make({ streamPrefix });
      const got: string[] = [];
      await one.subscribe('dedupe.across', (e) => void got.push(e.messageId), { componentId: randomName('c') });
      for (let round = 0; round < 5; round++) {
        const m = message({ sessionId: `s${round}`, eventType: 'dedupe.across', deliveryMode: 'exactly_once' });
        const results = await Promise.all([one.publish(m), two.publish(m), one.publish(m), two.publish(m)]);
        expect(results.filter((r) => !r.duplicate), `round ${round}`).toHaveLength(1);
      }
      await waitFor(() => got.length >= 5, 'five deliveries');
      const sentinel = message({ sessionId: 's0', eventType: 'dedupe.across' });
      await quietAfterSentinel(harness, () => two.publish(sentinel), () => got.includes(sentinel.messageId));
      expect(got).toHaveLength(6);
      expect(new Set(got).size).toBe(6);
    });
  });
}
