/**
 * Session lanes: the delivery engine every backend shares. It keeps the contract's ordering and
 * retry rules in one place:
 * - one session's deliveries run one at a time, in the order they were pushed; the next starts only
 *   after the previous succeeded or was given up (dead-lettered);
 * - different sessions run in parallel, up to the capacity the backend reports;
 * - a failed attempt waits its backoff holding only its own session (it frees its slot meanwhile);
 * - attempts = maxRetries + 1 (`at_most_once`: one), then the delivery is given up once;
 * - the handler sees `retryCount = attempt - 1` and an `AbortSignal` that fires on timeout, on
 *   `abortSession` and on `stop`.
 * The backend decides what success and giving up mean (ack, dead-letter) through the hooks.
 */
import { Deque } from './deque.js';
import { MessageDeliveryMode, type MessageEnvelope } from './envelope.js';
import { BusClosedError, HandlerTimeoutError } from './errors.js';
import type { DeliveryContext, MessageHandler } from './bus.js';

export interface LaneDelivery {
  readonly envelope: MessageEnvelope;
  /** Attempts already made (before this process got it, for backends that redeliver). */
  attemptsMade: number;
  /** Seconds since the epoch of the first failed attempt, if any. */
  firstFailedAt?: number;
}

/** A subscription (replica) that can run attempts. */
export interface LaneConsumer {
  readonly subscriptionId: string;
  readonly group: string;
  readonly handler: MessageHandler;
  readonly handlerTimeoutMs: number;
}

export interface SessionLanesHooks<D extends LaneDelivery> {
  /** The replica for the next attempt; `undefined` pauses dispatch until `pump()` is called again. */
  pickConsumer(): LaneConsumer | undefined;
  /** How many attempts may run at once (summed over replicas). */
  capacity(): number;
  /** The attempt succeeded: acknowledge. */
  onSuccess(delivery: D, durationMs: number): void | Promise<void>;
  /** Every attempt failed (or an `at_most_once` one did): dead-letter it. */
  onGiveUp(delivery: D, error: unknown, attempts: number): void | Promise<void>;
  /** One attempt failed (metrics, logs). */
  onAttemptFailed?(delivery: D, error: unknown, attempt: number, durationMs: number): void;
  /**
   * A delivery has left the lanes (acknowledged, given up, or the aborted attempt of a deleted
   * session settled), so `size` is already lower: a backend with bounded queues admits waiting
   * publishes here. Not called for deliveries `abortSession` / `removeQueued` / `stop` return.
   */
  onDone?(delivery: D): void;
  /** Delay before the attempt after `failedAttempts` failures. */
  retryDelayMs(failedAttempts: number): number;
  /**
   * The envelope an attempt's handler gets (default: the delivery's, with `retryCount` set). A
   * backend without a wire (memory) decodes a fresh copy here, so a handler that changes its
   * envelope's objects changes nothing for other groups, later attempts or the dead letter.
   */
  envelopeFor?(delivery: D, attempt: number): MessageEnvelope;
  /** A hook above threw; the lane goes on (the backend's redelivery covers a lost ack). */
  onHookError?(error: unknown, delivery: D): void;
}

interface Lane<D> {
  readonly key: string;
  readonly queue: Deque<D>;
  /** An attempt runs or waits for its retry. */
  busy: boolean;
  context?: AttemptContext;
  retryTimer?: NodeJS.Timeout;
  abandoned: boolean;
}

type AttemptResult = { ok: true } | { ok: false; error: unknown };

export interface LaneStats {
  /** Pushed, not started. */
  queued: number;
  /** Attempts running now. */
  running: number;
  /** Deliveries waiting for their retry. */
  retrying: number;
}

export class SessionLanes<D extends LaneDelivery> {
  private readonly lanes = new Map<string, Lane<D>>();
  private readonly ready = new Deque<Lane<D>>();
  private queuedCount = 0;
  private runningCount = 0;
  private retryingCount = 0;
  private pumpScheduled = false;
  private stopped = false;
  private readonly settledWaiters: Array<() => void> = [];
  /** Attempts with a deadline; one ticker checks them instead of a timer per attempt. */
  private readonly watched = new Set<RunningAttempt>();
  private ticker: NodeJS.Timeout | undefined;
  private tickMs = Number.POSITIVE_INFINITY;

