/**
 * Cost that grows with the work (issue 11), pinned with counts, not time: the groups a publish and
 * a `deleteSessionQueue` look at (route-index.ts `visits`) are the same with 10 and with 10,000
 * sessions, each with its own session-bound group, beside as many shared groups on other events.
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type EnvelopeInit, type MessageEnvelope } from '@woodwork/bus-core';
import type { MemoryMessageBus } from '../src/index.js';
import type { MemoryGroup } from '../src/memory-group.js';
import type { RouteIndex } from '../src/route-index.js';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach({ closeTimeoutMs: 20 });
const msg = (init: Partial<EnvelopeInit> & { sessionId: string }) =>
  createEnvelope({ eventType: 'sc.work', componentSource: 'test', pattern: 'pub_sub', ...init });
const routesOf = (bus: MemoryMessageBus) => (bus as unknown as { routes: RouteIndex<MemoryGroup> }).routes;

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2_000 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

interface Visits {
  broadcast: number;
  targeted: number;
  deleteSession: number;
  delivered: string[];
  leftSessions: number;
}

async function measure(sessions: number): Promise<Visits> {
  const bus = makeBus({ maxQueueSize: 2 * sessions + 10 });
  const routes = routesOf(bus);
  const delivered: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let workerRunning = 0;
  // A shared worker holding one unfinished delivery of every session, and a shared observer.
  await bus.subscribe('sc.work', async () => {
    workerRunning++;
    await gate;
  }, { componentId: 'worker', concurrency: 4 });
  await bus.subscribe('sc.work', () => {}, { observe: true });
  for (let s = 0; s < sessions; s++) {
    // Each session's own component (bound group) and a shared group on an event of its own.
    await bus.subscribe('sc.work', (e: MessageEnvelope) => void delivered.push(`${e.sessionId}:${e.componentTarget ?? '-'}`), {
      componentId: 'agent',
      sessionId: `s${s}`,
      targetedOnly: true,
    });
    await bus.subscribe(`sc.other.${s}`, () => {}, { componentId: `other${s}` });
  }
  for (let s = 0; s < sessions; s++) await bus.publish(msg({ sessionId: `s${s}` }));
  await waitFor(() => workerRunning >= 1, 'the worker to start');

  let before = routes.visits;
  await bus.publish(msg({ sessionId: 's1' }));
  const broadcast = routes.visits - before;
  before = routes.visits;
  await bus.publish(msg({ sessionId: 's1', pattern: 'point_to_point', componentTarget: 'agent' }));
  const targeted = routes.visits - before;
  await waitFor(() => delivered.length === 1, 'the targeted delivery');
  before = routes.visits;
  await bus.deleteSessionQueue('s2');
  const deleteSession = routes.visits - before;
  for (let s = 0; s < sessions; s++) await bus.deleteSessionQueue(`s${s}`);
  const leftSessions = routes.sessions;
  release();
  return { broadcast, targeted, deleteSession, delivered, leftSessions };
}

describe('routing and session deletion at scale', () => {
  it('visit the same groups at 10 and at 10,000 sessions and groups', async () => {
    const small = await measure(10);
    const large = await measure(10_000);
    // The shared cell (worker, observer: a small cell, visited whole) and s1's own cell (its agent
    // group, which takes targeted messages only); never the other sessions' groups.
    expect(small.broadcast).toBe(3);
    expect(small.targeted).toBe(3);
    // s2's own group and the worker holding s2's delivery.
    expect(small.deleteSession).toBe(2);
    expect(large).toMatchObject({ broadcast: small.broadcast, targeted: small.targeted, deleteSession: small.deleteSession });
    expect(small.delivered).toEqual(['s1:agent']);
    expect(large.delivered).toEqual(['s1:agent']);
    // Every session deleted: only the bound groups (their replicas still attached) keep an entry; no holdings.
    expect(small.leftSessions).toBe(10);
    expect(large.leftSessions).toBe(10_000);
  }, 120_000);

  it('a targeted publish visits the groups of its target, among 10 or 1,000 components on the event', async () => {
    const visitsAmong = async (components: number) => {
      const bus = makeBus();
      const routes = routesOf(bus);
      const seen: string[] = [];
      for (let c = 0; c < components; c++) await bus.subscribe('sc.fan', (e) => void seen.push(`c${c}:${e.messageId}`), { componentId: `c${c}` });
      let before = routes.visits;
      const targeted = await bus.publish(msg({ sessionId: 'a', eventType: 'sc.fan', pattern: 'point_to_point', componentTarget: 'c7' }));
      const targetedVisits = routes.visits - before;
      before = routes.visits;
      await bus.publish(msg({ sessionId: 'a', eventType: 'sc.fan' }));
      const broadcastVisits = routes.visits - before;
      await waitFor(() => seen.length === components + 1, 'every delivery');
      expect(seen).toContain(`c7:${targeted.messageId}`);
      return { targetedVisits, broadcastVisits };
    };
    const ten = await visitsAmong(10);
    const thousand = await visitsAmong(1000);
    expect(ten.targetedVisits).toBe(1);
    expect(thousand.targetedVisits).toBe(1);
    // A broadcast reaches every group: it visits exactly those.
    expect(ten.broadcastVisits).toBe(10);
    expect(thousand.broadcastVisits).toBe(1000);
  });

  it('fan-out to 10 or 1,000 groups leaves no backlog: every group has handled a publish by the time it resolves', async () => {
    // What made 1,000 groups cost 31x 100 groups: each attempt took several turns while a publisher
    // took one, so deliveries piled up (heap, GC). A synchronous handler now finishes in the pump that
    // starts it; pinned with counts: nothing is left queued after each publish, at 10 and at 1,000.
    const backlogAfterEachPublish = async (groups: number) => {
      const bus = makeBus();
      let handled = 0;
      for (let g = 0; g < groups; g++) await bus.subscribe('sc.fanout', () => void handled++, { componentId: `f${g}` });
      const left: number[] = [];
      for (let i = 1; i <= 20; i++) {
        await bus.publish(msg({ sessionId: `s${i % 3}`, eventType: 'sc.fanout' }));
        left.push(i * groups - handled);
      }
      return left;
    };
    expect(await backlogAfterEachPublish(10)).toEqual(new Array(20).fill(0));
    expect(await backlogAfterEachPublish(1000)).toEqual(new Array(20).fill(0));
  });

  it('drops a session from the index once its deliveries are handled and its group is gone', async () => {
    const bus = makeBus();
    const routes = routesOf(bus);
    let handled = 0;
    await bus.subscribe('sc.work', () => void handled++, { componentId: 'worker' });
    const id = await bus.subscribe('sc.work', () => void handled++, { componentId: 'agent', sessionId: 'a', durable: false });
    await bus.publish(msg({ sessionId: 'a' }));
    await bus.publish(msg({ sessionId: 'b' }));
    await waitFor(() => handled === 3, 'three deliveries');
    await waitFor(() => routes.sessions === 1, 'only the bound session left');
    await bus.unsubscribe(id);
    expect(routes.sessions).toBe(0);
  });

  it('forgets the deliveries a removed group held, and deleteSessionQueue then visits only the groups still holding some', async () => {
    const bus = makeBus();
    const routes = routesOf(bus);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let running = 0;
    const slow = async () => {
      running++;
      await gate;
    };
    // Two shared groups hold deliveries of session x (one running, two queued each); one then leaves.
    const leaving = await bus.subscribe('sc.work', slow, { componentId: 'leaving', durable: false });
    await bus.subscribe('sc.work', slow, { componentId: 'staying' });
    for (let i = 0; i < 3; i++) await bus.publish(msg({ sessionId: 'x' }));
    await waitFor(() => running === 2, 'both groups running');
    expect(routes.sessions).toBe(1);
    await bus.unsubscribe(leaving);
    const before = routes.visits;
    await bus.deleteSessionQueue('x');
    expect(routes.visits - before).toBe(1);
    expect(routes.sessions).toBe(0);
    release();
  });

  it('an idle session keeps a dormant group: no engine; it still takes messages and wakes for a replica', async () => {
    const bus = makeBus({ groupExpiryMs: 60_000 });
    const groupsOf = () => [...(bus as unknown as { groups: Map<string, MemoryGroup> }).groups.values()];
    const seen: string[] = [];
    const ids: string[] = [];
    for (let s = 0; s < 100; s++) {
      ids.push(await bus.subscribe('sc.work', (e) => void seen.push(`${e.sessionId}:${e.messageId}`), { componentId: 'agent', sessionId: `i${s}` }));
    }
    for (let s = 0; s < 100; s++) await bus.publish(msg({ sessionId: `i${s}`, deliveryMode: 'exactly_once', messageId: `once-${s}` }));
    await waitFor(() => seen.length === 100, 'every session handled');
    for (const id of ids) await bus.unsubscribe(id);
    await waitFor(() => groupsOf().every((g) => g.dormant), 'every group dormant');
    expect(groupsOf()).toHaveLength(100);
    // Asleep, it still takes its session's messages (durable), and remembers what it acknowledged.
    await bus.publish(msg({ sessionId: 'i3', messageId: 'while-away' }));
    await bus.publish(msg({ sessionId: 'i4', deliveryMode: 'exactly_once', messageId: 'once-4' }));
    const health = await bus.healthCheck();
    expect(health.groups.find((g) => g.sessionId === 'i3')).toMatchObject({ consumers: 0, lag: 1 });
    expect(health.groups.find((g) => g.sessionId === 'i5')).toMatchObject({ consumers: 0, lag: 0, pending: 0 });
    await bus.subscribe('sc.work', (e) => void seen.push(`${e.sessionId}:${e.messageId}`), { componentId: 'agent', sessionId: 'i3' });
    await bus.subscribe('sc.work', (e) => void seen.push(`${e.sessionId}:${e.messageId}`), { componentId: 'agent', sessionId: 'i4' });
    await waitFor(() => seen.includes('i3:while-away'), 'the message kept while away');
    await new Promise((r) => setTimeout(r, 20));
    expect(seen.filter((x) => x.startsWith('i4:'))).toEqual(['i4:once-4']);
    // Deleting an idle session removes its dormant group.
    await bus.deleteSessionQueue('i7');
    expect(groupsOf()).toHaveLength(99);
  });

  it("a session's own component rests between messages with its replica attached, and wakes for the next", async () => {
    const bus = makeBus({ groupExpiryMs: 60_000 });
    const groupsOf = () => [...(bus as unknown as { groups: Map<string, MemoryGroup> }).groups.values()];
    const seen: string[] = [];
    const ids: string[] = [];
    for (let s = 0; s < 50; s++) {
      ids.push(await bus.subscribe('sc.work', (e) => void seen.push(`${e.sessionId}:${e.messageId}`), { componentId: 'agent', sessionId: `r${s}` }));
    }
    // Subscribed, nothing to run: no engine yet.
    expect(groupsOf().every((g) => g.dormant)).toBe(true);
    let health = await bus.healthCheck();
    expect(health.groups.find((g) => g.sessionId === 'r0')).toMatchObject({ consumers: 1, pending: 0, lag: 0 });
    for (let round = 0; round < 2; round++) {
      for (let s = 0; s < 50; s++) await bus.publish(msg({ sessionId: `r${s}`, messageId: `m${round}-${s}` }));
      await waitFor(() => seen.length === 50 * (round + 1), `round ${round} handled`);
      // Handled: each group rests again, still subscribed.
      await waitFor(() => groupsOf().every((g) => g.dormant), 'every group resting');
    }
    expect(seen.filter((x) => x.startsWith('r7:'))).toEqual(['r7:m0-7', 'r7:m1-7']);
    health = await bus.healthCheck();
    expect(health.groups.filter((g) => g.consumers === 1)).toHaveLength(50);
    expect(health.metrics.activeSubscriptions).toBe(50);
    // Unsubscribing a resting replica: the group is left durable, with no consumer; it gets nothing.
    expect(await bus.unsubscribe(ids[3] as string)).toBe(true);
    expect(await bus.unsubscribe(ids[3] as string)).toBe(false);
    await bus.publish(msg({ sessionId: 'r3', messageId: 'after-unsubscribe' }));
    await new Promise((r) => setTimeout(r, 20));
    expect(seen).not.toContain('r3:after-unsubscribe');
    expect((await bus.healthCheck()).groups.find((g) => g.sessionId === 'r3')).toMatchObject({ consumers: 0, lag: 1 });
    // A session deleted while its resting group has a replica: the group goes with that replica.
    await bus.deleteSessionQueue('r4');
    expect(groupsOf().filter((g) => g.spec.sessionId === 'r4')).toHaveLength(1);
    await bus.unsubscribe(ids[4] as string);
    expect(groupsOf().filter((g) => g.spec.sessionId === 'r4')).toHaveLength(0);
  });

  it('a group with two replicas keeps its engine between messages: attempts still take turns', async () => {
    const bus = makeBus();
    const groupsOf = () => [...(bus as unknown as { groups: Map<string, MemoryGroup> }).groups.values()];
    for (const sessionId of [undefined, 'two']) {
      const byReplica: string[] = [];
      const options = { componentId: `turns-${sessionId ?? 'shared'}`, ...(sessionId ? { sessionId } : {}) };
      await bus.subscribe('sc.turns', () => void byReplica.push('a'), options);
      await bus.subscribe('sc.turns', () => void byReplica.push('b'), options);
      for (let i = 0; i < 4; i++) {
        await bus.publish(msg({ sessionId: sessionId ?? 'any', eventType: 'sc.turns' }));
        await waitFor(() => byReplica.length === i + 1, `message ${i}`);
        await new Promise((r) => setTimeout(r, 2));
      }
      expect(byReplica).toEqual(['a', 'b', 'a', 'b']);
      expect(groupsOf().find((g) => g.spec.componentId === options.componentId)?.dormant).toBe(false);
    }
  });

  it('the periodic sweep looks only at the groups remembering exactly_once ids, and they still forget them', async () => {
    const bus = makeBus({ dedupeWindowMs: 40, groupExpiryMs: 20 });
    const remembering = () => (bus as unknown as { rememberingIds: Set<MemoryGroup> }).rememberingIds;
    const seen: string[] = [];
    for (let g = 0; g < 1000; g++) await bus.subscribe('sc.sweep', () => undefined, { componentId: `plain${g}` });
    await bus.subscribe('sc.once', (e) => void seen.push(e.messageId), { componentId: 'once' });
    await bus.publish(msg({ sessionId: 'a', eventType: 'sc.once', deliveryMode: 'exactly_once', messageId: 'once-1' }));
    await waitFor(() => seen.length === 1, 'the exactly_once delivery');
    expect([...remembering()].map((g) => g.spec.componentId)).toEqual(['once']);
    // Past the window the sweep (every 20 ms here) forgets the id and stops looking at the group.
    await waitFor(() => remembering().size === 0, 'the group forgetting its ids');
    await bus.publish(msg({ sessionId: 'a', eventType: 'sc.once', deliveryMode: 'exactly_once', messageId: 'once-1' }));
    await waitFor(() => seen.length === 2, 'the same id delivered again after the window');
  });

  it('a dormant group still expires after groupExpiryMs without a replica', async () => {
    const bus = makeBus({ groupExpiryMs: 50 });
    const groupsOf = () => [...(bus as unknown as { groups: Map<string, MemoryGroup> }).groups.values()];
    let handled = 0;
    const id = await bus.subscribe('sc.work', () => void handled++, { componentId: 'agent', sessionId: 'x' });
    await bus.publish(msg({ sessionId: 'x' }));
    await waitFor(() => handled === 1, 'the delivery');
    await bus.unsubscribe(id);
    await waitFor(() => groupsOf().every((g) => g.dormant), 'the group dormant');
    await waitFor(() => groupsOf().length === 0, 'the group expired');
    expect((await bus.healthCheck()).expiredGroups).toEqual([expect.stringContaining('@x')]);
  });
});
