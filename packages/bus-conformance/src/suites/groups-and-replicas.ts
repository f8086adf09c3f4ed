/**
 * Groups and replicas: untargeted `stream` routes like pub_sub; replicas of one group share its work
 * (each message once, every replica some); unsubscribing one replica leaves the others consuming; an
 * observer beside a target that already subscribed; a private group's unsubscribe drops what it
 * had queued and does not retry its running attempt; the waiting-target bound; what
 * `DeliveryContext` names.
 */
import { describe, expect, it } from 'vitest';
import { BusError, QueueFullError, type DeliveryContext, type MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { Ledger, gate, message, quietAfterSentinel, quietPeriod, randomName, sleep, useBuses, waitFor } from '../support.js';

export function groupsAndReplicasSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('groups and replicas', () => {
    it('untargeted stream messages route like pub_sub: every matching group gets them, targetedOnly ones do not', async () => {
      const bus = await buses.make();
      const worker = randomName('worker');
      const got = { worker: [] as string[], hooks: [] as string[], watcher: [] as string[], targetedOnly: [] as string[] };
      await bus.subscribe('stream.chunk', (e) => void got.worker.push(e.messageId), { componentId: worker });
      await bus.subscribe('stream.chunk', (e) => void got.hooks.push(e.messageId), { componentId: randomName('hooks') });
      await bus.subscribe('*', (e) => void got.watcher.push(e.messageId));
      await bus.subscribe('*', (e) => void got.targetedOnly.push(e.messageId), { componentId: randomName('only'), targetedOnly: true });
      const chunks = Array.from({ length: 5 }, (_, i) => message({ sessionId: 'st', eventType: 'stream.chunk', pattern: 'stream', payload: { i } }));
      for (const m of chunks) await bus.publish(m);
      const ids = chunks.map((m) => m.messageId);
      await waitFor(() => got.worker.length === 5 && got.hooks.length === 5 && got.watcher.length === 5, 'every group to get the five chunks');
      await quietPeriod(harness);
      expect(got.worker).toEqual(ids);
      expect(got.hooks).toEqual(ids);
      expect(got.watcher).toEqual(ids);
      expect(got.targetedOnly).toEqual([]);
    });

    it('a pub_sub group with several replicas delivers each message once, and every replica gets work', async () => {
      const bus = await buses.make();
      const group = randomName('shared');
      const ledger = new Ledger();
      const perReplica = new Map<string, number>();
      const handler = async (e: MessageEnvelope, ctx: DeliveryContext): Promise<void> => {
        perReplica.set(ctx.subscriptionId, (perReplica.get(ctx.subscriptionId) ?? 0) + 1);
        ledger.record(e);
        await sleep(2);
      };
      const replicas = [];
      for (let r = 0; r < 3; r++) replicas.push(await bus.subscribe('share.work', handler, { group }));
      for (let i = 0; i < 90; i++) await ledger.publish(bus, message({ sessionId: `s${i % 9}`, eventType: 'share.work', payload: { i } }));
      await waitFor(() => ledger.distinctDelivered === 90, '90 deliveries');
      const sentinel = message({ sessionId: 's0', eventType: 'share.work' });
      await quietAfterSentinel(harness, () => ledger.publish(bus, sentinel), () => ledger.distinctDelivered === 91);
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.duplicates).toBe(0);
      expect(result.outOfOrder).toEqual([]);
      for (const id of replicas) expect(perReplica.get(id) ?? 0, `replica ${id} got work`).toBeGreaterThan(0);
    });

    it("unsubscribing one replica leaves the other consuming the group's messages", async () => {
      const bus = await buses.make();
      const component = randomName('pair');
      const byReplica = new Map<string, string[]>();
      const handler = (e: MessageEnvelope, ctx: DeliveryContext): void => {
        byReplica.set(ctx.subscriptionId, [...(byReplica.get(ctx.subscriptionId) ?? []), e.messageId]);
      };
      const leaving = await bus.subscribe('pair.work', handler, { componentId: component });
      const staying = await bus.subscribe('pair.work', handler, { componentId: component });
      for (let i = 0; i < 10; i++) await bus.publish(message({ sessionId: `s${i % 5}`, eventType: 'pair.work' }));
      const total = () => [...byReplica.values()].reduce((n, ids) => n + ids.length, 0);
      await waitFor(() => total() === 10, 'the first ten');
      await bus.unsubscribe(leaving);
      const later: string[] = [];
      for (let i = 0; i < 20; i++) {
        const m = message({ sessionId: `s${i % 5}`, eventType: 'pair.work' });
        later.push(m.messageId);
        await bus.publish(m);
      }
      await waitFor(() => later.every((id) => byReplica.get(staying)?.includes(id)), 'the staying replica to take every later message', 20_000);
      expect(later.filter((id) => byReplica.get(leaving)?.includes(id))).toEqual([]);
    });

    it("an observer beside a target that already subscribed sees the target's messages, which the target handles once", async () => {
      const bus = await buses.make();
      const target = randomName('target');
      const handled: string[] = [];
      await bus.subscribe('*', (e) => void handled.push(e.messageId), { componentId: target, targetedOnly: true });
      const observed: string[] = [];
      const observer = await bus.subscribe('*', (e) => void observed.push(e.messageId), { observe: true });
      const sent = [0, 1, 2].map((i) => message({ sessionId: 'obs', eventType: 'obs.task', pattern: 'point_to_point', componentTarget: target, payload: { i } }));
      for (const m of sent) await bus.publish(m);
      const ids = sent.map((m) => m.messageId);
      await waitFor(() => handled.length >= 3 && observed.length >= 3, 'the target and the observer to get all three');
      await quietPeriod(harness);
      expect(handled).toEqual(ids);
      expect(observed).toEqual(ids);
      await bus.unsubscribe(observer);
    });

    it('unsubscribing a private group drops what it had queued and does not retry its running attempt that fails', async () => {
      const retry = { initialDelayMs: 20, maxDelayMs: 20, multiplier: 1, jitter: 0 };
      const bus = await buses.make({ retry });
      const blocker = gate();
      const runs: string[] = [];
      const id = await bus.subscribe('private.drop', async (e) => {
        runs.push(e.messageId);
        await blocker.promise;
        throw new Error('fails after its group is gone');
      }, { concurrency: 1 });
      const first = message({ sessionId: 'p', eventType: 'private.drop', maxRetries: 3 });
      await bus.publish(first);
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: i === 0 ? 'p' : `q${i}`, eventType: 'private.drop', maxRetries: 3 }));
      await waitFor(() => runs.length === 1, 'the first attempt to run');
      // Which one runs first is not promised (order holds within a session only: a partitioned
      // backend may start a later session's message first); whichever it is must be the only run.
      const running = runs[0]!;
      await bus.unsubscribe(id);
      blocker.release();
      // Past several retry delays: no retry of the failed attempt, nothing of what was queued.
      await quietPeriod(harness, retry.initialDelayMs * 10);
      expect(runs).toEqual([running]);
      expect((await bus.healthCheck()).groups).toEqual([]);
    });

    it.skipIf(!harness.boundedQueueOptions)('messages waiting for a target are bounded: past the bound a publish fails with QueueFullError', async () => {
      const limit = 5;
      const bus = await buses.make({ publishTimeoutMs: 200, ...harness.boundedQueueOptions!(limit) });
      const target = randomName('absent');
      const send = () => bus.publish(message({ sessionId: 'w', eventType: 'bound.task', pattern: 'point_to_point', componentTarget: target }));
      for (let i = 0; i < limit; i++) await send();
      const error = await send().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(QueueFullError);
      expect(error).toBeInstanceOf(BusError);
      expect((error as QueueFullError).code).toBe('QUEUE_FULL');
      const got: string[] = [];
      await bus.subscribe('*', (e) => void got.push(e.messageId), { componentId: target, targetedOnly: true });
      await waitFor(() => got.length === limit, 'the messages that waited');
    });

    it('DeliveryContext names the group and the subscription that ran the attempt', async () => {
      const bus = await buses.make();
      const group = randomName('named');
      const component = randomName('comp');
      const contexts = new Map<string, { group: string; subscriptionId: string }>();
      const keep = (who: string) => (_e: MessageEnvelope, ctx: DeliveryContext) => void contexts.set(who, { group: ctx.group, subscriptionId: ctx.subscriptionId });
      const explicitId = await bus.subscribe('ctx.x', keep('explicit'), { group });
      const componentId = await bus.subscribe('ctx.x', keep('component'), { componentId: component });
      const privateId = await bus.subscribe('ctx.x', keep('private'));
      await bus.publish(message({ sessionId: 's', eventType: 'ctx.x' }));
      await waitFor(() => contexts.size === 3, 'all three subscriptions');
      const groups = (await bus.healthCheck()).groups;
      expect(contexts.get('explicit')).toEqual({ group, subscriptionId: explicitId });
      expect(contexts.get('component')).toEqual({ group: groups.find((g) => g.componentId === component)?.group, subscriptionId: componentId });
      expect(contexts.get('private')?.subscriptionId).toBe(privateId);
      const privateGroup = contexts.get('private')?.group;
      expect(groups.map((g) => g.group)).toContain(privateGroup);
      expect(new Set([group, groups.find((g) => g.componentId === component)?.group, privateGroup]).size).toBe(3);
    });
  });
}
