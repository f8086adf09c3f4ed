/**
 * One handler attempt: its `DeliveryContext` (with a lazily made `AbortSignal`), the call of the
 * handler turned into an outcome that never rejects, and the handler deadlines.
 */
import type { DeliveryContext } from './bus.js';
import type { MessageEnvelope } from './envelope.js';
import { HandlerTimeoutError } from './errors.js';
import type { LaneConsumer } from './lane-types.js';

export type AttemptResult = { ok: true } | { ok: false; error: unknown };

const OK: AttemptResult = { ok: true };

/**
 * The handler's `DeliveryContext`. Its `AbortController` is made only when the handler reads
 * `signal` (most never do; making one per delivery cost a sixth of the memory bus's time).
 */
export class AttemptContext implements DeliveryContext {
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

/**
 * One running attempt. `result` is its outcome once settled (at once when the handler returned no
 * promise); `done` resolves (never rejects) with it, and is made only when asked for, so a handler
 * that returns synchronously costs no promise. `timeOut()` fails it early.
 */
export class RunningAttempt {
  readonly context: AttemptContext;
  readonly deadline: number;
  /** The outcome, once settled. */
  result: AttemptResult | undefined;
  /** Its place in the `DeadlineTicker` watching it (-1: not watched). */
  watchSlot = -1;
  private donePromise: Promise<AttemptResult> | undefined;
  private resolve: ((result: AttemptResult) => void) | undefined;

  constructor(
    readonly consumer: LaneConsumer,
    attempt: number,
    startedAt: number,
  ) {
    this.context = new AttemptContext(attempt, consumer.group, consumer.subscriptionId);
    this.deadline = consumer.handlerTimeoutMs > 0 ? startedAt + consumer.handlerTimeoutMs : Number.POSITIVE_INFINITY;
  }

  /** Resolves with the outcome (never rejects). */
  get done(): Promise<AttemptResult> {
    if (!this.donePromise) {
      const settled = this.result;
      this.donePromise = settled ? Promise.resolve(settled) : new Promise<AttemptResult>((resolve) => (this.resolve = resolve));
    }
    return this.donePromise;
  }

  get isSettled(): boolean {
    return this.result !== undefined;
  }

  get timeoutMs(): number {
    return this.consumer.handlerTimeoutMs;
  }

  run(envelope: MessageEnvelope): void {
    try {
      const returned = this.consumer.handler(envelope, this.context);
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
    if (this.result !== undefined) return;
    const error = new HandlerTimeoutError(this.timeoutMs);
    this.context.abort(error);
    this.settle({ ok: false, error });
  }

  private settle(result: AttemptResult): void {
    if (this.result !== undefined) return;
    this.result = result;
    this.resolve?.(result);
  }
}

/**
 * Handler timeouts fire from one shared ticker running every tenth of the shortest timeout (1 ms at
 * least), so an attempt fails between `handlerTimeoutMs` and 1.1x that after it started.
 *
 * Kept over the simpler timer per attempt because it saves more than 5% of CPU per attempt
 * (bench/deadlines.mjs, SessionLanes with sync handlers, median of 7 interleaved rounds of 200,000
 * attempts, node 20 on this 2-core machine, 2026-12-04): 1,335 ns per attempt with the ticker vs
 * 1,718 ns with a setTimeout/clearTimeout pair per attempt at handlerTimeoutMs 30,000 (the timers
 * cost 28.6% more; the ticker saves 22%), and 1,132 vs 2,272 ns at 100 ms (the ticker saves 50%).
 */
export class DeadlineTicker {
  /**
   * The attempts watched, each knowing its slot (removal swaps the last one in). An array, not a
   * `Set`: an entry per attempt comes and goes, and a `Set`'s replaced tables would make the young
   * collections promote the running attempts (dictionary-table.ts).
   */
  private readonly watched: RunningAttempt[] = [];
  private ticker: NodeJS.Timeout | undefined;
  private tickMs = Number.POSITIVE_INFINITY;

  watch(attempt: RunningAttempt): void {
    if (attempt.watchSlot < 0) {
      attempt.watchSlot = this.watched.length;
      this.watched.push(attempt);
    }
    const tickMs = Math.max(1, Math.floor(attempt.timeoutMs / 10));
    if (this.ticker && tickMs >= this.tickMs) return;
    if (this.ticker) clearInterval(this.ticker);
    this.tickMs = tickMs;
    this.ticker = setInterval(() => this.check(), tickMs);
  }

  forget(attempt: RunningAttempt): void {
    const slot = attempt.watchSlot;
    if (slot < 0 || this.watched[slot] !== attempt) return;
    const last = this.watched.pop() as RunningAttempt;
    if (last !== attempt) {
      this.watched[slot] = last;
      last.watchSlot = slot;
    }
    attempt.watchSlot = -1;
  }

  clear(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.tickMs = Number.POSITIVE_INFINITY;
    for (const attempt of this.watched) attempt.watchSlot = -1;
    this.watched.length = 0;
  }

  private check(): void {
    const now = performance.now();
    let shortest = Number.POSITIVE_INFINITY;
    // From the end: forgetting an attempt moves the last one into its slot, already checked.
    for (let i = this.watched.length - 1; i >= 0; i--) {
      const attempt = this.watched[i];
      if (attempt === undefined) continue;
      if (attempt.isSettled) this.forget(attempt);
      else if (attempt.deadline <= now) {
        this.forget(attempt);
        attempt.timeOut();
      } else if (attempt.timeoutMs < shortest) shortest = attempt.timeoutMs;
    }
    if (!this.ticker) return;
    if (this.watched.length === 0) {
      this.clear();
      return;
    }
    // The short timeouts are gone: tick at the pace of the shortest one left, not 1000 times a second.
    const tickMs = Math.max(1, Math.floor(shortest / 10));
    if (tickMs > this.tickMs) {
      clearInterval(this.ticker);
      this.tickMs = tickMs;
      this.ticker = setInterval(() => this.check(), tickMs);
    }
  }
}
