/**
 * Publishes waiting for room: memory's full queues (`onQueueFull: 'wait'`), and a backend's bounded
 * buffer while its server is away (`publishBufferSize`: one queue key for the server, full while it
 * is unreachable). The contract's rules for them live here once:
 *
 * - **What waits holds back only what must stay behind it**: later publishes of its session (their
 *   order) and later publishes to the queues it waits for (fairness: they must not take the room it
 *   waits for). Every other publish goes through at once, so one full queue never stalls publishers
 *   of unrelated queues or sessions.
 * - **One admission pass, in publish order.** Freed room, a finished publish and changed routes all
 *   feed one pass that admits candidates earliest first (a heap by call order). Freeing room looks
 *   at the first publish waiting for that queue and at what each admitted one held back: it costs
 *   O(publishes admitted), never a rescan of all that wait. Only `routesChanged` (a group came or
 *   went) looks at every waiting publish, in call order.
 * - **The deadline**: each waiting publish rejects with `hooks.timeoutError` after `timeoutMs`;
 *   the module owns these timers and clears them whatever ends the wait.
 * - **The cap**: at most `limit` publishes wait; `wait` past it throws `hooks.limitError` at once,
 *   so publishes nobody awaits cannot pile up (with their timers).
 * - **Close** (`rejectAll`) rejects every waiting publish; **deleteSessionQueue** (`resolveSession`)
 *   resolves the session's waiting publishes with `hooks.deletedResult`, as if they had found room
 *   just before the session was deleted.
 *
 * Re-entrancy: `hooks.accept` may run user code (a metrics callback) that publishes, frees room or
 * changes routes again; such calls join the pass that is running instead of starting another.
 */
import type { PublishResult } from './bus.js';
import type { MessageEnvelope } from './envelope.js';

/** A queue a message is put in (a group, a target's inbox, the server). Compared by identity. */
export type QueueKey = object | string;

export interface AdmissionHooks<M extends { readonly envelope: MessageEnvelope }> {
  /** Where the message routes now. */
  route(message: M): readonly QueueKey[];
  isFull(queue: QueueKey): boolean;
  /**
   * Puts the message in `queues` (each has room); returns the publish result, or a promise of it
   * (a backend sending to its server). A throw rejects that publish only.
   */
  accept(message: M, queues: readonly QueueKey[]): PublishResult | Promise<PublishResult>;
  /** The error a publish still waiting after `timeoutMs` rejects with. */
  timeoutError(message: M, timeoutMs: number): unknown;
  /** The error `wait` throws while `limit` publishes already wait. */
  limitError(message: M, waiting: number): unknown;
  /** The result of a waiting publish whose session was deleted (`resolveSession`). */
  deletedResult(message: M): PublishResult;
}

interface Entry<M> {
  readonly message: M;
  readonly seq: number;
  readonly session: string;
  /** Where it routes, as last computed. */
  queues: readonly QueueKey[];
  /**
   * The queues whose lists it is in: those it waits for (full, or an earlier publish waits for
   * them). Only the first publish of its session holds queues; the others wait for it first.
   */
  held: QueueKey[];
  resolve(result: PublishResult | Promise<PublishResult>): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

export class PublishAdmission<M extends { readonly envelope: MessageEnvelope }> {
  /** Waiting entries, in call order (a Set keeps insertion order, and seq grows with it). */
  private readonly entries = new Set<Entry<M>>();
  private readonly bySession = new Map<string, OrderedList<M>>();
  private readonly byQueue = new Map<QueueKey, OrderedList<M>>();
  private readonly candidates = new EntryHeap<M>();
  private nextSeq = 0;
  private passing = false;
  private rerouteAfterPass = false;

  constructor(
    private readonly hooks: AdmissionHooks<M>,
    private readonly options: {
      /** How long a publish may wait, in ms. */
      timeoutMs: number;
      /** Publishes that may wait at once. */
      limit?: number;
    },
  ) {}

  /** Publishes waiting. */
  get size(): number {
    return this.entries.size;
  }

  get limit(): number {
    return this.options.limit ?? Number.POSITIVE_INFINITY;
  }

