/**
 * What a failure is, whatever is thrown: a value that is not an `Error` is retried and dead-lettered
 * like any failure, with a readable error; an `UnrecoverableError` is dead-lettered at once with its
 * cause; deleting a session aborts its running handler with `SessionDeletedError`. And each replica
 * of a group keeps its own `concurrency`.
 */
import { describe, expect, it } from 'vitest';
import { UnrecoverableError } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { Concurrency, gate, message, randomName, useBuses, waitFor } from '../support.js';

export function failuresAndReplicasSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('failures of any kind, and replicas', () => {
    it('a handler throwing a value that is not an Error (even one whose toString throws) is retried, then dead-lettered with a readable error', async () => {
      const bus = await buses.make();
      let runs = 0;
      const hostile = Object.assign(Object.create(null) as object, {
        toString(): string {
          throw new Error('cannot print me');
        },
      });
      await bus.subscribe(
        'odd.throw',
        () => {
          runs++;
          throw hostile;
        },
        { group: randomName('odd') },
      );
      await bus.publish(message({ sessionId: 's', eventType: 'odd.throw', maxRetries: 1 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
      const [record] = await bus.getDeadLetterMessages();
      expect(runs).toBe(2);
      expect(record?.attempts).toBe(2);
      expect(typeof record?.error.message).toBe('string');
      expect(record?.error.message.length).toBeGreaterThan(0);
    });

    it('an UnrecoverableError is dead-lettered at once, without retries, the record keeping its cause', async () => {
      const bus = await buses.make();
      let runs = 0;
      await bus.subscribe(
        'never.works',
        () => {
          runs++;
          throw new UnrecoverableError('this order can never be handled', { cause: new RangeError('quantity -1') });
        },
        { group: randomName('unrecoverable') },
      );
      await bus.publish(message({ sessionId: 's', eventType: 'never.works', maxRetries: 5 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
      const [record] = await bus.getDeadLetterMessages();
      expect(runs).toBe(1);
      expect(record?.attempts).toBe(1);
      expect(record?.error).toMatchObject({ name: 'UnrecoverableError', code: 'UNRECOVERABLE', message: 'this order can never be handled' });
      expect(record?.error.cause).toMatchObject({ name: 'RangeError', message: 'quantity -1' });
    });

    it('deleteSessionQueue aborts a running handler with SessionDeletedError', async () => {
      const bus = await buses.make();
      const session = randomName('gone');
      let reason: unknown;
      await bus.subscribe(
        'del.reason',
        (_e, ctx) =>
          new Promise<void>((resolve) =>
            ctx.signal.addEventListener('abort', () => {
              reason = ctx.signal.reason;
              resolve();
            }),
          ),
        { group: randomName('del') },
      );
      let started = false;
      await bus.subscribe('del.reason', () => void (started = true), { group: randomName('seen') });
      await bus.publish(message({ sessionId: session, eventType: 'del.reason' }));
      await waitFor(() => started, 'the message to be delivered');
      await waitFor(async () => (await bus.healthCheck()).groups.some((g) => g.pending === 1), 'the handler to run');
      await bus.deleteSessionQueue(session);
      await waitFor(() => reason !== undefined, 'the abort');
      expect(reason).toMatchObject({ name: 'SessionDeletedError', code: 'SESSION_DELETED' });
    });

    it('a replica subscribed with concurrency 1 beside one with 4 never runs two attempts at once', async () => {
      const bus = await buses.make();
      const group = randomName('mixed');
      const counts = new Map<string, Concurrency>();
      const release = gate();
      let done = 0;
      const handler = async (_e: unknown, ctx: { subscriptionId: string }): Promise<void> => {
        const c = counts.get(ctx.subscriptionId) ?? new Concurrency();
        counts.set(ctx.subscriptionId, c);
        await c.around('', () => release.promise);
        done++;
      };
      const one = await bus.subscribe('mixed.work', handler, { group, concurrency: 1 });
      const four = await bus.subscribe('mixed.work', handler, { group, concurrency: 4 });
      for (let i = 0; i < 20; i++) await bus.publish(message({ sessionId: `s${i}`, eventType: 'mixed.work' }));
      await waitFor(() => (counts.get(one)?.now ?? 0) + (counts.get(four)?.now ?? 0) === 5, 'both replicas full');
      release.release();
      await waitFor(() => done === 20, 'all 20');
      expect(counts.get(one)?.max).toBe(1);
      expect(counts.get(four)?.max).toBe(4);
    });
  });
}
