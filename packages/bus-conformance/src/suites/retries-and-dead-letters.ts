/**
 * At-least-once: retries with the right retryCount, dead-lettering once, redrive and purge, handler
 * timeouts, and the delivery modes.
 */
import { describe, expect, it } from 'vitest';
import { HandlerTimeoutError, type MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { message, quietAfterSentinel, randomName, sleep, useBuses, waitFor } from '../support.js';

export function retriesAndDeadLettersSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('retries and dead letters', () => {
    it('a handler that fails N times then succeeds runs N+1 times with retryCount 0..N', async () => {
      const bus = await buses.make();
      const retryCounts: number[] = [];
      const attempts: number[] = [];
      await bus.subscribe(
        'retry.then.ok',
        (e, ctx) => {
          if ((e.payload as { sentinel?: boolean }).sentinel) return void sentinels.push(e.messageId);
          retryCounts.push(e.retryCount);
          attempts.push(ctx.attempt);
          if (retryCounts.length <= 2) throw new Error(`fail ${retryCounts.length}`);
        },
        { componentId: randomName('c') },
      );
      const sentinels: string[] = [];
      await bus.publish(message({ sessionId: 's', eventType: 'retry.then.ok', maxRetries: 3 }));
      await waitFor(() => retryCounts.length === 3, 'three attempts');
      // The next message of the session starts only once the first is settled; an attempt after
      // the success would show up around it.
      await quietAfterSentinel(
        harness,
        () => bus.publish(message({ sessionId: 's', eventType: 'retry.then.ok', payload: { sentinel: true } })),
        () => sentinels.length === 1,
      );
      expect(retryCounts).toEqual([0, 1, 2]);
      expect(attempts).toEqual([1, 2, 3]);
      expect(await bus.getDeadLetterMessages()).toEqual([]);
    });

    it('a handler that always fails is dead-lettered exactly once, with the error, after maxRetries + 1 attempts', async () => {
      const bus = await buses.make();
      const group = randomName('failing');
      let runs = 0;
      await bus.subscribe(
        'always.fails',
        (e) => {
          if ((e.payload as { sentinel?: boolean }).sentinel) return void sentinels.push(e.messageId);
          runs++;
          throw new Error('the tool exploded');
        },
        { group },
      );
      const sentinels: string[] = [];
      const m = message({ sessionId: 'dl-session', eventType: 'always.fails', maxRetries: 2 });
      await bus.publish(m);
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'one dead letter');
      await quietAfterSentinel(
        harness,
        () => bus.publish(message({ sessionId: 'dl-session', eventType: 'always.fails', payload: { sentinel: true } })),
        () => sentinels.length === 1,
      );
      expect(runs).toBe(3);
      const records = await bus.getDeadLetterMessages();
      expect(records).toHaveLength(1);
      const [record] = records;
      expect(record?.envelope.messageId).toBe(m.messageId);
      expect(record?.envelope.payload).toEqual(m.payload);
      expect(record?.error.message).toBe('the tool exploded');
      expect(record?.attempts).toBe(3);
      expect(record?.group).toBe(group);
      expect(record?.source.stream).toBeTruthy();
      expect(record?.source.id).toBeTruthy();
      expect(record?.lastFailedAt).toBeGreaterThanOrEqual(record?.firstFailedAt ?? Infinity);
      const health = await bus.healthCheck();
      expect(health.metrics.deadLetterQueueSize).toBe(1);
      expect(health.metrics.messagesFailedTotal).toBeGreaterThanOrEqual(3);
    });

    it('the config sets the default maxRetries; the envelope value wins', async () => {
      const bus = await buses.make({ maxRetries: 1 });
      let defaultRuns = 0;
      let explicitRuns = 0;
      await bus.subscribe('max.default', () => {
        defaultRuns++;
        throw new Error('no');
      });
      await bus.subscribe('max.explicit', () => {
        explicitRuns++;
        throw new Error('no');
      });
      await bus.publish({ sessionId: 's', eventType: 'max.default', componentSource: 'c', pattern: 'pub_sub' });
      await bus.publish({ sessionId: 's', eventType: 'max.explicit', componentSource: 'c', pattern: 'pub_sub', maxRetries: 3 });
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 2, 'two dead letters');
      expect(defaultRuns).toBe(2);
      expect(explicitRuns).toBe(4);
    });

    it('redrive sends a dead letter back to its own group only, once; purge empties the store', async () => {
      const bus = await buses.make();
      let healthy = false;
      const delivered: MessageEnvelope[] = [];
      const otherGroup: string[] = [];
      await bus.subscribe(
        'redrive.me',
        (e) => {
          if (!healthy) throw new Error('down');
          delivered.push(e);
        },
        { componentId: 'fixer' },
      );
      await bus.subscribe('redrive.me', (e) => void otherGroup.push(e.messageId), { componentId: 'bystander' });
      const m = message({ sessionId: 's', eventType: 'redrive.me', maxRetries: 0 });
      await bus.publish(m);
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'one dead letter');
      const [record] = await bus.getDeadLetterMessages();
      healthy = true;
      const result = await bus.redriveDeadLetters({ ids: [record!.id] });
      expect(result.redriven).toEqual([record!.id]);
      await waitFor(() => delivered.length === 1, 'redriven delivery');
      expect(delivered[0]?.messageId).toBe(m.messageId);
      expect(delivered[0]?.retryCount).toBe(0);
      expect(await bus.getDeadLetterMessages()).toEqual([]);
      const again = await bus.redriveDeadLetters({ ids: [record!.id] });
      expect(again.redriven).toEqual([]);
      const sentinel = message({ sessionId: 's', eventType: 'redrive.me', maxRetries: 0 });
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => delivered.some((e) => e.messageId === sentinel.messageId));
      expect(delivered.map((e) => e.messageId)).toEqual([m.messageId, sentinel.messageId]);
      expect(otherGroup).toEqual([m.messageId, sentinel.messageId]);

      healthy = false;
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: `p${i}`, eventType: 'redrive.me', maxRetries: 0 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 3, 'three dead letters');
      expect((await bus.purgeDeadLetters({ sessionId: 'p1' })).purged).toBe(1);
      expect((await bus.getDeadLetterMessages()).map((r) => r.envelope.sessionId)).toEqual(['p0', 'p2']);
      const p2 = (await bus.getDeadLetterMessages()).find((r) => r.envelope.sessionId === 'p2')!;
      expect((await bus.getDeadLetterMessages(100, { messageId: p2.envelope.messageId })).map((r) => r.id)).toEqual([p2.id]);
      expect((await bus.purgeDeadLetters()).purged).toBe(2);
      expect(await bus.getDeadLetterMessages()).toEqual([]);
    });

    it('redrive keeps a record for a durable group with no replica attached: it is delivered when one comes back', async () => {
      const bus = await buses.make();
      const component = randomName('away');
      let fail = true;
      const got: string[] = [];
      const handler = (e: MessageEnvelope): void => {
        if (fail) throw new Error('down');
        got.push(e.messageId);
      };
      const id = await bus.subscribe('redrive.away', handler, { componentId: component });
      const m = message({ sessionId: 's', eventType: 'redrive.away', maxRetries: 0, deliveryMode: 'exactly_once' });
      await bus.publish(m);
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'a dead letter');
      const [record] = await bus.getDeadLetterMessages();
      expect(record?.attempts).toBe(1);
      await bus.unsubscribe(id);
      fail = false;
      expect((await bus.redriveDeadLetters()).redriven).toEqual([record!.id]);
      expect(got).toEqual([]);
      await bus.subscribe('redrive.away', handler, { componentId: component });
      await waitFor(() => got.length === 1, 'the redriven message on the returning replica');
      expect(got).toEqual([m.messageId]);
    });

    it('redrive skips, with a reason, a record whose private group is gone', async () => {
      const bus = await buses.make();
      const id = await bus.subscribe('redrive.gone', () => {
        throw new Error('down');
      });
      await bus.publish(message({ sessionId: 's', eventType: 'redrive.gone', maxRetries: 0 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'a dead letter');
      await bus.unsubscribe(id);
      const result = await bus.redriveDeadLetters();
      expect(result.redriven).toEqual([]);
      expect(result.skipped).toHaveLength(1);
      expect(result.skipped[0]?.reason).toBeTruthy();
      expect(await bus.getDeadLetterMessages()).toHaveLength(1);
    });

    it('a handler changing its payload changes nothing for other groups, later attempts or the dead letter', async () => {
      const bus = await buses.make();
      const seenByMutator: unknown[] = [];
      const seenByOther: unknown[] = [];
      await bus.subscribe(
        'mutate.me',
        (e) => {
          seenByMutator.push(structuredClone(e.payload));
          (e.payload as { items: string[] }).items.push('changed');
          (e.metadata as Record<string, unknown>)['touched'] = true;
          throw new Error('fails after changing its payload');
        },
        { componentId: randomName('mutator') },
      );
      await bus.subscribe('mutate.me', async (e) => {
        await sleep(20);
        seenByOther.push(e.payload);
      }, { componentId: randomName('other') });
      await bus.publish(message({ sessionId: 's', eventType: 'mutate.me', payload: { items: ['a'] }, metadata: { m: 1 }, maxRetries: 2 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
      await waitFor(() => seenByOther.length === 1, 'the other group');
      expect(seenByMutator).toEqual([{ items: ['a'] }, { items: ['a'] }, { items: ['a'] }]);
      expect(seenByOther).toEqual([{ items: ['a'] }]);
      const [record] = await bus.getDeadLetterMessages();
      expect(record?.envelope.payload).toEqual({ items: ['a'] });
      expect(record?.envelope.metadata).toEqual({ m: 1 });
    });

    it('dead letters are listed oldest first and limited', async () => {
      const bus = await buses.make();
      await bus.subscribe('dl.order', () => {
        throw new Error('x');
      });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const m = message({ sessionId: 'one', eventType: 'dl.order', maxRetries: 0 });
        ids.push(m.messageId);
        await bus.publish(m);
      }
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 5, 'five dead letters');
      expect((await bus.getDeadLetterMessages()).map((r) => r.envelope.messageId)).toEqual(ids);
      expect((await bus.getDeadLetterMessages(2)).map((r) => r.envelope.messageId)).toEqual(ids.slice(0, 2));
    });

    it('a handler timeout is a failed attempt: the signal aborts, it retries, then dead-letters', async () => {
      const bus = await buses.make();
      let aborted = 0;
      let runs = 0;
      await bus.subscribe(
        'slow.handler',
        (_e, ctx) =>
          new Promise<void>((resolve) => {
            runs++;
            ctx.signal.addEventListener('abort', () => {
              aborted++;
              resolve();
            });
          }),
        { handlerTimeoutMs: 50 },
      );
      await bus.publish(message({ sessionId: 's', eventType: 'slow.handler', maxRetries: 1 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'a dead letter');
      const [record] = await bus.getDeadLetterMessages();
      expect(runs).toBe(2);
      expect(aborted).toBe(2);
      expect(record?.error.name).toBe(new HandlerTimeoutError(50).name);
      expect(record?.error.code).toBe('HANDLER_TIMEOUT');
    });

    it('at_most_once is never redelivered; its failure is dead-lettered once', async () => {
      const bus = await buses.make();
      let runs = 0;
      const sentinels: string[] = [];
      await bus.subscribe('amo.fail', (e) => {
        if ((e.payload as { sentinel?: boolean }).sentinel) return void sentinels.push(e.messageId);
        runs++;
        throw new Error('once');
      });
      await bus.publish(message({ sessionId: 's', eventType: 'amo.fail', deliveryMode: 'at_most_once', maxRetries: 5 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'a dead letter');
      await quietAfterSentinel(
        harness,
        () => bus.publish(message({ sessionId: 's', eventType: 'amo.fail', payload: { sentinel: true } })),
        () => sentinels.length === 1,
      );
      expect(runs).toBe(1);
      expect((await bus.getDeadLetterMessages())[0]?.attempts).toBe(1);
    });
  });
}
