/**
 * Delivery and routing: everything published arrives intact; event types, sessions and prefixes
 * stay apart; `*` sees new types; point-to-point reaches one replica of one group; a target that
 * subscribes late still gets what waited for it.
 */
import { describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { Ledger, message, quietAfterSentinel, quietPeriod, randomName, sleep, useBuses, waitFor } from '../support.js';

export function deliveryAndRoutingSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('delivery', () => {
    it('delivers every message of many concurrent publishers with payload and metadata intact', async () => {
      const bus = await buses.make();
      const ledger = new Ledger();
      const type = 'delivery.many';
      await bus.subscribe(type, (e) => ledger.record(e), { componentId: randomName('c') });
      const publishers = Array.from({ length: 8 }, (_, p) =>
        (async () => {
          for (let i = 0; i < 50; i++) {
            await ledger.publish(
              bus,
              message({
                sessionId: `s-${p}`,
                eventType: type,
                payload: { publisher: p, i, text: `héllo ${i} ✓`, nested: { list: [1, 'two', null, true], empty: {} } },
                metadata: { trace: `t-${p}-${i}`, tags: ['a', 'b'] },
              }),
            );
          }
        })(),
      );
      await Promise.all(publishers);
      await waitFor(() => ledger.distinctDelivered === 400, '400 deliveries');
      const result = ledger.check();
      expect(result.missing).toEqual([]);
      expect(result.unexpected).toEqual([]);
      expect(result.outOfOrder).toEqual([]);
      expect(result.duplicates).toBe(0);
      const byId = new Map(ledger.delivered.map((e) => [e.messageId, e]));
      for (const sent of ledger.published) {
        const got = byId.get(sent.messageId) as MessageEnvelope;
        expect(got.payload).toEqual(sent.payload);
        expect(got.metadata).toEqual(sent.metadata);
        expect(got.sessionId).toBe(sent.sessionId);
        expect(got.componentSource).toBe(sent.componentSource);
        expect(got.timestamp).toBeCloseTo(sent.timestamp, 3);
      }
    });

    it('resolves publish with the message id, and a handler sees retryCount 0 on its first attempt', async () => {
      const bus = await buses.make();
      const seen: MessageEnvelope[] = [];
      await bus.subscribe('delivery.ack', (e) => void seen.push(e));
      const sent = message({ sessionId: 's1', eventType: 'delivery.ack' });
      await expect(bus.publish(sent)).resolves.toEqual({ messageId: sent.messageId, duplicate: false });
      await waitFor(() => seen.length === 1, 'one delivery');
      expect(seen[0]?.retryCount).toBe(0);
    });
  });

  describe('routing', () => {
    it('keeps event types apart', async () => {
      const bus = await buses.make();
      const a: string[] = [];
      const b: string[] = [];
      await bus.subscribe('route.a', (e) => void a.push(e.messageId));
      await bus.subscribe('route.b', (e) => void b.push(e.messageId));
      const ma = message({ sessionId: 's', eventType: 'route.a' });
      const mb = message({ sessionId: 's', eventType: 'route.b' });
      await bus.publish(ma);
      await bus.publish(mb);
      // Sentinels of the same session, published last: a misrouted message would be ahead of them.
      const sa = message({ sessionId: 's', eventType: 'route.a' });
      const sb = message({ sessionId: 's', eventType: 'route.b' });
      await quietAfterSentinel(
        harness,
        async () => {
          await bus.publish(sa);
          await bus.publish(sb);
        },
        () => a.includes(sa.messageId) && b.includes(sb.messageId),
      );
      expect(a).toEqual([ma.messageId, sa.messageId]);
      expect(b).toEqual([mb.messageId, sb.messageId]);
    });

    it('a subscription bound to a session sees only that session', async () => {
      const bus = await buses.make();
      const bound: string[] = [];
      const all: string[] = [];
      await bus.subscribe('route.session', (e) => void bound.push(e.sessionId), { sessionId: 'alpha' });
      await bus.subscribe('route.session', (e) => void all.push(e.sessionId));
      for (const sessionId of ['alpha', 'beta', 'alpha', 'gamma']) {
        await bus.publish(message({ sessionId, eventType: 'route.session' }));
      }
      await waitFor(() => all.length === 4, 'four deliveries to the unbound subscription');
      await quietAfterSentinel(
        harness,
        () => bus.publish(message({ sessionId: 'alpha', eventType: 'route.session' })),
        () => bound.length === 3,
        'the sentinel on the bound subscription',
      );
      expect(bound).toEqual(['alpha', 'alpha', 'alpha']);
    });

    it('two buses with different prefixes never see each other', async () => {
      const one = await buses.make();
      const two = await buses.make();
      const onOne: string[] = [];
      const onTwo: string[] = [];
      await one.subscribe('route.prefix', (e) => void onOne.push(e.messageId), { componentId: 'same' });
      await two.subscribe('route.prefix', (e) => void onTwo.push(e.messageId), { componentId: 'same' });
      const m1 = message({ sessionId: 's', eventType: 'route.prefix' });
      await one.publish(m1);
      await waitFor(() => onOne.length === 1, 'delivery on the first bus');
      const sentinel = message({ sessionId: 's', eventType: 'route.prefix' });
      await quietAfterSentinel(harness, () => two.publish(sentinel), () => onTwo.length > 0, 'the sentinel on the second bus');
      expect(onTwo).toEqual([sentinel.messageId]);
      expect(onOne).toEqual([m1.messageId]);
    });

    it("'*' sees event types first published after it subscribed", async () => {
      const bus = await buses.make();
      const types: string[] = [];
      await bus.subscribe('*', (e) => void types.push(e.eventType), { componentId: randomName('watcher') });
      const fresh = [randomName('new'), randomName('newer'), `${randomName('x')}.deep.type`];
      for (const eventType of fresh) await bus.publish(message({ sessionId: 's', eventType }));
      await waitFor(() => types.length === 3, 'three new types');
      expect(types).toEqual(fresh);
    });

    it('point-to-point reaches exactly one of three replicas of the target and no other group', async () => {
      const bus = await buses.make();
      const perReplica = [0, 0, 0];
      const handled: string[] = [];
      for (let r = 0; r < 3; r++) {
        await bus.subscribe(
          '*',
          async (e) => {
            perReplica[r]!++;
            handled.push(e.messageId);
            await sleep(1);
          },
          { componentId: 'agent', targetedOnly: true },
        );
      }
      const others: string[] = [];
      await bus.subscribe('p2p.task', (e) => void others.push(e.messageId), { componentId: 'other' });
      await bus.subscribe('p2p.task', (e) => void others.push(e.messageId));
      await bus.subscribe('*', (e) => void others.push(e.messageId), { componentId: 'hooks' });
      const sent: string[] = [];
      for (let i = 0; i < 60; i++) {
        const m = message({ sessionId: `s-${i % 6}`, eventType: 'p2p.task', pattern: 'point_to_point', componentTarget: 'agent' });
        sent.push(m.messageId);
        await bus.publish(m);
      }
      await waitFor(() => handled.length >= 60, '60 targeted deliveries');
      const sentinel = message({ sessionId: 's-0', eventType: 'p2p.task', pattern: 'point_to_point', componentTarget: 'agent' });
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => handled.includes(sentinel.messageId));
      sent.push(sentinel.messageId);
      expect(handled.length).toBe(61);
      expect(new Set(handled)).toEqual(new Set(sent));
      expect(others).toEqual([]);
      expect(perReplica.reduce((a, b) => a + b, 0)).toBe(61);
      // Work sharing: every replica took part, not only the sum adding up.
      for (const [r, n] of perReplica.entries()) expect(n, `replica ${r} got work`).toBeGreaterThan(0);
    });

    it('targetedOnly, untargeted point_to_point, stream and session-bound targets route as the contract says', async () => {
      const bus = await buses.make();
      const target = randomName('tgt');
      const seen = new Map<string, string[]>();
      const record = (who: string) => (e: MessageEnvelope) => {
        seen.set(who, [...(seen.get(who) ?? []), (e.payload as { tag: string }).tag]);
      };
      await bus.subscribe('*', record('targetedOnly'), { componentId: target, targetedOnly: true });
      await bus.subscribe('mix.task', record('targetTask'), { componentId: target });
      await bus.subscribe('mix.task', record('targetSession'), { componentId: target, sessionId: 'alpha' });
      await bus.subscribe('mix.task', record('hook'));
      const send = (tag: string, init: Record<string, unknown>) =>
        bus.publish(message({ sessionId: 'beta', eventType: 'mix.task', payload: { tag }, ...init }));
      await send('broadcast', { pattern: 'pub_sub' });
      await send('untargeted', { pattern: 'point_to_point' });
      await send('p2p', { pattern: 'point_to_point', componentTarget: target });
      await send('stream', { pattern: 'stream', componentTarget: target });
      await send('p2p-alpha', { pattern: 'point_to_point', componentTarget: target, sessionId: 'alpha' });
      await send('untargeted-stream', { pattern: 'stream' });
      await send('elsewhere', { pattern: 'point_to_point', componentTarget: randomName('nobody') });
      await send('sentinel', { pattern: 'point_to_point', componentTarget: target });
      // Every group of the target whose pattern and session match gets a targeted message (one
      // replica of each); groups of other components never do.
      // Untargeted point_to_point and stream route like pub_sub. Lists are in publish order: every
      // message but p2p-alpha is of session beta, so each group must get them in this order.
      const expected = {
        targetedOnly: ['p2p', 'stream', 'p2p-alpha', 'sentinel'],
        targetTask: ['broadcast', 'untargeted', 'p2p', 'stream', 'p2p-alpha', 'untargeted-stream', 'sentinel'],
        targetSession: ['p2p-alpha'],
        hook: ['broadcast', 'untargeted', 'untargeted-stream'],
      };
      await waitFor(() => Object.entries(expected).every(([who, tags]) => (seen.get(who) ?? []).length >= tags.length), 'every delivery');
      await quietPeriod(harness);
      const bySession = (tags: readonly string[], session: string) => tags.filter((t) => (t === 'p2p-alpha') === (session === 'alpha'));
      for (const [who, tags] of Object.entries(expected)) {
        const got = seen.get(who) ?? [];
        expect(got.length, who).toBe(tags.length);
        for (const session of ['alpha', 'beta']) expect(bySession(got, session), `${who}/${session}`).toEqual(bySession(tags, session));
      }
    });

    it('a message to a target that subscribes later is delivered when it does', async () => {
      const bus = await buses.make();
      const target = randomName('late');
      const sent = [];
      for (let i = 0; i < 5; i++) {
        const m = message({ sessionId: 'late-session', eventType: 'late.task', pattern: 'point_to_point', componentTarget: target });
        sent.push(m.messageId);
        await bus.publish(m);
      }
      const got: string[] = [];
      await bus.subscribe('*', (e) => void got.push(e.messageId), { componentId: target, targetedOnly: true });
      await waitFor(() => got.length === 5, 'five waiting messages');
      expect(got).toEqual(sent);
    });

    it('no handler runs before its subscribe call has resolved, even with messages waiting', async () => {
      const bus = await buses.make();
      const target = randomName('eager');
      for (let i = 0; i < 3; i++) {
        await bus.publish(message({ sessionId: `s${i}`, eventType: 'eager.task', pattern: 'point_to_point', componentTarget: target }));
      }
      let subscriptionId: string | undefined;
      const early: string[] = [];
      const got: string[] = [];
      // A handler may use the id subscribe returned (a one-shot listener unsubscribing itself).
      const subscribeTarget = async (): Promise<string> => {
        subscriptionId = undefined;
        subscriptionId = await bus.subscribe(
          '*',
          (e) => {
            if (subscriptionId === undefined) early.push(e.messageId);
            got.push(e.messageId);
          },
          { componentId: target, targetedOnly: true },
        );
        return subscriptionId;
      };
      const first = await subscribeTarget();
      await waitFor(() => got.length === 3, 'the three waiting messages');
      expect(early).toEqual([]);

      // The same for a durable group's backlog when its replica comes back.
      await bus.unsubscribe(first);
      for (let i = 0; i < 3; i++) await bus.publish(message({ sessionId: `b${i}`, eventType: 'eager.task', pattern: 'point_to_point', componentTarget: target }));
      await subscribeTarget();
      await waitFor(() => got.length === 6, 'the backlog of the durable group');
      expect(early).toEqual([]);
    });

    it('a pub_sub group created now does not replay earlier messages', async () => {
      const bus = await buses.make();
      await bus.subscribe('replay.none', () => undefined, { componentId: 'early' });
      await bus.publish(message({ sessionId: 's', eventType: 'replay.none' }));
      const late: string[] = [];
      await bus.subscribe('replay.none', (e) => void late.push(e.messageId), { componentId: randomName('late') });
      const after = message({ sessionId: 's', eventType: 'replay.none' });
      await bus.publish(after);
      // `after` is of the same session: a replayed message would arrive ahead of it.
      await waitFor(() => late.length === 1, 'the message published after subscribing');
      await quietPeriod(harness);
      expect(late).toEqual([after.messageId]);
    });

    it('an observer sees its session\'s targeted and broadcast messages without taking any, and leaves no group', async () => {
      const bus = await buses.make();
      const watched: string[] = [];
      const observerId = await bus.subscribe('*', (e) => void watched.push(e.messageId), { observe: true, sessionId: 'watched' });
      const hooks: string[] = [];
      await bus.subscribe('obs.event', (e) => void hooks.push(e.messageId), { componentId: randomName('hooks') });
      const worker = randomName('worker');
      const toWorker = [0, 1].map(() =>
        message({ sessionId: 'watched', eventType: 'obs.task', pattern: 'point_to_point', componentTarget: worker }),
      );
      const broadcast = message({ sessionId: 'watched', eventType: 'obs.event' });
      const elsewhere = message({ sessionId: 'other', eventType: 'obs.event' });
      for (const m of [...toWorker, broadcast, elsewhere]) await bus.publish(m);
      await waitFor(() => watched.length === 3, 'the observer to see three messages');
      expect(watched).toEqual([...toWorker, broadcast].map((m) => m.messageId));
      await waitFor(() => hooks.length === 2, 'the hooks group to get both broadcasts');
      const got: string[] = [];
      await bus.subscribe('*', (e) => void got.push(e.messageId), { componentId: worker, targetedOnly: true });
      await waitFor(() => got.length === 2, 'the late target to get what waited for it');
      expect(got).toEqual(toWorker.map((m) => m.messageId));
      await bus.unsubscribe(observerId);
      const groups = (await bus.healthCheck()).groups;
      expect(groups.filter((g) => g.componentId === null)).toEqual([]);
    });

    it('exactly_once: a duplicate publish within the window is reported and delivered once', async () => {
      const bus = await buses.make();
      const got: string[] = [];
      await bus.subscribe('once.only', (e) => void got.push(e.messageId), { componentId: randomName('c') });
      const m = message({ sessionId: 's', eventType: 'once.only', deliveryMode: 'exactly_once' });
      await expect(bus.publish(m)).resolves.toEqual({ messageId: m.messageId, duplicate: false });
      await expect(bus.publish(m)).resolves.toEqual({ messageId: m.messageId, duplicate: true });
      const sentinel = message({ sessionId: 's', eventType: 'once.only', deliveryMode: 'exactly_once' });
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => got.includes(sentinel.messageId));
      expect(got).toEqual([m.messageId, sentinel.messageId]);
    });
  });
}
