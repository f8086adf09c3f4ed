/**
 * Publishes waiting for room in a full queue (`onQueueFull: 'wait'`), in call order.
 *
 * A waiting publish holds back only what must stay behind it: later publishes of its session (their
 * order) and later publishes to the full queues it waits for (fairness: they must not take the room
 * it waits for). Every other publish goes through at once, so one full queue never stalls publishers
 * of unrelated event types, targets or sessions, nor those of a `*` group that is not full.
 */
import { Deque, type MessageEnvelope, type PublishResult } from '@woodwork/bus-core';

/** A queue a message is put in: a group, or the inbox of a target that has no group yet. */
export type QueueKey = object | string;

export interface WaitingPublish {
  readonly envelope: MessageEnvelope;
  /** The queues it routes to, as last computed. */
  queues: readonly QueueKey[];
  /** The full ones among them: later publishes to these wait behind it. */
  held: readonly QueueKey[];
  resolve(result: PublishResult): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

export interface AdmissionHooks {
  /** Where the message routes now. */
  route(envelope: MessageEnvelope): readonly QueueKey[];
  isFull(queue: QueueKey): boolean;
  /** Puts the message in its queues (they all have room); returns the publish result. */
  accept(waiting: WaitingPublish): PublishResult;
}

export class WaitingPublishes {
  private readonly entries = new Deque<WaitingPublish>();
  private readonly sessions = new Map<string, number>();
  private readonly queues = new Map<QueueKey, number>();
  private live = 0;

  constructor(private readonly hooks: AdmissionHooks) {}

  /** Publishes still waiting. */
  get size(): number {
    return this.live;
  }

  /** True when a waiting publish holds this session or one of these queues. */
  blocks(sessionId: string, queues: readonly QueueKey[]): boolean {
    if (this.live === 0) return false;
    if (this.sessions.has(sessionId)) return true;
    for (const queue of queues) if (this.queues.has(queue)) return true;
    return false;
  }

  /** True when a waiting publish wants room in `queue`. */
  waitsFor(queue: QueueKey): boolean {
    return this.queues.has(queue);
  }

  /** Adds a publish that must wait (its `held` is computed here). */
  add(waiting: WaitingPublish): void {
    waiting.held = waiting.queues.filter((q) => this.hooks.isFull(q));
    this.entries.push(waiting);
    this.live++;
    this.hold(waiting);
  }

  /** Marks it done (resolved or rejected by the caller) and releases what it held. */
  finish(waiting: WaitingPublish): boolean {
    if (waiting.done) return false;
    waiting.done = true;
    clearTimeout(waiting.timer);
    this.live--;
    this.release(waiting);
    return true;
  }

  /**
   * Admits, in call order, every waiting publish whose queues all have room and that nothing
   * earlier holds back. Entries behind one that still waits are held back only by its session and
   * its queues.
   */
  admit(): void {
    if (this.live === 0) return;
    const blockedSessions = new Set<string>();
    const blockedQueues = new Set<QueueKey>();
    const kept: WaitingPublish[] = [];
    for (const waiting of this.entries.drain()) {
      if (waiting.done) continue;
      const queues = this.hooks.route(waiting.envelope);
      const full = queues.filter((q) => this.hooks.isFull(q));
      const sessionId = waiting.envelope.sessionId;
      if (full.length > 0 || blockedSessions.has(sessionId) || queues.some((q) => blockedQueues.has(q))) {
        if (!sameQueues(full, waiting.held)) {
          this.release(waiting);
          waiting.held = full;
          this.hold(waiting);
        }
        waiting.queues = queues;
        blockedSessions.add(sessionId);
        for (const queue of full) blockedQueues.add(queue);
        kept.push(waiting);
        continue;
      }
      waiting.queues = queues;
      this.finish(waiting);
      waiting.resolve(this.hooks.accept(waiting));
    }
    // Publishes made while admitting (from a metrics callback) go behind the ones already waiting.
    const added = this.entries.drain();
    for (const waiting of kept) this.entries.push(waiting);
    for (const waiting of added) this.entries.push(waiting);
  }

  /** Removes every waiting publish (they are finished: the caller settles them). */
  drain(filter: (waiting: WaitingPublish) => boolean = () => true): WaitingPublish[] {
    const out: WaitingPublish[] = [];
    for (const waiting of this.entries.retain((w) => !w.done && !filter(w))) {
      if (waiting.done) continue;
      this.finish(waiting);
      out.push(waiting);
    }
    return out;
  }

  private hold(waiting: WaitingPublish): void {
    increment(this.sessions, waiting.envelope.sessionId);
    for (const queue of waiting.held) increment(this.queues, queue);
  }

  private release(waiting: WaitingPublish): void {
    decrement(this.sessions, waiting.envelope.sessionId);
    for (const queue of waiting.held) decrement(this.queues, queue);
  }
}

function increment<K>(counts: Map<K, number>, key: K): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function decrement<K>(counts: Map<K, number>, key: K): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function sameQueues(a: readonly QueueKey[], b: readonly QueueKey[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