  /** True when a waiting publish holds this session or one of these queues: a new publish must wait behind it. */
  blocks(sessionId: string, queues: readonly QueueKey[]): boolean {
    if (this.entries.size === 0) return false;
    if (this.bySession.has(sessionId)) return true;
    for (const queue of queues) if (this.byQueue.has(queue)) return true;
    return false;
  }

  /** True when a waiting publish waits for room in `queue` (room there is promised to it). */
  waitsFor(queue: QueueKey): boolean {
    return this.byQueue.has(queue);
  }

  /**
   * Makes a publish wait (the caller found it blocked or a queue full). Resolves when it was
   * admitted (`hooks.accept`'s result), or when its session was deleted; rejects at the deadline
   * or on close. Throws `hooks.limitError` at once when `limit` publishes already wait.
   */
  wait(message: M, queues: readonly QueueKey[]): Promise<PublishResult> {
    if (this.entries.size >= this.limit) throw this.hooks.limitError(message, this.entries.size);
    return new Promise<PublishResult>((resolve, reject) => {
      const entry: Entry<M> = {
        message,
        seq: this.nextSeq++,
        session: message.envelope.sessionId,
        queues,
        held: [],
        resolve,
        reject,
        timer: undefined,
        done: false,
      };
      entry.timer = setTimeout(() => this.expire(entry), this.options.timeoutMs);
      this.entries.add(entry);
      const firstOfSession = this.join(this.bySession, entry.session, entry);
      if (!firstOfSession) return;
      for (const queue of queues) if (this.byQueue.has(queue) || this.hooks.isFull(queue)) this.hold(entry, queue);
      // Nothing holds it back after all (a route changed under the caller): it goes in this pass.
      if (entry.held.length === 0) {
        this.candidates.push(entry);
        this.pass();
      }
    });
  }

  /** Room was freed in `queue`: the first publish waiting for it may go, then what it held back. */
  roomIn(queue: QueueKey): void {
    const first = this.byQueue.get(queue)?.first();
    if (first === undefined) return;
    this.candidates.push(first);
    this.pass();
  }

  /**
   * Routes changed (a group came or went, a target's queue was removed): every waiting publish is
   * routed again and admitted where it may, in call order.
   */
  routesChanged(): void {
    if (this.entries.size === 0) return;
    if (this.passing) {
      this.rerouteAfterPass = true;
      return;
    }
    this.passing = true;
    try {
      this.byQueue.clear();
      for (const entry of [...this.entries]) {
        if (entry.done) continue;
        entry.held = [];
        if (this.bySession.get(entry.session)?.first() !== entry) continue;
        entry.queues = this.hooks.route(entry.message);
        for (const queue of entry.queues) if (this.byQueue.has(queue) || this.hooks.isFull(queue)) this.hold(entry, queue);
        if (entry.held.length === 0) this.admit(entry);
      }
    } finally {
      this.passing = false;
    }
    this.pass();
  }

  /** The session was deleted: its waiting publishes resolve with `hooks.deletedResult`, in call order. */
  resolveSession(sessionId: string): void {
    const list = this.bySession.get(sessionId);
    if (!list) return;
    for (const entry of list.toArray()) {
      if (entry.done) continue; // admitted meanwhile by a pass a callback started
      this.remove(entry);
      entry.resolve(this.settleSafely(() => this.hooks.deletedResult(entry.message)));
    }
    this.pass();
  }

  /** Rejects every waiting publish with `error` (the bus is closing). */
  rejectAll(error: unknown): void {
    for (const entry of [...this.entries]) {
      if (entry.done) continue;
      this.remove(entry);
      entry.reject(error);
    }
    this.candidates.clear();
  }

  // ---- the pass ----

  /** Admits candidates earliest first; what an admitted one held back becomes a candidate. */
  private pass(): void {
    if (this.passing) return;
    this.passing = true;
    try {
      for (let entry = this.candidates.pop(); entry !== undefined; entry = this.candidates.pop()) {
        if (!entry.done && this.admissible(entry)) this.admit(entry);
      }
    } finally {
      this.passing = false;
    }
    if (this.rerouteAfterPass) {
      this.rerouteAfterPass = false;
      this.routesChanged();
    }
  }

