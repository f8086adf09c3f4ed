/**
 * Persistent backends: a subscriber closed and reopened continues with no loss; a consumer process
 * killed mid-handler has its unacknowledged work taken over, its session's later messages waiting;
 * Checked with a ledger. Server restarts are in server-faults.ts.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { startConsumerProcess } from '../child-process.js';
import { FAST_RETRY, Ledger, message, quietPeriod, randomName, useBuses, waitFor } from '../support.js';

/** These tests wait for servers and processes; their own waits end well before this. */
const PERSISTENCE_TEST_TIMEOUT_MS = 120_000;

export function persistenceSuite(harness: BusHarness): void {
  const buses = useBuses(harness);
  const { features } = harness;

  describe('persistence', () => {
    it.skipIf(!features.persistence)('a subscriber closed and reopened continues with no loss, in order', async () => {
      const streamPrefix = randomName('persist');
      const publisher = await buses.make({ streamPrefix });
      const component = randomName('reopen');
      const ledger = new Ledger();
      const first = await buses.make({ streamPrefix });
      await first.subscribe('persist.work', (e) => ledger.record(e), { componentId: component });
      for (let i = 0; i < 30; i++) await ledger.publish(publisher, message({ sessionId: `s${i % 3}`, eventType: 'persist.work', payload: { i } }));
      await waitFor(() => ledger.distinctDelivered >= 10, 'some deliveries');
      await first.close();
      for (let i = 30; i < 60; i++) await ledger.publish(publisher, message({ sessionId: `s${i % 3}`, eventType: 'persist.work', payload: { i } }));
      const second = await buses.make({ streamPrefix });
      await second.subscribe('persist.work', (e) => ledger.record(e), { componentId: component });
      await waitFor(() => ledger.distinctDelivered === 60, 'all 60 deliveries', 30_000);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      // close() acknowledged what its handlers finished: nothing comes back twice without a fault.
      expect(result.duplicates).toBe(0);
    }, PERSISTENCE_TEST_TIMEOUT_MS);

    it.skipIf(!features.crossProcess)(
      'a consumer killed mid-handler has its unacknowledged messages handled by another, its session waiting for them',
      async () => {
        const streamPrefix = randomName('kill');
        const component = randomName('victim');
        const options = { streamPrefix, retry: FAST_RETRY, ...harness.fastRecoveryOptions };
        const child = startConsumerProcess(harness, options, [{ eventType: 'kill.work', options: { componentId: component } }]);
        try {
          await child.waitForEvent((e) => e.ev === 'ready', 'the child to be ready');
          const publisher = await buses.make({ streamPrefix });
          const hang = message({ sessionId: 'victim-session', eventType: 'kill.work', payload: { hang: true } });
          const after = message({ sessionId: 'victim-session', eventType: 'kill.work', payload: { i: 1 } });
          const other = message({ sessionId: 'other-session', eventType: 'kill.work', payload: { i: 2 } });
          await publisher.publish(hang);
          await child.waitForEvent((e) => e.ev === 'start' && e.id === hang.messageId, 'the hanging handler to start');
          await publisher.publish(after);
          await publisher.publish(other);
          await child.waitForEvent((e) => e.ev === 'done' && e.id === other.messageId, 'the other session to finish');
          // "done" is printed inside the handler, before the backend acknowledges: wait until the
          // group holds exactly the two unacknowledged messages (the hanging one and the one of its
          // session behind it), so `other` is acknowledged before the kill and must not come back.
          const held = async () => {
            const group = (await publisher.healthCheck()).groups.find((g) => g.componentId === component);
            return (group?.pending ?? 0) + (group?.lag ?? 0);
          };
          await waitFor(async () => (await held()) === 2, 'the group to hold exactly the two unacknowledged messages', 20_000);
          expect(child.events.some((e) => e.ev === 'start' && e.id === after.messageId)).toBe(false);
          await child.kill();

          const survivor = await buses.make({ ...options });
          const seen: MessageEnvelope[] = [];
          await survivor.subscribe('kill.work', (e) => void seen.push(e), { componentId: component });
          await waitFor(() => seen.some((e) => e.messageId === after.messageId), 'the taken-over messages', 30_000);
          await quietPeriod(harness);
          const ids = seen.map((e) => e.messageId);
          expect(ids.filter((id) => id === hang.messageId)).toHaveLength(1);
          expect(ids.filter((id) => id === after.messageId)).toHaveLength(1);
          expect(ids.indexOf(hang.messageId)).toBeLessThan(ids.indexOf(after.messageId));
          expect(ids).not.toContain(other.messageId);
          // The killed attempt counts: the redelivery is the second attempt.
          expect(seen.find((e) => e.messageId === hang.messageId)?.retryCount).toBeGreaterThanOrEqual(1);
        } finally {
          await child.kill();
        }
      },
      PERSISTENCE_TEST_TIMEOUT_MS,
    );
  });
}
