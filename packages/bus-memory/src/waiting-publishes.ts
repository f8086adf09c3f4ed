/**
 * Publishes waiting for room in a full queue (`onQueueFull: 'wait'`).
 *
 * A waiting publish holds back only what must stay behind it: later publishes of its session (their
 * order) and later publishes to the queues it waits for (fairness: they must not take the room it
 * waits for). Every other publish goes through at once, so one full queue never stalls publishers
 * of unrelated event types, targets or sessions, nor those of a `*` group that is not full.
 *
 * Each session and each held queue has a list of its waiting publishes in call order; only the
 * first of a list can go, so freeing room in a queue looks at one publish, not at all of them
 * (thousands of publishers may wait on a busy bus).
 *
 * How many may wait at once is capped (`limit`, the `maxWaitingPublishes` option): the caller checks
 * `atLimit` before `add` and rejects at once past it, so publishes nobody awaits cannot pile up.
 */
import type { MessageEnvelope, PublishResult } from '@woodwork/bus-core';
import type { MessageBody } from './message-bodies.js';

/** A queue a message is put in: a group, or the inbox of a target that has no group yet. */
export type QueueKey = object | string;

export interface WaitingPublish {
  readonly envelope: MessageEnvelope;
  readonly body: MessageBody;
  /** The queues it routes to, as last computed. */
  queues: readonly QueueKey[];
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

interface Entry {
  readonly waiting: WaitingPublish;
  readonly seq: number;
  /**
   * The queues whose lists it is in: those it waits for (full, or an earlier publish waits for
   * them). Only the first publish of its session holds queues; the others wait for it first.
   */
  held: QueueKey[];
}

export class WaitingPublishes {
  /** Live entries in call order. */
  private readonly entries = new Map<WaitingPublish, Entry>();
  private readonly bySession = new Map<string, OrderedList>();
  private readonly byQueue = new Map<QueueKey, OrderedList>();
  private nextSeq = 0;
  private admitting = false;
  private rescan = false;
  private deferred: WaitingPublish[] | undefined;

  constructor(
    private readonly hooks: AdmissionHooks,
    /** Publishes that may wait at once; `add` past it is the caller's bug (check `atLimit`). */
    readonly limit: number = Number.POSITIVE_INFINITY,
  ) {}

  /** Publishes still waiting. */
  get size(): number {
    return this.entries.size + (this.deferred?.length ?? 0);
  }

  /** True when one more publish may not wait: it must be rejected at once. */
  get atLimit(): boolean {
    return this.size >= this.limit;
  }

  /** True when a waiting publish holds this session or one of these queues. */
  blocks(sessionId: string, queues: readonly QueueKey[]): boolean {
    if (this.entries.size === 0) return false;
    if (this.bySession.has(sessionId)) return true;
    for (const queue of queues) if (this.byQueue.has(queue)) return true;
    return false;
  }

  /** Adds a publish that must wait; `waiting.queues` is where it routes now. */
  add(waiting: WaitingPublish): void {
    if (this.deferred) {
      this.deferred.push(waiting);
      return;
    }
    const entry: Entry = { waiting, seq: this.nextSeq++, held: [] };
    this.entries.set(waiting, entry);
    const firstOfSession = !this.bySession.has(waiting.envelope.sessionId);
    this.join(entry);
    if (!firstOfSession) return;
    for (const queue of waiting.queues) {
      if (this.byQueue.has(queue) || this.hooks.isFull(queue)) this.hold(entry, queue);
    }
  }

  /** True when a waiting publish waits for room in `queue`. */
  waitsFor(queue: QueueKey): boolean {
    return this.byQueue.has(queue);
  }

  /** Room was freed in `queue`: the first publish waiting for it may go, and what it held back. */
  roomIn(queue: QueueKey): void {
    const list = this.byQueue.get(queue);
    if (!list) return;
    this.run([list.first()]);
  }

  /** Marks it done (the caller settles it) and lets through what it held back. */
  finish(waiting: WaitingPublish): boolean {
    const entry = this.entries.get(waiting);
    if (!entry) return false;
    const next = this.remove(entry);
    this.run(next);
    return true;
  }

  /**
   * Looks at every waiting publish again, in call order (routes changed: a group came or went, a
   * session was deleted). Admits each whose queues have room and that nothing earlier holds back.
   */
  admitAll(): void {
    if (this.entries.size === 0) return;
    if (this.admitting) {
      this.rescan = true;
      return;
    }
    this.admitting = true;
    // Publishes made while admitting (from a metrics callback) come after the ones already waiting.
    this.deferred = [];
    try {
      const live = [...this.entries.values()];
      this.entries.clear();
      this.bySession.clear();
      this.byQueue.clear();
      for (const entry of live) {
        const { waiting } = entry;
        waiting.queues = this.hooks.route(waiting.envelope);
        entry.held = [];
        const firstOfSession = !this.bySession.has(waiting.envelope.sessionId);
        const held = firstOfSession ? waiting.queues.filter((q) => this.byQueue.has(q) || this.hooks.isFull(q)) : [];
        if (firstOfSession && held.length === 0) {
          this.settle(waiting);
          continue;
        }
        this.entries.set(waiting, entry);
        this.join(entry);
        for (const queue of held) this.hold(entry, queue);
      }
    } finally {
      const added = this.deferred;
      this.deferred = undefined;
      this.admitting = false;
      for (const waiting of added) {
        this.add(waiting);
        this.run([this.entries.get(waiting)]);
      }
    }
    if (this.rescan) {
      this.rescan = false;
      this.admitAll();
    }
  }

