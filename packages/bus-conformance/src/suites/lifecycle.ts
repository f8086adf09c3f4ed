/**
 * Lifecycle: unsubscribe, sessions created and deleted, close with work in flight, calls after
 * close, health and group expiry.
 */
import { describe, expect, it } from 'vitest';
import { BusClosedError } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { gate, message, quietAfterSentinel, quietPeriod, randomName, sleep, upperBound, useBuses, waitFor } from '../support.js';

export function lifecycleSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('lifecycle', () => {
    it('unsubscribe stops delivery and reports unknown ids', async () => {
      const bus = await buses.make();
      const got: string[] = [];
      const id = await bus.subscribe('life.unsub', (e) => void got.push(e.messageId));
      await bus.publish(message({ sessionId: 's', eventType: 'life.unsub' }));
      await waitFor(() => got.length === 1, 'first delivery');
      await expect(bus.unsubscribe(id)).resolves.toBe(true);
      await expect(bus.unsubscribe(id)).resolves.toBe(false);
      // A witness subscribed to the same type gets the message the unsubscribed one must not.
      const witness: string[] = [];
      await bus.subscribe('life.unsub', (e) => void witness.push(e.messageId));
      await quietAfterSentinel(harness, () => bus.publish(message({ sessionId: 's', eventType: 'life.unsub' })), () => witness.length === 1);
      expect(got).toHaveLength(1);
    });

    it('a handler may unsubscribe its own subscription (a one-shot listener): it is not aborted, unsubscribe does not wait for it', async () => {
      // A long closeTimeoutMs: an unsubscribe that waited for the handler calling it would hang the test.
      const bus = await buses.make({ closeTimeoutMs: 60_000 });
      let subscriptionId: string | undefined;
      const outcome: Array<string | boolean> = [];
      subscriptionId = await bus.subscribe('life.once', async (e, { signal }) => {
        outcome.push(await bus.unsubscribe(subscriptionId!));
        outcome.push(signal.aborted, e.eventType);
      });
      await bus.publish(message({ sessionId: 's', eventType: 'life.once' }));
      await waitFor(() => outcome.length === 3, 'the handler to unsubscribe itself and finish', 10_000);
      expect(outcome).toEqual([true, false, 'life.once']);
      const witness: string[] = [];
      await bus.subscribe('life.once', (e) => void witness.push(e.messageId));
      await quietAfterSentinel(harness, () => bus.publish(message({ sessionId: 's', eventType: 'life.once' })), () => witness.length === 1);
      expect(outcome).toHaveLength(3);
    }, 20_000);

    it('a durable group keeps its messages while no replica is attached', async () => {
      const bus = await buses.make();
      const component = randomName('durable');
      const first: string[] = [];
      const id = await bus.subscribe('life.durable', (e) => void first.push(e.messageId), { componentId: component });
      await bus.unsubscribe(id);
      const m = message({ sessionId: 's', eventType: 'life.durable' });
      await bus.publish(m);
      const second: string[] = [];
      await bus.subscribe('life.durable', (e) => void second.push(e.messageId), { componentId: component });
      await waitFor(() => second.length === 1, 'delivery to the returning replica');
      expect(second).toEqual([m.messageId]);
      expect(first).toEqual([]);
    });

    it('a component group made with durable: false receives its targeted messages and ends with its subscription', async () => {
      const bus = await buses.make();
      const address = randomName('reply');
      const got: string[] = [];
      const id = await bus.subscribe('*', (e) => void got.push(e.messageId), { componentId: address, targetedOnly: true, durable: false });
      const m = message({ sessionId: 's', eventType: 'reply.ack', pattern: 'point_to_point', componentTarget: address });
      await bus.publish(m);
      await waitFor(() => got.length === 1, 'the targeted message');
      expect((await bus.healthCheck()).groups.find((g) => g.componentId === address)).toMatchObject({ durable: false, consumers: 1 });
      await bus.unsubscribe(id);
      expect((await bus.healthCheck()).groups.filter((g) => g.componentId === address)).toEqual([]);
    });

    it('createSessionQueue is optional and idempotent; deleteSessionQueue leaves nothing behind', async () => {
      const bus = await buses.make();
      const session = randomName('doomed');
      await bus.createSessionQueue(session);
      await bus.createSessionQueue(session);
      // waiting for a target that is not there yet
      const target = randomName('absent');
      await bus.publish(message({ sessionId: session, eventType: 'life.wait', pattern: 'point_to_point', componentTarget: target }));
      // a dead letter of the session
      await bus.subscribe('life.fail', () => {
        throw new Error('dead');
      });
      await bus.publish(message({ sessionId: session, eventType: 'life.fail', maxRetries: 0 }));
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
      // a running handler and messages queued behind it
      let started = 0;
      let sawAbort = false;
      const blockGroup = randomName('block');
      await bus.subscribe(
        'life.block',
        (_e, ctx) =>
          new Promise<void>((resolve) => {
            started++;
            ctx.signal.addEventListener('abort', () => {
              sawAbort = true;
              resolve();
            });
          }),
        { group: blockGroup },
      );
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: session, eventType: 'life.block' }));
      await waitFor(() => started === 1, 'the blocking handler to start');

      await bus.deleteSessionQueue(session);
      await waitFor(() => sawAbort, 'the running handler to be aborted');

      expect(await bus.getDeadLetterMessages(100, { sessionId: session })).toEqual([]);
      const health = await bus.healthCheck();
      const block = health.groups.find((g) => g.group === blockGroup);
      expect(block?.lag ?? 0).toBe(0);
      expect(block?.pending ?? 0).toBe(0);
      await quietPeriod(harness);
      expect(started).toBe(1);
      const late: string[] = [];
      await bus.subscribe('*', (e) => void late.push(e.messageId), { componentId: target, targetedOnly: true });
      // a later publish starts the session afresh
      const fresh = message({ sessionId: session, eventType: 'life.wait', pattern: 'point_to_point', componentTarget: target });
      await bus.publish(fresh);
      // The fresh message is of the same session: anything left waiting would arrive ahead of it.
      await waitFor(() => late.length === 1, 'the fresh message');
      await quietPeriod(harness);
      expect(late).toEqual([fresh.messageId]);
    });

    it('close aborts the signal of running handlers and waits for them', async () => {
      const bus = await buses.make({ closeTimeoutMs: 5_000 });
      let finished = false;
      let aborted = false;
      let started = false;
      await bus.subscribe('life.close', async (_e, ctx) => {
        started = true;
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
        });
        await sleep(200);
        finished = true;
      });
      await bus.publish(message({ sessionId: 's', eventType: 'life.close' }));
      await waitFor(() => started, 'the handler to start');
      await bus.close();
      expect(aborted).toBe(true);
      expect(finished).toBe(true);
    });

    it('close does not wait for a retry, nor longer than closeTimeoutMs for a handler that ignores its signal', async () => {
      const bus = await buses.make({ closeTimeoutMs: 200, retry: { initialDelayMs: 60_000, maxDelayMs: 60_000, multiplier: 1, jitter: 0 } });
      let failing = 0;
      let stuckStarted = false;
      await bus.subscribe('life.retrying', () => {
        failing++;
        throw new Error('retry in a minute');
      });
      await bus.subscribe('life.stuck', () => {
        stuckStarted = true;
        return new Promise<void>(() => undefined); // never settles, ignores the signal
      }, { handlerTimeoutMs: 0 });
      await bus.publish(message({ sessionId: 'r', eventType: 'life.retrying' }));
      await bus.publish(message({ sessionId: 's', eventType: 'life.stuck' }));
      await waitFor(() => failing === 1 && stuckStarted, 'a retry waiting and a stuck handler');
      const closeStartedAt = performance.now();
      await bus.close(); // resolves: bounded by closeTimeoutMs, not by the retry or the stuck handler
      expect(performance.now() - closeStartedAt).toBeLessThanOrEqual(upperBound(harness, 200));
      await expect(bus.publish(message({ sessionId: 's', eventType: 'life.stuck' }))).rejects.toBeInstanceOf(BusClosedError);
      await quietPeriod(harness);
      expect(failing).toBe(1);
    });

    it('unsubscribing the last replica of a durable group mid-attempt loses nothing: its next replica continues in order', async () => {
      const bus = await buses.make();
      const component = randomName('handover');
      const blocked = gate();
      const first: string[] = [];
      const id = await bus.subscribe('life.handover', async (e) => {
        first.push(e.messageId);
        await blocked.promise;
        throw new Error('the first replica fails as it leaves');
      }, { componentId: component });
      const sent = [];
      for (let i = 0; i < 4; i++) {
        const m = message({ sessionId: 'handover', eventType: 'life.handover', payload: { i } });
        sent.push(m.messageId);
        await bus.publish(m);
      }
      await waitFor(() => first.length === 1, 'the first attempt to start');
      await bus.unsubscribe(id);
      blocked.release();
      const second: string[] = [];
      await bus.subscribe('life.handover', (e) => void second.push(e.messageId), { componentId: component });
      await waitFor(() => second.length === 4, 'the four messages on the new replica');
      const sentinel = message({ sessionId: 'handover', eventType: 'life.handover' });
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => second.includes(sentinel.messageId));
      expect(second).toEqual([...sent, sentinel.messageId]);
      expect(first).toEqual([sent[0]]);
    });

    it('every call after close rejects with BusClosedError', async () => {
      const bus = await buses.make();
      await bus.close();
      await bus.close();
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['publish', () => bus.publish(message({ sessionId: 's', eventType: 'after.close' }))],
        ['subscribe', () => bus.subscribe('after.close', () => undefined)],
        ['unsubscribe', () => bus.unsubscribe('sub-x')],
        ['createSessionQueue', () => bus.createSessionQueue('s')],
        ['deleteSessionQueue', () => bus.deleteSessionQueue('s')],
        ['getDeadLetterMessages', () => bus.getDeadLetterMessages()],
        ['redriveDeadLetters', () => bus.redriveDeadLetters()],
        ['purgeDeadLetters', () => bus.purgeDeadLetters()],
        ['healthCheck', () => bus.healthCheck()],
      ];
      for (const [name, call] of calls) {
        await expect(call(), name).rejects.toBeInstanceOf(BusClosedError);
        await expect(call(), name).rejects.toMatchObject({ code: 'BUS_CLOSED' });
      }
    });

    it('health reports status, the design metrics and each group', async () => {
      const metrics: string[] = [];
      const bus = await buses.make({ onMetric: (m: { name: string }) => void metrics.push(m.name) });
      const group = randomName('h');
      let n = 0;
      await bus.subscribe('health.x', () => void n++, { group });
      for (let i = 0; i < 5; i++) await bus.publish(message({ sessionId: 's', eventType: 'health.x' }));
      await waitFor(() => n === 5, 'five deliveries');
      await waitFor(async () => (await bus.healthCheck()).metrics.messagesConsumedTotal >= 5, 'consumed counted');
      const health = await bus.healthCheck();
      expect(health.status).toBe('healthy');
      expect(health.backend).toBe(bus.backend);
      expect(['memory', 'redis', 'nats', 'routed']).toContain(bus.backend);
      expect(health.metrics.messagesPublishedTotal).toBeGreaterThanOrEqual(5);
      expect(health.metrics.activeSubscriptions).toBe(1);
      expect(health.metrics.messageProcessingTimeMs.count).toBeGreaterThanOrEqual(5);
      const g = health.groups.find((x) => x.group === group);
      expect(g).toMatchObject({ eventPattern: 'health.x', consumers: 1, pending: 0, lag: 0, durable: true });
      expect(metrics).toContain('message_bus.messages_published_total');
      expect(metrics).toContain('message_bus.messages_consumed_total');
    });

    it('health counts the messages a group holds: pending and lag add up, and drop to zero when handled', async () => {
      const bus = await buses.make();
      const group = randomName('hl');
      let release!: () => void;
      const blocked = new Promise<void>((resolve) => (release = resolve));
      let started = 0;
      await bus.subscribe(
        'health.hold',
        async () => {
          started++;
          await blocked;
        },
        { group, concurrency: 1 },
      );
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: 'held', eventType: 'health.hold' }));
      await bus.publish(message({ sessionId: 'other', eventType: 'health.hold' }));
      await waitFor(() => started === 1, 'the first handler to start');
      const g = async () => (await bus.healthCheck()).groups.find((x) => x.group === group);
      // Where a backend draws the line between delivered and waiting is its own; the sum is not.
      await waitFor(async () => ((await g())?.pending ?? 0) + ((await g())?.lag ?? 0) === 4, 'four messages held');
      expect((await g())?.pending).toBeGreaterThanOrEqual(1);
      expect(started).toBe(1);
      release();
      await waitFor(async () => (await g())?.pending === 0 && (await g())?.lag === 0, 'nothing held');
      expect(started).toBe(4);
    });

    it('a private group is removed on unsubscribe; a durable group unused past groupExpiryMs is removed and reported', async () => {
      const bus = await buses.make({ groupExpiryMs: 50 });
      const privateId = await bus.subscribe('expiry.x', () => undefined);
      const durableGroup = randomName('expiring');
      const durableId = await bus.subscribe('expiry.x', () => undefined, { group: durableGroup });
      const before = await bus.healthCheck();
      expect(before.groups.map((g) => g.group)).toContain(durableGroup);
      expect(before.groups).toHaveLength(2);
      await bus.unsubscribe(privateId);
      await bus.unsubscribe(durableId);
      // The private group is gone at once. The durable one stays until it expires, which at 50 ms may
      // already have happened on a loaded machine: then it is reported expired, never just dropped.
      const after = await bus.healthCheck();
      expect(after.groups.map((g) => g.group).filter((g) => g !== durableGroup)).toEqual([]);
      if (after.groups.length === 0) expect(after.expiredGroups).toContain(durableGroup);
      await waitFor(async () => (await bus.healthCheck()).expiredGroups.includes(durableGroup), 'the group to expire', 10_000);
      expect((await bus.healthCheck()).groups).toEqual([]);
    });
  });
}
