/**
 * PublishAdmission on its own: call order per session and per full queue, one pass in publish
 * order, freeing room looks at the publishes it admits and not at every waiting one (thousands may
 * wait), the deadline, the cap, close, deleted sessions, re-entrant callbacks, and the shape a
 * backend's publish buffer uses (one queue key for the server, an async accept).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEnvelope, PublishAdmission, type MessageEnvelope, type PublishResult, type QueueKey } from '../src/index.js';

interface Msg {
  readonly envelope: MessageEnvelope;
}

function setup(limits: Record<string, number>, options: { timeoutMs?: number; limit?: number } = {}) {
  const sizes = new Map<QueueKey, number>();
  const routes = new Map<string, string[]>();
  const accepted: string[] = [];
  let routeCalls = 0;
  let onAccept: ((id: string) => void) | undefined;
  const isFull = (q: QueueKey): boolean => (sizes.get(q) ?? 0) >= (limits[q as string] ?? Infinity);
  const admission = new PublishAdmission<Msg>(
    {
      route: (m) => {
        routeCalls++;
        return routes.get(m.envelope.messageId) ?? [];
      },
      isFull,
      accept: (m, queues) => {
        for (const q of queues) sizes.set(q, (sizes.get(q) ?? 0) + 1);
        accepted.push(m.envelope.messageId);
        onAccept?.(m.envelope.messageId);
        return { messageId: m.envelope.messageId, duplicate: false };
      },
      timeoutError: (m, ms) => new Error(`${m.envelope.messageId} timed out after ${ms}`),
      limitError: (m, waiting) => new Error(`${m.envelope.messageId}: ${waiting} already wait`),
      deletedResult: (m) => ({ messageId: m.envelope.messageId, duplicate: false }),
    },
    { timeoutMs: options.timeoutMs ?? 60_000, ...(options.limit === undefined ? {} : { limit: options.limit }) },
  );
  const outcomes = new Map<string, string>();
  /** Publishes like a bus: at once if nothing holds it back and there is room, else it waits. */
  const publish = (id: string, sessionId: string, queues: string[]): Promise<PublishResult> => {
    routes.set(id, queues);
    const envelope = createEnvelope({ messageId: id, sessionId, eventType: 'w.x', componentSource: 't' });
    if (!admission.blocks(sessionId, queues) && !queues.some(isFull)) {
      for (const q of queues) sizes.set(q, (sizes.get(q) ?? 0) + 1);
      accepted.push(id);
      return Promise.resolve({ messageId: id, duplicate: false });
    }
    const waiting = admission.wait({ envelope }, queues);
    waiting.then(
      () => outcomes.set(id, 'resolved'),
      (error: Error) => outcomes.set(id, `rejected: ${error.message}`),
    );
    return waiting;
  };
  const free = (queue: string) => {
    sizes.set(queue, (sizes.get(queue) ?? 0) - 1);
    admission.roomIn(queue);
  };
  return {
    admission,
    publish,
    free,
    accepted,
    sizes,
    routes,
    outcomes,
    calls: () => routeCalls,
    setOnAccept: (f: (id: string) => void) => (onAccept = f),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('PublishAdmission', () => {
  it('freeing one slot of a queue 2,000 publishes wait for routes a handful of them, not all', () => {
    const t = setup({ q: 1 });
    void t.publish('m0', 's0', ['q']);
    for (let i = 1; i <= 2000; i++) void t.publish(`m${i}`, `s${i}`, ['q']);
    expect(t.admission.size).toBe(2000);
    const before = t.calls();
    t.free('q');
    expect(t.accepted).toEqual(['m0', 'm1']);
    expect(t.calls() - before).toBeLessThanOrEqual(3);
    for (let i = 2; i <= 2000; i++) t.free('q');
    expect(t.accepted).toEqual(Array.from({ length: 2001 }, (_, i) => `m${i}`));
    expect(t.calls() - before).toBeLessThanOrEqual(3 * 2000);
    expect(t.admission.size).toBe(0);
  });

  it("a session's publishes go in call order; a publish waiting for a full queue does not hold back one whose queues have room", () => {
    const t = setup({ full: 1 });
    void t.publish('f0', 'x', ['full']);
    void t.publish('a1', 'a', ['full', 'hooks']); // waits: full
    void t.publish('a2', 'a', ['other']); // waits: a1 is first of session a
    void t.publish('b3', 'b', ['hooks']); // hooks is not full: goes
    void t.publish('c4', 'c', ['full']); // waits behind a1 for "full"
    expect(t.accepted).toEqual(['f0', 'b3']);
    t.free('full');
    expect(t.accepted).toEqual(['f0', 'b3', 'a1', 'a2']);
    t.free('full');
    expect(t.accepted).toEqual(['f0', 'b3', 'a1', 'a2', 'c4']);
  });

  it('a publish that waited for a queue that has room again stops holding it back', () => {
    const t = setup({ full: 1, hooks: 1 });
    void t.publish('f0', 'x', ['full', 'hooks']); // both queues now hold one
    void t.publish('a1', 'a', ['full', 'hooks']); // waits for both
    void t.publish('b2', 'b', ['hooks']); // waits behind a1 for hooks
    t.free('hooks'); // a1 still waits for "full": b2 may take the room in hooks
    expect(t.accepted).toEqual(['f0', 'b2']);
  });

  it('one pass admits in publish order: room for two in a queue goes to the two earliest, whatever freed it', () => {
    const t = setup({ q: 2, r: 1 });
    void t.publish('q0', 'x', ['q']);
    void t.publish('q1', 'y', ['q']);
    void t.publish('r0', 'z', ['r']);
    void t.publish('a', 'sa', ['r', 'q']); // waits for r (full) and q (full)
    void t.publish('b', 'sb', ['q']); // waits behind a for q
    void t.publish('c', 'sc', ['q']); // waits behind b
    t.sizes.set('q', 0); // two slots at once, no roomIn yet
    t.admission.roomIn('q'); // a still waits for r: b and c take the room, in call order
    expect(t.accepted.slice(3)).toEqual(['b', 'c']);
    t.free('r');
    expect(t.accepted.slice(3)).toEqual(['b', 'c']); // q full again: a keeps waiting for it
    t.free('q');
    expect(t.accepted.slice(3)).toEqual(['b', 'c', 'a']);
  });

  it('what one admission lets through is admitted earliest first, not in the order it was let through', () => {
    const t = setup({ q1: 2, q2: 2, r: 1 });
    for (const id of ['f1', 'f2']) void t.publish(id, id, ['q1', 'q2']);
    void t.publish('A', 'sa', ['q1', 'q2']); // waits for both, holding q1 then q2
    void t.publish('X', 'sx', ['q2', 'r']); // waits behind A for q2 (r has room)
    void t.publish('Y', 'sy', ['q1', 'r']); // waits behind A for q1
    t.sizes.set('q1', 0);
    t.sizes.set('q2', 0);
    t.admission.roomIn('q1');
    // A goes, letting Y through (q1's list) before X (q2's list): X was published first, so X takes r.
    expect(t.accepted.slice(2)).toEqual(['A', 'X']);
    expect(t.admission.size).toBe(1);
    t.free('r');
    expect(t.accepted.slice(2)).toEqual(['A', 'X', 'Y']);
  });

  it('routesChanged looks at every waiting publish in call order', () => {
    const t = setup({ q: 1 });
    void t.publish('m0', 's0', ['q']);
    for (let i = 1; i <= 5; i++) void t.publish(`m${i}`, `s${i % 2}`, ['q']);
    for (let i = 1; i <= 5; i++) t.routes.set(`m${i}`, [`own${i}`]);
    t.admission.routesChanged();
    expect(t.accepted).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(t.admission.size).toBe(0);
  });

  it('a deadline rejects the publish, clears its timer and lets through what it held back', async () => {
    vi.useFakeTimers();
    const t = setup({ q: 1 }, { timeoutMs: 500 });
    void t.publish('m0', 's', ['q']);
    void t.publish('m1', 's', ['q']).catch(() => undefined);
    void t.publish('m2', 's', ['other']);
    expect(vi.getTimerCount()).toBe(2);
    await vi.advanceTimersByTimeAsync(499);
    expect(t.outcomes.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.outcomes.get('m1')).toBe('rejected: m1 timed out after 500');
    expect(t.outcomes.get('m2')).toBe('resolved');
    expect(t.accepted).toEqual(['m0', 'm2']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the cap throws at once; close rejects every waiting one; a deleted session resolves its own', async () => {
    const t = setup({ q: 0 }, { limit: 3 });
    const waits = ['a1', 'a2', 'b1'].map((id) => t.publish(id, id[0] as string, ['q']).catch((e: Error) => e.message));
    expect(() => t.publish('c1', 'c', ['q'])).toThrow('c1: 3 already wait');
    t.admission.resolveSession('a');
    expect(t.admission.size).toBe(1);
    t.admission.rejectAll(new Error('closed'));
    expect(await Promise.all(waits)).toEqual([
      { messageId: 'a1', duplicate: false },
      { messageId: 'a2', duplicate: false },
      'closed',
    ]);
    expect(t.admission.size).toBe(0);
    expect(t.accepted).toEqual([]);
  });

  it('a publish made from inside accept (a metrics callback) joins the running pass after the earlier ones', () => {
    const t = setup({ q: 1 });
    void t.publish('m0', 's0', ['q']);
    void t.publish('m1', 's1', ['q']);
    void t.publish('m2', 's2', ['q']);
    t.setOnAccept((id) => {
      if (id === 'm1') {
        void t.publish('inner', 's1', ['elsewhere']); // blocked by nothing now: m1 has left
        t.sizes.set('q', 0);
        t.admission.roomIn('q'); // re-entrant: joins the pass
      }
    });
    t.free('q');
    expect(t.accepted).toEqual(['m0', 'm1', 'inner', 'm2']);
  });

  it("as a backend's publish buffer: one key for the server, an async accept, resolved in call order when it comes back", async () => {
    let up = false;
    const sent: string[] = [];
    const buffer = new PublishAdmission<Msg>(
      {
        route: () => ['server'],
        isFull: () => !up,
        accept: async (m) => {
          sent.push(m.envelope.messageId);
          return { messageId: m.envelope.messageId, duplicate: false };
        },
        timeoutError: () => new Error('timeout'),
        limitError: () => new Error('buffer full'),
        deletedResult: (m) => ({ messageId: m.envelope.messageId, duplicate: false }),
      },
      { timeoutMs: 60_000, limit: 10 },
    );
    const results = ['p1', 'p2', 'p3'].map((id, i) =>
      buffer.wait({ envelope: createEnvelope({ messageId: id, sessionId: `s${i}`, eventType: 'w.x', componentSource: 't' }) }, ['server']),
    );
    expect(buffer.blocks('other', ['server'])).toBe(true);
    up = true;
    buffer.roomIn('server');
    expect(sent).toEqual(['p1', 'p2', 'p3']);
    expect((await Promise.all(results)).map((r) => r.messageId)).toEqual(['p1', 'p2', 'p3']);
  });
});
