/**
 * SessionLanes, the delivery engine every backend shares: order within a session, parallelism
 * across sessions up to each consumer's concurrency, the replicas attempts go to, `left`, and what a
 * session leaves behind once it has nothing left.
 */
import { describe, expect, it } from 'vitest';
import { SessionLanes, type DeliveryContext, type LaneDelivery, type MessageEnvelope } from '../src/index.js';
import { call, delivery, gate, makeLanes, nOf, settle, sleep, waitFor, type Call } from './support/lanes-harness.js';

describe('ordering and parallelism', () => {
  it('runs one session one delivery at a time, in push order', async () => {
    const running = new Map<string, number>();
    let maxPerSession = 0;
    const started: Call[] = [];
    const h = makeLanes(async (envelope, context) => {
      const now = (running.get(envelope.sessionId) ?? 0) + 1;
      running.set(envelope.sessionId, now);
      maxPerSession = Math.max(maxPerSession, now);
      started.push(call(envelope, context));
      await sleep(Math.floor(Math.random() * 3));
      running.set(envelope.sessionId, now - 1);
    }, { capacity: 8 });
    for (let i = 0; i < 30; i++) {
      h.lanes.push(delivery('s1', i));
      h.lanes.push(delivery('s2', i));
      h.lanes.push(delivery('s3', i));
    }
    expect(h.lanes.size).toBe(90);
    await waitFor(() => h.successes.length === 90, '90 successes');
    expect(maxPerSession).toBe(1);
    for (const session of ['s1', 's2', 's3']) {
      expect(started.filter((c) => c.session === session).map((c) => c.n)).toEqual([...Array(30).keys()]);
      expect(h.successes.filter((d) => d.envelope.sessionId === session).map(nOf)).toEqual([...Array(30).keys()]);
    }
    expect(h.lanes.size).toBe(0);
    expect(h.lanes.stats).toMatchObject({ queued: 0, running: 0, retrying: 0, settling: 0 });
  });

  it('a lane emptied and taken again by the next new session keeps every session whole and in order', async () => {
    // Sessions come and go one or two at a time (the lanes keep the last emptied lane for the next
    // new session); some messages fail once and retry, so lanes empty while others wait.
    const started: Call[] = [];
    const failedOnce = new Set<string>();
    const h = makeLanes(async (envelope, context) => {
      started.push(call(envelope, context));
      const key = `${envelope.sessionId}:${(envelope.payload as { n: number }).n}`;
      if ((envelope.payload as { n: number }).n % 3 === 1 && !failedOnce.has(key)) {
        failedOnce.add(key);
        throw new Error('fails once');
      }
      if ((envelope.payload as { n: number }).n % 2 === 0) await sleep(1);
    }, { capacity: 2, retryDelay: 2 });
    const expected = new Map<string, number[]>();
    for (let round = 0; round < 40; round++) {
      const sessions = round % 4 === 0 ? [`r${round}`, `r${round}b`] : [`r${round}`];
      for (const session of sessions) {
        const ns = [0, 1, 2].map((i) => round * 10 + i);
        expected.set(session, ns);
        for (const n of ns) h.lanes.push(delivery(session, n));
      }
      if (round % 3 === 0) await waitFor(() => h.lanes.size === 0, `round ${round} done`);
    }
    await waitFor(() => h.successes.length === [...expected.values()].flat().length, 'every delivery handled');
    for (const [session, ns] of expected) {
      expect(h.successes.filter((d) => d.envelope.sessionId === session).map(nOf)).toEqual(ns);
    }
    expect(h.lanes.sessions).toBe(0);
    expect(h.lanes.stats).toMatchObject({ queued: 0, running: 0, retrying: 0, settling: 0 });
  });

  it('runs different sessions in parallel, never more than capacity at once', async () => {
    const gates = new Map<string, ReturnType<typeof gate>>();
    let running = 0;
    let maxRunning = 0;
    const h = makeLanes(async (envelope) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const g = gate();
      gates.set(envelope.sessionId, g);
      await g.promise;
      running--;
    }, { capacity: 3 });
    for (const s of ['a', 'b', 'c', 'd', 'e']) h.lanes.push(delivery(s, 0));
    await waitFor(() => gates.size === 3, 'three sessions started');
    await settle();
    expect(gates.size).toBe(3);
    expect([...gates.keys()]).toEqual(['a', 'b', 'c']);
    expect(h.lanes.stats).toMatchObject({ queued: 2, running: 3, retrying: 0 });

    gates.get('b')!.open();
    await waitFor(() => gates.has('d'), 'd to start when b finished');
    await settle();
    expect(gates.has('e')).toBe(false);

    for (const s of ['a', 'c', 'd']) gates.get(s)!.open();
    await waitFor(() => gates.has('e'), 'e to start');
    gates.get('e')!.open();
    await waitFor(() => h.successes.length === 5, 'five successes');
    expect(maxRunning).toBe(3);
  });

  it('starts more when a consumer is attached', async () => {
    const started: string[] = [];
    const release = gate();
    const handler = async (envelope: MessageEnvelope): Promise<void> => {
      started.push(envelope.sessionId);
      await release.promise;
    };
    const h = makeLanes(handler, { capacity: 1 });
    for (const s of ['a', 'b', 'c']) h.lanes.push(delivery(s, 0));
    await waitFor(() => started.length === 1, 'one start');
    await settle();
    expect(started).toHaveLength(1);
    h.lanes.attach({ subscriptionId: 'sub-2', group: 'g', handler, handlerTimeoutMs: 0, concurrency: 2 });
    await waitFor(() => started.length === 3, 'three starts');
    release.open();
    await waitFor(() => h.successes.length === 3, 'three successes');
  });

  it('waits while no consumer is attached, and resumes when one is', async () => {
    const seen: string[] = [];
    const h = makeLanes(() => {
      seen.push('ran');
    });
    const consumer = h.consumers[0]!;
    h.lanes.detach(consumer.subscriptionId);
    h.lanes.push(delivery('s', 1));
    await settle();
    expect(seen).toEqual([]);
    expect(h.lanes.stats.queued).toBe(1);
    h.lanes.attach(consumer);
    await waitFor(() => h.successes.length === 1, 'the delivery to run');
    expect(seen).toEqual(['ran']);
  });

  it('hands attempts to the attached replicas in turn, with their group and subscription id', async () => {
    const contexts: Array<Pick<DeliveryContext, 'group' | 'subscriptionId'>> = [];
    const handler = (_e: MessageEnvelope, c: DeliveryContext): void => {
      contexts.push({ group: c.group, subscriptionId: c.subscriptionId });
    };
    const h = makeLanes(handler, {
      consumers: [
        { subscriptionId: 'r1', group: 'workers', handler, handlerTimeoutMs: 0, concurrency: 4 },
        { subscriptionId: 'r2', group: 'workers', handler, handlerTimeoutMs: 0, concurrency: 4 },
      ],
    });
    for (let i = 0; i < 4; i++) h.lanes.push(delivery(`s${i}`, i));
    await waitFor(() => h.successes.length === 4, 'four successes');
    expect(contexts.map((c) => c.subscriptionId).sort()).toEqual(['r1', 'r1', 'r2', 'r2']);
    expect(new Set(contexts.map((c) => c.group))).toEqual(new Set(['workers']));
  });
});

