/**
 * The routed bus over two memory members: routing (exact, prefix, longest prefix, default), one
 * subscription id across members, a session that spans members running one at a time, concurrency
 * counted across members, retries staying with the member that carried the message, and the
 * typed errors of bad routes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError, createEnvelope, type DeliveryContext, type JsonObject, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import { DuplicateRouteError, RoutedMessageBus, UnknownMemberError, type RoutedBusOptions } from '../src/index.js';
import { eventually, memoryBus, settle } from './support/memory.js';

const open: MessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((bus) => bus.close()));
});

function routed(options: Partial<RoutedBusOptions> = {}): { bus: RoutedMessageBus; a: MessageBus; b: MessageBus } {
  const a = memoryBus();
  const b = memoryBus();
  const bus = new RoutedMessageBus({
    members: { a, b },
    routes: [
      { eventType: 'tool.*', member: 'b' },
      { eventType: 'tool.local.*', member: 'a' },
      { eventType: 'agent.output', member: 'b' },
    ],
    defaultMember: 'a',
    ...options,
  });
  open.push(bus);
  return { bus, a, b };
}

function msg(eventType: string, sessionId = 's', payload: JsonObject = {}): MessageEnvelope {
  return createEnvelope({ sessionId, eventType, componentSource: 'test', payload });
}

describe('routing', () => {
  it('sends each publish to the member its event type routes to: exact, longest prefix, else the default', async () => {
    const { bus, a, b } = routed();
    const seen: Record<string, string[]> = { a: [], b: [] };
    await a.subscribe('*', (e) => void seen['a']!.push(e.eventType));
    await b.subscribe('*', (e) => void seen['b']!.push(e.eventType));
    for (const type of ['agent.input', 'agent.output', 'tool.call', 'tool.call.done', 'tool.local.run', 'tool', 'toolbox.x']) {
      await bus.publish(msg(type));
    }
    await eventually(() => expect(seen['a']!.length + seen['b']!.length).toBe(7));
    expect(seen['a']!.sort()).toEqual(['agent.input', 'tool', 'tool.local.run', 'toolbox.x']);
    expect(seen['b']!.sort()).toEqual(['agent.output', 'tool.call', 'tool.call.done']);
    expect(bus.memberFor('tool.local.run')).toBe('a');
    expect(bus.describeRoutes()).toEqual({
      routes: [
        { eventType: 'agent.output', member: 'b' },
        { eventType: 'tool.local.*', member: 'a' },
        { eventType: 'tool.*', member: 'b' },
      ],
      defaultMember: 'a',
    });
  });

  it('subscribes an exact type on its member only, and "*" on every member, with one id', async () => {
    const { bus, a, b } = routed();
    const contexts: DeliveryContext[] = [];
    const exact = await bus.subscribe('tool.call', (_e, ctx) => void contexts.push(ctx), { group: 'exact' });
    const all = await bus.subscribe('*', (_e, ctx) => void contexts.push(ctx), { group: 'all' });
    expect((await a.healthCheck()).groups.map((g) => g.group).sort()).toEqual(['all']);
    expect((await b.healthCheck()).groups.map((g) => g.group).sort()).toEqual(['all', 'exact']);
    await bus.publish(msg('tool.call'));
    await bus.publish(msg('agent.input'));
    await eventually(() => expect(contexts).toHaveLength(3));
    expect(contexts.filter((c) => c.group === 'exact').map((c) => c.subscriptionId)).toEqual([exact]);
    expect(contexts.filter((c) => c.group === 'all').map((c) => c.subscriptionId)).toEqual([all, all]);
    const health = await bus.healthCheck();
    expect(health.groups.find((g) => g.group === 'all')).toMatchObject({ consumers: 1, members: ['a', 'b'] });
    expect(health.metrics.activeSubscriptions).toBe(2);

    expect(await bus.unsubscribe(all)).toBe(true);
    expect(await bus.unsubscribe(all)).toBe(false);
    // Durable groups outlive their subscriptions; no member has a consumer of "all" left.
    const attached = async (bus: MessageBus) => (await bus.healthCheck()).groups.filter((g) => g.consumers > 0).map((g) => g.group);
    expect(await attached(a)).toEqual([]);
    expect(await attached(b)).toEqual(['exact']);
  });

  it('no handler runs before the caller of subscribe has the id, on one member or spanning', async () => {
    for (const pattern of ['agent.step', '*']) {
      const { bus } = routed();
      let id: string | undefined;
      const sawId: boolean[] = [];
      const subscribing = bus.subscribe(pattern, (_e, ctx) => void sawId.push(id !== undefined && ctx.subscriptionId === id));
      // Published while subscribe is still running: the member has the group and delivers at once.
      void bus.publish(msg('agent.step', 's1'));
      void bus.publish(msg('agent.step', 's2'));
      id = await subscribing;
      await eventually(() => expect(sawId).toHaveLength(2));
      expect(sawId).toEqual([true, true]);
    }
  });

  it('a subscription keeps up with publishers that never yield to the event loop, as its member does: no backlog', async () => {
    // Loops of awaited in-memory publishes run in microtasks only. The memory bus runs a sync
    // handler as each message comes (0 messages ahead, measured); so must a routed subscription
    // over it. Issue 14's cost was a backlog: a subscription that opened a turn of the event loop
    // later let the whole run queue up in the member first, and a spanning gate that handed the
    // member a promise per message held its slots over microtasks (1,690 of 2,000 ahead).
    for (const pattern of ['agent.step', '*']) {
      const { bus } = routed();
      let handled = 0;
      let published = 0;
      let mostAhead = 0;
      let next = 0;
      await bus.subscribe(pattern, () => void handled++);
      const publisher = async (): Promise<void> => {
        while (next < 2000) {
          const i = next++;
          await bus.publish(msg('agent.step', `s${i % 10}`, { i }));
          mostAhead = Math.max(mostAhead, ++published - handled);
        }
      };
      await Promise.all(Array.from({ length: 16 }, publisher));
      expect(mostAhead, pattern).toBeLessThan(100);
      await eventually(() => expect(handled).toBe(2000));
    }
  });

  it('a spanning subscription runs one session at a time across members, and counts concurrency across them', async () => {
    const { bus } = routed();
    const running = new Map<string, number>();
    let inFlight = 0;
    let maxInFlight = 0;
    let overlaps = 0;
    const done: string[] = [];
    await bus.subscribe(
      '*',
      async (e) => {
        const s = e.sessionId;
        if ((running.get(s) ?? 0) > 0) overlaps++;
        running.set(s, (running.get(s) ?? 0) + 1);
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        await settle(3);
        inFlight--;
        running.set(s, running.get(s)! - 1);
        done.push(`${s}:${(e.payload as { i: number }).i}`);
      },
      { concurrency: 3 },
    );
    // Each session alternates between the members (agent.* on a, tool.* on b).
    for (let i = 0; i < 10; i++) {
      for (let s = 0; s < 6; s++) await bus.publish(msg(i % 2 === 0 ? 'agent.step' : 'tool.step', `s${s}`, { i }));
    }
    await eventually(() => expect(done).toHaveLength(60));
    expect(overlaps).toBe(0);
    expect(maxInFlight).toBe(3);
  });

  it('a spanning subscription keeps each member\'s order within a session, and its handler timeout counts from the handler\'s start', async () => {
    const { bus } = routed();
    const order: number[] = [];
    await bus.subscribe(
      '*',
      async (e) => {
        if (e.eventType === 'tool.slow') await settle(150);
        order.push((e.payload as { i: number }).i);
      },
      { concurrency: 1, handlerTimeoutMs: 2_000 },
    );
    for (let i = 0; i < 5; i++) await bus.publish(msg('tool.slow', 's', { i }));
    for (let i = 5; i < 10; i++) await bus.publish(msg('agent.fast', 's', { i }));
    await eventually(() => expect(order).toHaveLength(10));
    // Five slow handlers (750 ms) ran back to back; none timed out while the others waited in the gate.
    expect(order.filter((i) => i < 5)).toEqual([0, 1, 2, 3, 4]);
    expect(order.filter((i) => i >= 5)).toEqual([5, 6, 7, 8, 9]);
  });

  it('a failure on one member is retried and dead-lettered by that member, named in the record', async () => {
    const { bus } = routed();
    const attempts: number[] = [];
    await bus.subscribe('*', (e, ctx) => {
      if (e.eventType !== 'tool.broken') return;
      attempts.push(ctx.attempt);
      throw new Error('always');
    });
    await bus.publish({ ...msg('tool.broken'), maxRetries: 2 });
    await eventually(async () => expect(await bus.getDeadLetterMessages()).toHaveLength(1));
    expect(attempts).toEqual([1, 2, 3]);
    const [record] = await bus.getDeadLetterMessages();
    expect(record!.member).toBe('b');
    expect(record!.id).toMatch(/^b\//);
  });

  it('a handler failing with a timeout on the gate is retried by its member', async () => {
    const { bus } = routed();
    const attempts: number[] = [];
    await bus.subscribe(
      '*',
      async (_e, ctx) => {
        attempts.push(ctx.attempt);
        if (ctx.attempt === 1) await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      },
      { handlerTimeoutMs: 100 },
    );
    await bus.publish(msg('tool.slow'));
    await eventually(() => expect(attempts).toEqual([1, 2]));
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });

  it('unsubscribe lets what the gate already holds finish, and starts nothing new', async () => {
    const { bus } = routed();
    const handled: number[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const id = await bus.subscribe(
      '*',
      async (e) => {
        handled.push((e.payload as { i: number }).i);
        await gate;
      },
      { concurrency: 1 },
    );
    await bus.publish(msg('agent.x', 's', { i: 0 }));
    await bus.publish(msg('tool.x', 's', { i: 1 }));
    await eventually(() => expect(handled).toEqual([0]));
    await bus.unsubscribe(id);
    release();
    await eventually(() => expect(handled).toEqual([0, 1]));
    await bus.publish(msg('agent.x', 's', { i: 2 }));
    await settle(50);
    expect(handled).toEqual([0, 1]);
  });

  it('deleting a session aborts its running attempt on the gate and drops what waits', async () => {
    const { bus } = routed();
    const started: number[] = [];
    const reasons: unknown[] = [];
    await bus.subscribe(
      '*',
      async (e, ctx) => {
        started.push((e.payload as { i: number }).i);
        await new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            reasons.push(ctx.signal.reason);
            resolve();
          }),
        );
      },
      { concurrency: 4 },
    );
    await bus.publish(msg('agent.x', 'gone', { i: 0 }));
    await bus.publish(msg('tool.x', 'gone', { i: 1 }));
    await eventually(() => expect(started).toEqual([0]));
    await bus.deleteSessionQueue('gone');
    await eventually(() => expect(reasons).toHaveLength(1));
    expect((reasons[0] as Error).name).toBe('SessionDeletedError');
    await settle(50);
    expect(started).toEqual([0]);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
  });
});

describe('bad routes', () => {
  const a = () => memoryBus();
  it('a route or default naming an unknown member is an UnknownMemberError listing the members', () => {
    const make = (options: Partial<RoutedBusOptions>) => () =>
      new RoutedMessageBus({ members: { local: a(), shared: a() }, defaultMember: 'local', ...options });
    expect(make({ routes: [{ eventType: 'tool.*', member: 'remote' }] })).toThrow(UnknownMemberError);
    expect(make({ routes: [{ eventType: 'tool.*', member: 'remote' }] })).toThrow(
      'invalid config: routes[0].member names the member "remote", which is not defined under members (allowed: local, shared)',
    );
    expect(make({ defaultMember: 'nope' })).toThrow(UnknownMemberError);
  });

  it('one type or prefix routed twice is a DuplicateRouteError naming both places', () => {
    const make = (routes: RoutedBusOptions['routes']) => () => new RoutedMessageBus({ members: { x: a(), y: a() }, defaultMember: 'x', routes });
    expect(make([{ eventType: 'tool.*', member: 'x' }, { eventType: 'tool.*', member: 'y' }])).toThrow(DuplicateRouteError);
    expect(make([{ eventType: 'a.b', member: 'x' }, { eventType: 'a.b', member: 'x' }])).toThrow(/routes\[1\] routes "a\.b" again \(already routed by routes\[0\]\)/);
  });

  it('a malformed pattern, a bad member name or a non-bus member is an InvalidConfigError', () => {
    expect(() => new RoutedMessageBus({ members: { x: a() }, defaultMember: 'x', routes: [{ eventType: 'tool*', member: 'x' }] })).toThrow(
      /routes\[0\]\.eventType must be an event type \(agent\.input\) or a prefix ending in "\.\*"/,
    );
    expect(() => new RoutedMessageBus({ members: { 'a/b': a() }, defaultMember: 'a/b' })).toThrow(InvalidConfigError);
    expect(() => new RoutedMessageBus({ members: { x: {} as MessageBus }, defaultMember: 'x' })).toThrow(/members\.x must be a MessageBus/);
    expect(() => new RoutedMessageBus({ members: {}, defaultMember: 'x' })).toThrow(/members must name at least one member bus/);
    const shared = a();
    expect(() => new RoutedMessageBus({ members: { x: shared, y: shared }, defaultMember: 'x' })).toThrow(/same bus instance/);
  });
});