  constructor(private readonly hooks: SessionLanesHooks<D>) {}

  get stats(): LaneStats {
    return { queued: this.queuedCount, running: this.runningCount, retrying: this.retryingCount };
  }

  /** Sessions with deliveries not yet finished (each has a lane; an idle session has none). */
  get sessions(): number {
    return this.lanes.size;
  }

  /** How often handler deadlines are checked now (ms); undefined when no attempt has one. */
  get deadlineCheckMs(): number | undefined {
    return this.ticker ? this.tickMs : undefined;
  }

  /** Deliveries not yet finished: queued, running or waiting for a retry. */
  get size(): number {
    return this.queuedCount + this.runningCount + this.retryingCount;
  }

  push(delivery: D): void {
    if (this.stopped) return;
    const key = delivery.envelope.sessionId;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { key, queue: new Deque<D>(), busy: false, abandoned: false };
      this.lanes.set(key, lane);
    }
    lane.queue.push(delivery);
    this.queuedCount++;
    if (!lane.busy && lane.queue.length === 1) {
      this.ready.push(lane);
      this.schedulePump();
    }
  }

  /** Starts what capacity allows; call again when a consumer arrives or capacity grows. */
  pump(): void {
    this.pumpScheduled = false;
    if (this.stopped) return;
    const capacity = this.hooks.capacity();
    while (this.runningCount < capacity && this.ready.length > 0) {
      const consumer = this.hooks.pickConsumer();
      if (!consumer) return;
      const lane = this.ready.shift() as Lane<D>;
      if (lane.abandoned || lane.busy || lane.queue.length === 0) continue;
      this.queuedCount--;
      this.startAttempt(lane, consumer);
    }
  }

  /**
   * Drops a session: its queued deliveries are removed and returned, its running attempt is aborted
   * (its outcome ignored), its retry timer cleared.
   */
  abortSession(sessionId: string): D[] {
    const lane = this.lanes.get(sessionId);
    if (!lane) return [];
    return this.abandonLane(lane);
  }

  /** Removes queued (not started) deliveries matching `drop`; returns them. */
  removeQueued(drop: (delivery: D) => boolean): D[] {
    const removed: D[] = [];
    for (const lane of this.lanes.values()) {
      const head = lane.busy ? lane.queue.shift() : undefined;
      const out = lane.queue.retain((d) => !drop(d));
      if (head !== undefined) lane.queue.unshift(head);
      this.queuedCount -= out.length;
      removed.push(...out);
      // An idle lane left empty must go, or every session ever trimmed would keep one.
      if (!lane.busy && lane.queue.length === 0) this.lanes.delete(lane.key);
    }
    return removed;
  }

  /**
   * Stops dispatching, aborts running attempts and waits up to `timeoutMs` for them to settle.
   * An attempt that still succeeds is acknowledged; one that fails is neither retried nor
   * dead-lettered (a persistent backend redelivers it). Returns the deliveries never finished.
   * With `abort: false` running attempts are left to finish on their own and nothing waits for them
   * (a handler may be the one stopping its own lanes, by unsubscribing).
   */
  async stop(timeoutMs: number, options: { abort?: boolean } = {}): Promise<D[]> {
    const abort = options.abort ?? true;
    this.stopped = true;
    for (const lane of this.lanes.values()) {
      if (lane.retryTimer) {
        clearTimeout(lane.retryTimer);
        lane.retryTimer = undefined;
        this.retryingCount--;
      }
      if (abort) lane.context?.abort(new BusClosedError('delivery'));
    }
    if (abort && this.runningCount > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.settledWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const unfinished: D[] = [];
    for (const lane of this.lanes.values()) for (const d of lane.queue) unfinished.push(d);
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.watched.clear();
    this.lanes.clear();
    this.queuedCount = 0;
    return unfinished;
  }

  private abandonLane(lane: Lane<D>): D[] {
    lane.abandoned = true;
    this.lanes.delete(lane.key);
    if (lane.retryTimer) {
      clearTimeout(lane.retryTimer);
      lane.retryTimer = undefined;
      this.retryingCount--;
    }
    lane.context?.abort(new BusClosedError('delivery of a deleted session'));
    const items = lane.queue.drain();
    this.queuedCount -= lane.busy ? Math.max(0, items.length - 1) : items.length;
    return items;
  }

  /**
   * Handler timeouts fire from a shared ticker running every tenth of the shortest timeout (1 ms at
   * least), so an attempt fails between `handlerTimeoutMs` and 1.1x that after it started.
   */
  private watchDeadline(attempt: RunningAttempt, timeoutMs: number): void {
    this.watched.add(attempt);
    const tickMs = Math.max(1, Math.floor(timeoutMs / 10));
    if (this.ticker && tickMs >= this.tickMs) return;
    if (this.ticker) clearInterval(this.ticker);
    this.tickMs = tickMs;
    this.ticker = setInterval(() => this.checkDeadlines(), tickMs);
  }

  private checkDeadlines(): void {
    const now = performance.now();
    let shortest = Number.POSITIVE_INFINITY;
    for (const attempt of this.watched) {
      if (attempt.isSettled) this.watched.delete(attempt);
      else if (attempt.deadline <= now) {
        this.watched.delete(attempt);
        attempt.timeOut();
      } else if (attempt.timeoutMs < shortest) shortest = attempt.timeoutMs;
    }
    if (!this.ticker) return;
    if (this.watched.size === 0) {
      clearInterval(this.ticker);
      this.ticker = undefined;
      this.tickMs = Number.POSITIVE_INFINITY;
      return;
    }
    // The short timeouts are gone: tick at the pace of the shortest one left, not 1000 times a second.
    const tickMs = Math.max(1, Math.floor(shortest / 10));
    if (tickMs > this.tickMs) {
      clearInterval(this.ticker);
      this.tickMs = tickMs;
      this.ticker = setInterval(() => this.checkDeadlines(), tickMs);
    }
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  private startAttempt(lane: Lane<D>, consumer: LaneConsumer): void {
    const delivery = lane.queue.peek() as D;
    lane.busy = true;
    this.runningCount++;
    const attempt = delivery.attemptsMade + 1;
    const context = new AttemptContext(attempt, consumer.group, consumer.subscriptionId);
    lane.context = context;
    const envelope = this.hooks.envelopeFor
      ? this.hooks.envelopeFor(delivery, attempt)
      : delivery.envelope.retryCount === attempt - 1
        ? delivery.envelope
        : { ...delivery.envelope, retryCount: attempt - 1 };
    const startedAt = performance.now();
    const timeoutMs = consumer.handlerTimeoutMs;
    const running = new RunningAttempt(timeoutMs > 0 ? startedAt + timeoutMs : Number.POSITIVE_INFINITY, timeoutMs, context);
    if (timeoutMs > 0) this.watchDeadline(running, timeoutMs);
    running.run(consumer, envelope);
    running.done.then((result) => {
      this.watched.delete(running);
      return this.finishAttempt(lane, delivery, attempt, result, performance.now() - startedAt);
    });
  }

  private async finishAttempt(lane: Lane<D>, delivery: D, attempt: number, result: AttemptResult, durationMs: number): Promise<void> {
    lane.context = undefined;
    delivery.attemptsMade = attempt;
    if (lane.abandoned) {
      this.attemptSettled();
      this.callDone(delivery);
      return;
    }
    if (result.ok) {
      await this.callHook(() => this.hooks.onSuccess(delivery, durationMs), delivery);
      this.completeHead(lane);
      this.callDone(delivery);
      return;
    }
    if (delivery.firstFailedAt === undefined) delivery.firstFailedAt = Date.now() / 1000;
    if (this.hooks.onAttemptFailed) {
      try {
        this.hooks.onAttemptFailed(delivery, result.error, attempt, durationMs);
      } catch (error) {
        // Metrics or logging failed; the retry (or giving up) must still happen.
        this.hooks.onHookError?.(error, delivery);
      }
    }
    if (this.stopped) {
      this.attemptSettled();
      return;
    }
    const attemptsAllowed =
      delivery.envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE ? 1 : delivery.envelope.maxRetries + 1;
    if (attempt >= attemptsAllowed) {
      await this.callHook(() => this.hooks.onGiveUp(delivery, result.error, attempt), delivery);
      this.completeHead(lane);
      this.callDone(delivery);
      return;
    }
    this.runningCount--;
    this.retryingCount++;
    lane.retryTimer = setTimeout(() => {
      lane.retryTimer = undefined;
      this.retryingCount--;
      if (lane.abandoned || this.stopped) return;
      lane.busy = false;
      this.queuedCount++;
      this.ready.push(lane);
      this.pump();
    }, this.hooks.retryDelayMs(attempt));
    this.notifySettled();
    this.schedulePump();
  }

  private completeHead(lane: Lane<D>): void {
    this.runningCount--;
    lane.busy = false;
    if (!lane.abandoned) {
      lane.queue.shift();
      if (lane.queue.length > 0) this.ready.push(lane);
      else this.lanes.delete(lane.key);
    }
    this.notifySettled();
    if (!this.stopped) this.pump();
  }

  private attemptSettled(): void {
    this.runningCount--;
    this.notifySettled();
    this.schedulePump();
  }

  private notifySettled(): void {
    if (this.runningCount === 0 && this.settledWaiters.length > 0) {
      for (const wake of this.settledWaiters.splice(0)) wake();
    }
  }

  private callDone(delivery: D): void {
    if (!this.hooks.onDone) return;
    try {
      this.hooks.onDone(delivery);
    } catch (error) {
      this.hooks.onHookError?.(error, delivery);
    }
  }

  private async callHook(fn: () => void | Promise<void>, delivery: D): Promise<void> {
    try {
      await fn();
    } catch (error) {
      this.hooks.onHookError?.(error, delivery);
    }
  }
}


/**
 * The handler's `DeliveryContext`. Its `AbortController` is made only when the handler reads
 * `signal` (most never do; making one per delivery cost a sixth of the memory bus's time).
 */
class AttemptContext implements DeliveryContext {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;

  constructor(
    readonly attempt: number,
    readonly group: string,
    readonly subscriptionId: string,
  ) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }
}