  /** Removes the waiting publishes `filter` picks (all by default); the caller settles them. */
  drain(filter: (waiting: WaitingPublish) => boolean = () => true): WaitingPublish[] {
    const out: WaitingPublish[] = [];
    for (const entry of [...this.entries.values()]) {
      if (!filter(entry.waiting)) continue;
      this.remove(entry);
      out.push(entry.waiting);
    }
    return out;
  }

  /** Tries the candidates, then whatever each admitted one held back. */
  private run(candidates: Array<Entry | undefined>): void {
    const todo = candidates.filter((e): e is Entry => e !== undefined);
    while (todo.length > 0) {
      const entry = todo.shift() as Entry;
      if (!this.entries.has(entry.waiting) || !this.isAdmissible(entry, todo)) continue;
      for (const next of this.remove(entry)) if (next !== undefined) todo.push(next);
      this.settle(entry.waiting);
    }
  }

  /**
   * First of its session, and no queue it routes to is full or waited for by an earlier publish.
   * Updates what it holds: it joins the lists of queues it must now wait for, and leaves those that
   * have room again (the next publish waiting there goes to `todo`).
   */
  private isAdmissible(entry: Entry, todo: Entry[]): boolean {
    const { waiting } = entry;
    if (this.bySession.get(waiting.envelope.sessionId)?.first() !== entry) return false;
    waiting.queues = this.hooks.route(waiting.envelope);
    const waitsFor = waiting.queues.filter((queue) => {
      const first = this.byQueue.get(queue)?.first();
      return this.hooks.isFull(queue) || (first !== undefined && first !== entry && first.seq < entry.seq);
    });
    for (const queue of entry.held) {
      if (waitsFor.includes(queue)) continue;
      const next = this.leave(this.byQueue, queue, entry);
      if (next !== undefined) todo.push(next);
    }
    const held = entry.held.filter((queue) => waitsFor.includes(queue));
    entry.held = held;
    for (const queue of waitsFor) if (!held.includes(queue)) this.hold(entry, queue);
    return waitsFor.length === 0;
  }

  private settle(waiting: WaitingPublish): void {
    waiting.done = true;
    clearTimeout(waiting.timer);
    waiting.resolve(this.hooks.accept(waiting));
  }

  /** Takes the entry out of every list; returns the entries that became first of one. */
  private remove(entry: Entry): Array<Entry | undefined> {
    this.entries.delete(entry.waiting);
    entry.waiting.done = true;
    clearTimeout(entry.waiting.timer);
    const next: Array<Entry | undefined> = [];
    const session = entry.waiting.envelope.sessionId;
    next.push(this.leave(this.bySession, session, entry));
    for (const queue of entry.held) next.push(this.leave(this.byQueue, queue, entry));
    return next;
  }

  private leave<K>(lists: Map<K, OrderedList>, key: K, entry: Entry): Entry | undefined {
    const list = lists.get(key);
    if (!list) return undefined;
    const wasFirst = list.first() === entry;
    list.delete(entry);
    if (list.length === 0) {
      lists.delete(key);
      return undefined;
    }
    return wasFirst ? list.first() : undefined;
  }

  private join(entry: Entry): void {
    const session = entry.waiting.envelope.sessionId;
    let list = this.bySession.get(session);
    if (!list) this.bySession.set(session, (list = new OrderedList()));
    list.insert(entry);
  }

  private hold(entry: Entry, queue: QueueKey): void {
    entry.held.push(queue);
    let list = this.byQueue.get(queue);
    if (!list) this.byQueue.set(queue, (list = new OrderedList()));
    list.insert(entry);
  }
}

/**
 * Entries in call order (by `seq`). Almost every insert is at the end; one that joins a queue's
 * list later goes to its place, so the first of a list is always the earliest (no two publishes can
 * wait for each other).
 */
class OrderedList {
  private items: Entry[] = [];
  private start = 0;

  get length(): number {
    return this.items.length - this.start;
  }

  first(): Entry | undefined {
    return this.items[this.start];
  }

  insert(entry: Entry): void {
    const last = this.items[this.items.length - 1];
    if (last === undefined || this.length === 0 || last.seq < entry.seq) {
      this.items.push(entry);
      return;
    }
    let lo = this.start;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as Entry).seq < entry.seq) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, entry);
  }

  delete(entry: Entry): void {
    if (this.items[this.start] === entry) {
      this.items[this.start] = undefined as unknown as Entry;
      this.start++;
      if (this.start > 64 && this.start * 2 > this.items.length) {
        this.items = this.items.slice(this.start);
        this.start = 0;
      }
      return;
    }
    const at = this.items.indexOf(entry, this.start);
    if (at >= 0) this.items.splice(at, 1);
  }
}
