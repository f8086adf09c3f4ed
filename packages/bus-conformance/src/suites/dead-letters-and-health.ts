/**
 * Dead letters and health, as the contract words them: listing (default limit 100, limit 0, oldest
 * first by when a message was given up), filters by group and event type, the last attempt's
 * `retryCount`, the retention bound; redrive (a fresh attempt count, one new dead letter, nothing
 * after a purge, the session's order kept); pending and lag per group.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { gate, message, quietAfterSentinel, quietPeriod, randomName, useBuses, waitFor } from '../support.js';

export function deadLettersAndHealthSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  const deadLetterCount = async (bus: { getDeadLetterMessages(limit?: number): Promise<unknown[]> }) => (await bus.getDeadLetterMessages(10_000)).length;

  describe('dead letters and health', () => {
    it('getDeadLetterMessages lists at most 100 records by default, the oldest, and none with limit 0', async () => {
      const bus = await buses.make();
      await bus.subscribe('dl.many', () => {
        throw new Error('x');
      }, { componentId: randomName('c'), concurrency: 1 });
      const ids: string[] = [];
      for (let i = 0; i < 105; i++) {
        const m = message({ sessionId: 'one', eventType: 'dl.many', maxRetries: 0 });
        ids.push(m.messageId);
        await bus.publish(m);
      }
      await waitFor(async () => (await deadLetterCount(bus)) === 105, '105 dead letters', 30_000);
      expect((await bus.getDeadLetterMessages()).map((r) => r.envelope.messageId)).toEqual(ids.slice(0, 100));
      expect(await bus.getDeadLetterMessages(0)).toEqual([]);
      expect((await bus.getDeadLetterMessages(101)).length).toBe(101);
    });

    it('dead letters are listed oldest first by when they were given up, not by publish order', async () => {
      const bus = await buses.make();
      const early = message({ sessionId: 'a', eventType: 'dl.when', maxRetries: 1, payload: { early: true } });
      const late = message({ sessionId: 'b', eventType: 'dl.when', maxRetries: 0, payload: { early: false } });
      await bus.subscribe('dl.when', async (e) => {
        // The earlier-published message fails its first attempt only after the later one is dead.
        if ((e.payload as { early: boolean }).early && e.retryCount === 0) {
          await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the later message to be dead-lettered first');
        }
        throw new Error('no');
      });
      await bus.publish(early);
      await bus.publish(late);
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 2, 'two dead letters');
      expect((await bus.getDeadLetterMessages()).map((r) => r.envelope.messageId)).toEqual([late.messageId, early.messageId]);
    });

    it('dead-letter filters by group and by event type select only their records, in get, purge and redrive', async () => {
      const bus = await buses.make();
      const fail = (): never => {
        throw new Error('x');
      };
      const groupA = randomName('ga');
      const groupB = randomName('gb');
      await bus.subscribe('dl.f1', fail, { group: groupA });
      await bus.subscribe('dl.f1', fail, { group: groupB });
      await bus.subscribe('dl.f2', fail, { group: randomName('gc') });
      await bus.publish(message({ sessionId: 's', eventType: 'dl.f1', maxRetries: 0 }));
      await bus.publish(message({ sessionId: 's', eventType: 'dl.f2', maxRetries: 0 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 3, 'three dead letters');
      expect((await bus.getDeadLetterMessages(100, { group: groupA })).map((r) => r.group)).toEqual([groupA]);
      expect((await bus.getDeadLetterMessages(100, { eventType: 'dl.f1' })).map((r) => r.group).sort()).toEqual([groupA, groupB].sort());
      expect((await bus.getDeadLetterMessages(100, { eventType: 'dl.f2' })).map((r) => r.envelope.eventType)).toEqual(['dl.f2']);
      expect((await bus.getDeadLetterMessages(100, { eventType: 'dl.f1', group: groupB })).map((r) => r.group)).toEqual([groupB]);
      expect((await bus.getDeadLetterMessages(100, { group: randomName('none') }))).toEqual([]);
      expect((await bus.purgeDeadLetters({ group: groupB })).purged).toBe(1);
      expect((await bus.getDeadLetterMessages()).map((r) => r.group).sort()).not.toContain(groupB);
      const redriven = await bus.redriveDeadLetters({ eventType: 'dl.f2' });
      expect(redriven.redriven).toHaveLength(1);
      // The redriven message fails again into a new record; groupA's record was never touched.
      await waitFor(async () => (await bus.getDeadLetterMessages(100, { eventType: 'dl.f2' })).length === 1, 'dl.f2 dead again');
      expect((await bus.getDeadLetterMessages(100, { group: groupA }))).toHaveLength(1);
    });

    it("a dead letter's envelope carries the last attempt's retryCount and the attempts made", async () => {
      const bus = await buses.make();
      const counts: number[] = [];
      await bus.subscribe('dl.count', (e) => {
        counts.push(e.retryCount);
        throw new Error('x');
      });
      await bus.publish(message({ sessionId: 's', eventType: 'dl.count', maxRetries: 2 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
      const [record] = await bus.getDeadLetterMessages();
      expect(counts).toEqual([0, 1, 2]);
      expect(record?.envelope.retryCount).toBe(2);
      expect(record?.attempts).toBe(3);
    });

    it('past deadLetterMaxSize the oldest dead letters are dropped', async () => {
      const bus = await buses.make({ deadLetterMaxSize: 3 });
      await bus.subscribe('dl.bound', () => {
        throw new Error('x');
      }, { componentId: randomName('c'), concurrency: 1 });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const m = message({ sessionId: 'one', eventType: 'dl.bound', maxRetries: 0 });
        ids.push(m.messageId);
        await bus.publish(m);
      }
      // The fifth is given up last (one session: in order); wait for its record.
      await waitFor(async () => (await bus.getDeadLetterMessages()).some((r) => r.envelope.messageId === ids[4]), 'the last dead letter');
      expect((await bus.getDeadLetterMessages()).map((r) => r.envelope.messageId)).toEqual(ids.slice(2));
    });

    it('a redriven message that fails again gets all its attempts from a fresh count, and exactly one new dead letter', async () => {
      const bus = await buses.make();
      const counts: number[] = [];
      await bus.subscribe('redrive.again', (e) => {
        counts.push(e.retryCount);
        throw new Error('still broken');
      }, { componentId: randomName('c') });
      await bus.publish(message({ sessionId: 's', eventType: 'redrive.again', maxRetries: 2 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the first dead letter');
      const [first] = await bus.getDeadLetterMessages();
      expect((await bus.redriveDeadLetters()).redriven).toEqual([first!.id]);
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1 && counts.length === 6, 'the second dead letter');
      await quietPeriod(harness, 100);
      expect(counts).toEqual([0, 1, 2, 0, 1, 2]);
      const records = await bus.getDeadLetterMessages();
      expect(records).toHaveLength(1);
      expect(records[0]?.id).not.toBe(first!.id);
      expect(records[0]?.attempts).toBe(3);
    });

    it('redrive after purge sends nothing', async () => {
      const bus = await buses.make();
      let fail = true;
      const got: string[] = [];
      await bus.subscribe('redrive.purged', (e) => {
        if (fail) throw new Error('x');
        got.push(e.messageId);
      }, { componentId: randomName('c') });
      await bus.publish(message({ sessionId: 's', eventType: 'redrive.purged', maxRetries: 0 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
      const [record] = await bus.getDeadLetterMessages();
      expect((await bus.purgeDeadLetters({ ids: [record!.id] })).purged).toBe(1);
      fail = false;
      expect(await bus.redriveDeadLetters({ ids: [record!.id] })).toMatchObject({ redriven: [] });
      expect((await bus.redriveDeadLetters()).redriven).toEqual([]);
      const sentinel = message({ sessionId: 's', eventType: 'redrive.purged' });
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => got.includes(sentinel.messageId));
      expect(got).toEqual([sentinel.messageId]);
    });

    it("a redriven message keeps its session's order: the session's later messages run after it, one at a time", async () => {
      const bus = await buses.make();
      let broken = true;
      const order: string[] = [];
      let running = 0;
      let overlaps = 0;
      const blocker = gate();
      await bus.subscribe('redrive.order', async (e: MessageEnvelope) => {
        if (++running > 1) overlaps++;
        try {
          if (broken) throw new Error('x');
          order.push(e.messageId);
          if ((e.payload as { first?: boolean }).first) await blocker.promise;
        } finally {
          running--;
        }
      }, { componentId: randomName('c') });
      const first = message({ sessionId: 's', eventType: 'redrive.order', maxRetries: 0, payload: { first: true } });
      await bus.publish(first);
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
      broken = false;
      expect((await bus.redriveDeadLetters()).redriven).toHaveLength(1);
      const later = [1, 2, 3].map((i) => message({ sessionId: 's', eventType: 'redrive.order', payload: { i } }));
      for (const m of later) await bus.publish(m);
      await waitFor(() => order.length === 1, 'the redriven message to run');
      await quietPeriod(harness);
      expect(order).toEqual([first.messageId]);
      blocker.release();
      await waitFor(() => order.length === 4, 'the later messages');
      expect(order).toEqual([first, ...later].map((m) => m.messageId));
      expect(overlaps).toBe(0);
    });

    it('pending and lag are reported per group: a blocked group shows its messages, an idle one shows none', async () => {
      // A retry that waits a minute: the message it holds still counts for its group.
      const bus = await buses.make({ retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, multiplier: 1, jitter: 0 } });
      const busy = randomName('busy');
      const idle = randomName('idle');
      const retrying = randomName('retrying');
      const blocker = gate();
      let idleHandled = 0;
      let failed = 0;
      await bus.subscribe('health.per', () => blocker.promise, { group: busy, concurrency: 1 });
      await bus.subscribe('health.per', () => void idleHandled++, { group: idle });
      await bus.subscribe('health.retry', () => {
        failed++;
        throw new Error('retry in a minute');
      }, { group: retrying });
      await bus.publish(message({ sessionId: 'r', eventType: 'health.retry', maxRetries: 1 }));
      await waitFor(() => failed === 1, 'the attempt that waits for its retry');
      for (let i = 0; i < 4; i++) await bus.publish(message({ sessionId: `s${i}`, eventType: 'health.per' }));
      await waitFor(() => idleHandled === 4, 'the idle group to handle all four');
      const groupOf = async (name: string) => (await bus.healthCheck()).groups.find((g) => g.group === name);
      await waitFor(async () => ((await groupOf(idle))?.pending ?? -1) === 0 && (await groupOf(idle))?.lag === 0, 'the idle group to hold nothing');
      await waitFor(async () => {
        const g = await groupOf(busy);
        return (g?.pending ?? 0) + (g?.lag ?? 0) === 4;
      }, 'the busy group to hold all four');
      expect((await groupOf(idle))).toMatchObject({ pending: 0, lag: 0 });
      const waiting = await groupOf(retrying);
      expect((waiting?.pending ?? 0) + (waiting?.lag ?? 0), 'a message waiting for its retry is held by its group').toBe(1);
      blocker.release();
      await waitFor(async () => (await groupOf(busy))?.pending === 0 && (await groupOf(busy))?.lag === 0, 'the busy group to drain');
    });
  });
}