const OK: AttemptResult = { ok: true };

/** One running attempt. Resolves (never rejects) with its outcome; `timeOut()` fails it early. */
class RunningAttempt {
  readonly done: Promise<AttemptResult>;
  private resolve!: (result: AttemptResult) => void;
  private settled = false;

  constructor(
    readonly deadline: number,
    readonly timeoutMs: number,
    private readonly context: AttemptContext,
  ) {
    this.done = new Promise<AttemptResult>((resolve) => (this.resolve = resolve));
  }

  get isSettled(): boolean {
    return this.settled;
  }

  run(consumer: LaneConsumer, envelope: MessageEnvelope): void {
    try {
      const returned = consumer.handler(envelope, this.context);
      if (returned !== null && typeof returned === 'object' && typeof (returned as PromiseLike<unknown>).then === 'function') {
        (returned as PromiseLike<unknown>).then(
          () => this.settle(OK),
          (error: unknown) => this.settle({ ok: false, error }),
        );
      } else {
        this.settle(OK);
      }
    } catch (error) {
      this.settle({ ok: false, error });
    }
  }

  timeOut(): void {
    if (this.settled) return;
    const error = new HandlerTimeoutError(this.timeoutMs);
    this.context.abort(error);
    this.settle({ ok: false, error });
  }

  private settle(result: AttemptResult): void {
    if (this.settled) return;
    this.settled = true;
    this.resolve(result);
  }
}
