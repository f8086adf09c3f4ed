/**
 * Messages sent to a component that has no matching group yet. A target's queue exists from the
 * first message sent to it (bounded by `maxQueueSize`; how many targets have one is bounded by the
 * bus's `maxTargetQueues`), so a listener that registers later still gets everything waiting, in
 * order. A target that gets no message for `groupExpiryMs` and never
 * subscribes loses its queue, like an unused durable group.
 *
 * Messages are also indexed by session, so deleting a session costs its own messages, not a scan
 * of every target's queue; a deleted message stays in its queue as a tombstone until the queue is
 * compacted (when tombstones outnumber live messages) or taken.
 */
import { Deque, groupReceives, type GroupSpec, type MessageEnvelope } from '@woodwork/bus-core';
import type { MessageBody } from './message-bodies.js';

export interface WaitingMessage {
  readonly envelope: MessageEnvelope;
  readonly body: MessageBody;
  readonly seq: number;
}

interface Slot extends WaitingMessage {
  readonly target: string;
  removed: boolean;
}

interface TargetQueue {
  readonly slots: Deque<Slot>;
  /** Slots not removed. */
  live: number;
  /** When it last got a message (ms since the epoch). */
  lastPushAt: number;
}

export class TargetInbox {
  private readonly byTarget = new Map<string, TargetQueue>();
  private readonly bySession = new Map<string, Set<Slot>>();

  size(target: string): number {
    return this.byTarget.get(target)?.live ?? 0;
  }

  /** True when the target has a queue (a message waits for it). */
  has(target: string): boolean {
    return this.byTarget.has(target);
  }

  /** Targets that have a queue (bounded by the bus's `maxTargetQueues`). */
  get targets(): number {
    return this.byTarget.size;
  }

  push(target: string, message: WaitingMessage): void {
    let queue = this.byTarget.get(target);
    if (!queue) {
      queue = { slots: new Deque<Slot>(), live: 0, lastPushAt: 0 };
      this.byTarget.set(target, queue);
    }
    const slot: Slot = { envelope: message.envelope, body: message.body, seq: message.seq, target, removed: false };
    queue.slots.push(slot);
    queue.live++;
    queue.lastPushAt = Date.now();
    let slots = this.bySession.get(message.envelope.sessionId);
    if (!slots) this.bySession.set(message.envelope.sessionId, (slots = new Set()));
    slots.add(slot);
  }

  /** Removes and returns, in order, the waiting messages the new group receives. */
  takeFor(spec: GroupSpec): WaitingMessage[] {
    if (spec.componentId === null) return [];
    const queue = this.byTarget.get(spec.componentId);
    if (!queue) return [];
    const taken: WaitingMessage[] = [];
    for (const slot of queue.slots.retain((s) => !s.removed && !groupReceives(spec, s.envelope))) {
      if (slot.removed) continue;
      this.forget(slot);
      queue.live--;
      taken.push({ envelope: slot.envelope, body: slot.body, seq: slot.seq });
    }
    if (queue.live === 0) this.byTarget.delete(spec.componentId);
    return taken;
  }

  /** Drops every waiting message of the session; returns how many. */
  removeSession(sessionId: string): number {
    const slots = this.bySession.get(sessionId);
    if (!slots) return 0;
    this.bySession.delete(sessionId);
    for (const slot of slots) {
      slot.removed = true;
      const queue = this.byTarget.get(slot.target);
      if (!queue) continue;
      queue.live--;
      if (queue.live === 0) this.byTarget.delete(slot.target);
      else if (queue.slots.length > 2 * queue.live + 64) queue.slots.retain((s) => !s.removed);
    }
    return slots.size;
  }

  /** Removes the queues of targets that got no message since `cutoff`; returns each with its size. */
  removeIdleSince(cutoff: number): Array<[string, number]> {
    const removed: Array<[string, number]> = [];
    for (const [target, queue] of this.byTarget) {
      if (queue.lastPushAt > cutoff) continue;
      removed.push([target, queue.live]);
      for (const slot of queue.slots) if (!slot.removed) this.forget(slot);
      this.byTarget.delete(target);
    }
    return removed;
  }

  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [target, queue] of this.byTarget) out[target] = queue.live;
    return out;
  }

  /** Sessions with waiting messages (to check that nothing is left behind). */
  get sessions(): number {
    return this.bySession.size;
  }

  clear(): void {
    this.byTarget.clear();
    this.bySession.clear();
  }

  private forget(slot: Slot): void {
    const slots = this.bySession.get(slot.envelope.sessionId);
    if (!slots) return;
    slots.delete(slot);
    if (slots.size === 0) this.bySession.delete(slot.envelope.sessionId);
  }
}
