/**
 * WaitingPublishes on its own: call order per session and per full queue, and freeing room looks at
 * the first publish waiting there, not at every waiting publish (thousands may wait).
 */
import { describe, expect, it } from 'vitest';
import { createEnvelope, type PublishResult } from '@woodwork/bus-core';
import { WaitingPublishes, type QueueKey, type WaitingPublish } from '../src/waiting-publishes.js';

const EMPTY_BODY = { payloadJson: '{}', metadataJson: '{}' };

function setup(limits: Record<string, number>) {
  const sizes = new Map<QueueKey, number>();
  const routes = new Map<string, string[]>();
  const accepted: string[] = [];
  let routeCalls = 0;
  const waiting = new WaitingPublishes({
    route: (envelope) => {
      routeCalls++;
      return routes.get(envelope.messageId) ?? [];
    },
    isFull: (queue) => (sizes.get(queue) ?? 0) >= (limits[queue as string] ?? Infinity),
    accept: (w) => {
      for (const q of w.queues) sizes.set(q, (sizes.get(q) ?? 0) + 1);
      accepted.push(w.envelope.messageId);
      return { messageId: w.envelope.messageId, duplicate: false };
    },
  });
  /** Publishes like the bus: at once if nothing holds it back and there is room, else it waits. */
  const publish = (id: string, sessionId: string, queues: string[]): Promise<PublishResult> => {
    routes.set(id, queues);
    const envelope = createEnvelope({ messageId: id, sessionId, eventType: 'w.x', componentSource: 't' });
    if (!waiting.blocks(sessionId, queues) && !queues.some((q) => (sizes.get(q) ?? 0) >= (limits[q] ?? Infinity))) {
      for (const q of queues) sizes.set(q, (sizes.get(q) ?? 0) + 1);
      accepted.push(id);
      return Promise.resolve({ messageId: id, duplicate: false });
    }
    return new Promise((resolve, reject) => {
      const w: WaitingPublish = { envelope, body: EMPTY_BODY, queues, resolve, reject, timer: undefined, done: false };
      waiting.add(w);
    });
  };
  const free = (queue: string) => {
    sizes.set(queue, (sizes.get(queue) ?? 0) - 1);
    waiting.roomIn(queue);
  };
  return { waiting, publish, free, accepted, sizes, calls: () => routeCalls };
}

describe('WaitingPublishes', () => {
  it('freeing one slot of a queue 2,000 publishes wait for routes a handful of them, not all', () => {
    const t = setup({ q: 1 });
    void t.publish('m0', 's0', ['q']);
    for (let i = 1; i <= 2000; i++) void t.publish(`m${i}`, `s${i}`, ['q']);
    expect(t.waiting.size).toBe(2000);
    const before = t.calls();
    t.free('q');
    expect(t.accepted).toEqual(['m0', 'm1']);
    expect(t.calls() - before).toBeLessThanOrEqual(3);
    for (let i = 2; i <= 2000; i++) t.free('q');
    expect(t.accepted).toHaveLength(2001);
    expect(t.accepted).toEqual(Array.from({ length: 2001 }, (_, i) => `m${i}`));
    expect(t.calls() - before).toBeLessThanOrEqual(3 * 2000);
    expect(t.waiting.size).toBe(0);
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

  it('finish lets through what the finished publish held back; drain removes publishes', () => {
    const t = setup({ q: 1 });
    void t.publish('m0', 's', ['q']);
    const w1: WaitingPublish = { envelope: createEnvelope({ messageId: 'm1', sessionId: 's', eventType: 'w.x', componentSource: 't' }), body: EMPTY_BODY, queues: ['q'], resolve: () => undefined, reject: () => undefined, timer: undefined, done: false };
    t.waiting.add(w1);
    void t.publish('m2', 's', ['other']);
    expect(t.waiting.size).toBe(2);
    expect(t.waiting.finish(w1)).toBe(true); // timed out
    expect(t.accepted).toEqual(['m0', 'm2']);
    expect(t.waiting.finish(w1)).toBe(false);
    void t.publish('m3', 't', ['q']);
    expect(t.waiting.drain().map((w) => w.envelope.messageId)).toEqual(['m3']);
    expect(t.waiting.size).toBe(0);
  });
});