  /**
   * First of its session, and no queue it routes to is full or waited for by an earlier publish.
   * Updates what it holds: it joins the lists of queues it must now wait for, and leaves those that
   * have room again (the next publish waiting there becomes a candidate).
   */
  private admissible(entry: Entry<M>): boolean {
    if (this.bySession.get(entry.session)?.first() !== entry) return false;
    entry.queues = this.hooks.route(entry.message);
    const waitsFor = entry.queues.filter((queue) => {
      if (this.hooks.isFull(queue)) return true;
      const first = this.byQueue.get(queue)?.first();
      return first !== undefined && first !== entry && first.seq < entry.seq;
    });
    const kept: QueueKey[] = [];
    for (const queue of entry.held) {
      if (waitsFor.includes(queue)) kept.push(queue);
      else this.leave(this.byQueue, queue, entry);
    }
    entry.held = kept;
    for (const queue of waitsFor) if (!kept.includes(queue)) this.hold(entry, queue);
    return waitsFor.length === 0;
  }

  private admit(entry: Entry<M>): void {
    this.remove(entry);
    entry.resolve(this.settleSafely(() => this.hooks.accept(entry.message, entry.queues)));
  }

  private expire(entry: Entry<M>): void {
    entry.timer = undefined;
    if (entry.done) return;
    const error = this.hooks.timeoutError(entry.message, this.options.timeoutMs);
    this.remove(entry);
    entry.reject(error);
    this.pass();
  }

  /** Takes the entry out of every list; the entries that became first of one become candidates. */
  private remove(entry: Entry<M>): void {
    entry.done = true;
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    entry.timer = undefined;
    this.entries.delete(entry);
    this.leave(this.bySession, entry.session, entry);
    for (const queue of entry.held) this.leave(this.byQueue, queue, entry);
    entry.held = [];
  }

  private settleSafely(run: () => PublishResult | Promise<PublishResult>): PublishResult | Promise<PublishResult> {
    try {
      return run();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private leave<K>(lists: Map<K, OrderedList<M>>, key: K, entry: Entry<M>): void {
    const list = lists.get(key);
    if (!list) return;
    const wasFirst = list.first() === entry;
    list.delete(entry);
    if (list.length === 0) lists.delete(key);
    else if (wasFirst) this.candidates.push(list.first() as Entry<M>);
  }

  /** Adds the entry to the list under `key`; true when it is the first there. */
  private join<K>(lists: Map<K, OrderedList<M>>, key: K, entry: Entry<M>): boolean {
    let list = lists.get(key);
    if (!list) lists.set(key, (list = new OrderedList<M>()));
    list.insert(entry);
    return list.first() === entry;
  }

  private hold(entry: Entry<M>, queue: QueueKey): void {
    entry.held.push(queue);
    this.join(this.byQueue, queue, entry);
  }
}

/**
 * Entries in call order (by `seq`). Almost every insert is at the end; one that joins a queue's
 * list later goes to its place, so the first of a list is always the earliest (no two publishes can
 * wait for each other).
 */
class OrderedList<M> {
  private items: Array<Entry<M> | undefined> = [];
  private start = 0;

  get length(): number {
    return this.items.length - this.start;
  }

  first(): Entry<M> | undefined {
    return this.items[this.start];
  }

  toArray(): Array<Entry<M>> {
    return this.items.slice(this.start) as Array<Entry<M>>;
  }

  insert(entry: Entry<M>): void {
    const last = this.items[this.items.length - 1];
    if (last === undefined || this.length === 0 || last.seq < entry.seq) {
      this.items.push(entry);
      return;
    }
    let lo = this.start;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.items[mid] as Entry<M>).seq < entry.seq) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, entry);
  }

  delete(entry: Entry<M>): void {
    if (this.items[this.start] === entry) {
      this.items[this.start] = undefined;
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

/** Candidates of the pass, earliest call first (a binary min-heap by `seq`; duplicates allowed). */
class EntryHeap<M> {
  private readonly items: Array<Entry<M>> = [];

  push(entry: Entry<M>): void {
    const items = this.items;
    items.push(entry);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as Entry<M>).seq <= entry.seq) break;
      items[i] = items[parent] as Entry<M>;
      i = parent;
    }
    items[i] = entry;
  }

  pop(): Entry<M> | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as Entry<M>).seq < (items[left] as Entry<M>).seq ? right : left;
      if ((items[child] as Entry<M>).seq >= last.seq) break;
      items[i] = items[child] as Entry<M>;
      i = child;
    }
    items[i] = last;
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}