describe('left', () => {
  it('is called once per delivery that left the lanes, after its room was freed', async () => {
    let fail = true;
    const h = makeLanes(
      (envelope, { signal }) => {
        if (envelope.sessionId === 'doomed') return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        if (envelope.sessionId === 'bad') throw new Error('always');
        if (fail) {
          fail = false;
          throw new Error('once');
        }
        return undefined;
      },
      { capacity: 4 },
    );
    h.lanes.push(delivery('ok', 1, { maxRetries: 1 }));
    h.lanes.push(delivery('bad', 1, { maxRetries: 0 }));
    h.lanes.push(delivery('doomed', 1));
    await waitFor(() => h.successes.length === 1 && h.giveUps.length === 1, 'a success after a retry and a give-up');
    expect(h.done.map((d) => d.delivery.envelope.sessionId).sort()).toEqual(['bad', 'ok']);
    h.lanes.abortSession('doomed');
    // The aborted attempt still held a slot until it settled; its settling frees it.
    await waitFor(() => h.done.length === 3, 'the aborted attempt to settle');
    expect(h.done[2]?.delivery.envelope.sessionId).toBe('doomed');
    // Each call already saw the size without its own delivery (and those done before it).
    expect(h.done.map((d) => d.sizeThen)).toEqual([2, 1, 0]);
    expect(h.lanes.size).toBe(0);
  });
});

describe('what a session leaves behind', () => {
  it('keeps no lane once a session has nothing left: 10,000 sessions acknowledged or given up, then aborted', async () => {
    let n = 0;
    const h = makeLanes(
      (envelope) => {
        n++;
        if (envelope.payload['n'] === 1) throw new Error('give up');
      },
      { capacity: 64 },
    );
    for (let s = 0; s < 10_000; s++) h.lanes.push(delivery(`s${s}`, s % 2, { maxRetries: 0 }));
    expect(h.lanes.sessions).toBe(10_000);
    await waitFor(() => h.successes.length + h.giveUps.length === 10_000, 'every delivery done', 45_000);
    expect(h.lanes.sessions).toBe(0);

    h.lanes.detach('sub-1'); // nothing starts: everything stays queued
    for (let s = 0; s < 100; s++) h.lanes.push(delivery(`q${s}`, 0));
    expect(h.lanes.sessions).toBe(100);
    for (let s = 0; s < 100; s++) h.lanes.abortSession(`q${s}`);
    expect(h.lanes.sessions).toBe(0);
    expect(h.lanes.stats).toMatchObject({ queued: 0, running: 0, retrying: 0, settling: 0 });
    expect(n).toBe(10_000);
  });
});

describe('handlers and hooks that return no promise', () => {
  it('settle in the same turn: one pump runs a session\'s deliveries back to back, in order, and yields after 256 starts', async () => {
    const ran: number[] = [];
    const acknowledged: number[] = [];
    const lanes = new SessionLanes<LaneDelivery>({
      acknowledge: (d) => void acknowledged.push(nOf(d)),
      deadLetter: () => undefined,
      retryDelayMs: () => 1,
    });
    lanes.attach({ subscriptionId: 'sub-1', group: 'g', handler: (e) => void ran.push((e.payload as { n: number }).n), handlerTimeoutMs: 1_000, concurrency: 1 });
    for (let i = 0; i < 300; i++) lanes.push(delivery('s', i));
    // The first push queued the pump; this microtask comes right after it.
    const afterFirstPump = await new Promise<number[]>((resolve) => queueMicrotask(() => resolve([ran.length, acknowledged.length])));
    expect(afterFirstPump).toEqual([256, 256]);
    await waitFor(() => acknowledged.length === 300, 'every delivery');
    const inOrder = Array.from({ length: 300 }, (_, i) => i);
    expect(ran).toEqual(inOrder);
    expect(acknowledged).toEqual(inOrder);
    expect(lanes.size).toBe(0);
    expect(lanes.stats).toMatchObject({ queued: 0, running: 0, retrying: 0, settling: 0 });
  });
});
