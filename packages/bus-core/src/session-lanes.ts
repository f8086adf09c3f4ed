/**
 * Session lanes: the delivery engine every backend shares. It keeps the contract's ordering, retry
 * and settling rules in one place (the hooks and their rules are documented in lane-types.ts):
 * - one session's deliveries run one at a time, in push order (or position order, with
 *   `comparePositions`); the next starts only after the previous has settled: succeeded and been
 *   acknowledged (an `at_most_once` one: acknowledged before its handler, then its handler ended),
 *   or been dead-lettered;
 * - different sessions run in parallel, each consumer (replica) running at most its `concurrency`;
 * - a failed attempt waits its backoff holding only its own session (its slot is freed meanwhile);
 * - attempts = maxRetries + 1 (`at_most_once`: one), counted as handler starts; an
 *   `UnrecoverableError` dead-letters at once; a delivery pushed with every attempt used is
 *   dead-lettered without running;
 * - a settling hook (acknowledge, dead-letter, attempt start) that fails holds its lane and is
 *   retried with the backoff; observers' throws are ignored;
 * - the handler sees `retryCount = attempt - 1` and an `AbortSignal` that fires on timeout, on
 *   `abortSession` (`SessionDeletedError`), on a lost lease (`LeaseLostError`) and on `stop`.
 *
 * This file dispatches and keeps the lanes; the jobs around it have their own modules: the settling
 * hooks before and after a handler (lane-settling.ts), the lane and delivery state and its counts
 * (lane-table.ts), consumers and their slots (lane-consumers.ts), lease renewal (lane-leases.ts),
 * one handler attempt and its deadline (attempt-runner.ts).
 */
import { DeadlineTicker, RunningAttempt, type AttemptResult } from './attempt-runner.js';
import { Deque } from './deque.js';
import { scheduleDuePump } from './due-pumps.js';
import { FirstEntryMap } from './first-entry-map.js';
import { DictionaryTable } from './dictionary-table.js';
import { LaneCounts, deliveriesOf, findHeld, insertByPosition, newHeld, newLane, oldestHeadTimestamp, type Held, type Lane, type Phase } from './lane-table.js';
import { MessageDeliveryMode, type MessageEnvelope } from './envelope.js';
import { BusClosedError, LeaseLostError, SessionDeletedError, isUnrecoverable } from './errors.js';
import { LaneConsumers, type ConsumerSlot } from './lane-consumers.js';
import { LaneSettler, attemptsAllowed, isThenable } from './lane-settling.js';
import { SettlerAccess } from './lane-settler-access.js';
import { LeaseRenewer } from './lane-leases.js';
import type {
  LaneConsumer,
  LaneDelivery,
  LaneObserver,
  LaneStats,
  SessionLanesHooks,
  SessionLanesOptions,
} from './lane-types.js';

export type * from './lane-types.js';

/** Attempts one `pump` call starts before it yields to the next microtask. */
const PUMP_BUDGET = 256;

export class SessionLanes<D extends LaneDelivery> {
  /** By session; most groups run one session at a time, so its lane sits in fields (first-entry-map.ts). */
  private readonly lanes = new FirstEntryMap<string, Lane<D>>();
  private readonly ready = new Deque<Lane<D>>();
  /**
   * The last lane emptied, kept for the next new session: a group taking one message at a time
   * would otherwise make a lane, its queue and the queue's array for every message (issue 11).
   * Only a lane nothing refers to any more: not abandoned, no entry left in `ready`.
   */
  private spareLane: Lane<D> | undefined;
  private readonly consumers = new LaneConsumers();
  /**
   * Held deliveries by `deliveryId` (made on the first delivery that has one: memory's have none).
   * A key set and deleted per delivery, so not a `Map` (dictionary-table.ts: its replaced tables made
   * the young collections promote the deliveries held at that moment).
   */
  private byId: DictionaryTable<Held<D>> | undefined;
  /** Made on the first attempt that must be watched (a handler returning a promise, with a timeout). */
  private deadlineTicker: DeadlineTicker | undefined;
  private readonly renewer: LeaseRenewer<D> | undefined;
  private readonly counts = new LaneCounts();
  private readonly settler: LaneSettler<D>;
  /** Settling hooks whose promise has not settled: `stop` waits for them as for running attempts. */
  private settlesInFlight = 0;
  private pumpScheduled = false;
  private pumping = false;
  private pumpAgain = false;
  private stopped = false;
  /** Made by `stop` (the only one that waits for attempts to settle). */
  private settledWaiters: Array<() => void> | undefined;

  constructor(
    private readonly hooks: SessionLanesHooks<D>,
    private readonly observer: LaneObserver<D> = {},
    options?: SessionLanesOptions,
  ) {
    this.settler = new SettlerAccess(this);
    const leaseMs = options?.leaseMs ?? 0;
    if (hooks.renew && leaseMs > 0) {
      const renew = hooks.renew.bind(hooks);
      this.renewer = new LeaseRenewer<D>(Math.max(1, Math.floor(leaseMs / 3)), {
        renew,
        held: () => this.heldDeliveries(),
        lost: (lost) => this.leaseLost(lost),
        failed: (error, batch) => this.safely(() => this.observer.renewFailed?.(error, batch)),
      });
    }
  }

  get stats(): LaneStats {
    return this.counts.stats();
  }

  /** Sessions with deliveries not yet finished (each has a lane; an idle session has none). */
  get sessions(): number {
    return this.lanes.size;
  }

  /** Deliveries not yet finished: queued, running, waiting for a retry or settling. */
  get size(): number {
    return this.counts.held;
  }

  /**
   * The smallest envelope `timestamp` (seconds) among the lanes' heads, or undefined when no lane
   * holds anything. A head is its session's oldest delivery, so this is one look per session.
   */
  oldestTimestamp(): number | undefined {
    return oldestHeadTimestamp(this.lanes.values());
  }

  /** Adds a consumer; it takes deliveries from the next turn on. */
  attach(consumer: LaneConsumer): void {
    this.consumers.attach(consumer);
    this.schedulePump();
  }

  /** Takes a consumer out: it gets no new attempt; those it runs finish. False when unknown. */
  detach(subscriptionId: string): boolean {
    return this.consumers.detach(subscriptionId);
  }

  /** Attached consumers. */
  get consumerCount(): number {
    return this.consumers.size;
  }

  /** The delivery held with `deliveryId` (queued, running, waiting for a retry or settling), if any. */
  holding(deliveryId: string): D | undefined {
    return this.byId?.get(deliveryId)?.delivery;
  }

  /**
   * Takes a delivery. Returns false when it was not added: the lanes are stopped, or they already
   * hold a delivery with its `deliveryId` (whose `attemptsMade` is raised to the pushed count).
   */
  push(delivery: D): boolean {
    if (this.stopped) return false;
    const id = delivery.deliveryId;
    if (id !== undefined) {
      const existing = this.byId?.get(id);
      if (existing) {
        if (delivery.attemptsMade > existing.delivery.attemptsMade) existing.delivery.attemptsMade = delivery.attemptsMade;
        return false;
      }
    }
    const held = newHeld(delivery);
    if (id !== undefined) (this.byId ??= new DictionaryTable()).set(id, held);
    this.counts.held++;
    this.renewer?.ensureRunning();
    const key = delivery.envelope.sessionId;
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = this.spareLane ?? newLane<D>(key);
      this.spareLane = undefined;
      lane.key = key;
      this.lanes.set(key, lane);
    }
    if (lane.queue.length === 0) {
      lane.queue.push(held);
      this.makeReady(lane);
    } else if (this.hooks.comparePositions) {
      const overtaken = insertByPosition(lane, held, this.hooks.comparePositions);
      if (overtaken !== undefined) this.safely(() => this.observer.outOfOrder?.(delivery, overtaken));
    } else {
      lane.queue.push(held);
    }
    return true;
  }

  /**
   * Starts what free consumer slots allow. Attempts that end at once (sync handlers and hooks) free
   * their slot and ready their lane's next delivery within the same call; after `PUMP_BUDGET`
   * starts the rest goes to the next microtask, so a busy group cannot hold the turn for long.
   */
  pump(): void {
    this.pumpScheduled = false;
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    let budget = PUMP_BUDGET;
    try {
      do {
        this.pumpAgain = false;
        budget = this.pumpOnce(budget);
      } while (this.pumpAgain && budget > 0);
    } finally {
      this.pumping = false;
    }
    if (budget <= 0) this.schedulePump();
  }

  /**
   * Drops a session: its deliveries are removed and returned (the running one too), its running
   * attempt is aborted with `SessionDeletedError` (its outcome ignored), its waits cancelled.
   */
  abortSession(sessionId: string): D[] {
    const lane = this.lanes.get(sessionId);
    if (!lane) return [];
    this.lanes.delete(sessionId);
    lane.attempt?.context.abort(new SessionDeletedError(sessionId));
    return this.abandon(lane);
  }

  /**
   * Stops dispatching, aborts running attempts and waits up to `timeoutMs` for them (and settling
   * hooks in flight) to settle. An attempt that still succeeds is acknowledged (once, not retried);
   * one that fails is neither retried nor dead-lettered (a persistent backend redelivers it).
   * Returns the deliveries never finished. With `abort: false` running attempts are left to finish
   * on their own and nothing waits for them (a handler may be the one stopping its own lanes).
   */
  async stop(timeoutMs: number, options: { abort?: boolean } = {}): Promise<D[]> {
    const abort = options.abort ?? true;
    this.stopped = true;
    this.renewer?.stop();
    for (const lane of this.lanes.values()) {
      if (lane.timer) {
        this.cancelWait(lane);
        this.setPhase(lane, 'none');
      }
      if (abort) lane.attempt?.context.abort(new BusClosedError('delivery'));
    }
    if (abort && this.counts.running + this.settlesInFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        (this.settledWaiters ??= []).push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    const unfinished: D[] = [];
    // Attempts still running (abort: false, or past the timeout) end in abandoned lanes: nothing
    // is acknowledged or retried after this.
    for (const lane of this.lanes.values()) unfinished.push(...this.abandon(lane));
    this.deadlineTicker?.clear();
    this.lanes.clear();
    this.byId?.clear();
    return unfinished;
  }

  /**
   * Empties a lane for good and returns its deliveries. An attempt or hook in flight still counts
   * (in `size` and in its phase) until it ends; its end is then ignored.
   */
  private abandon(lane: Lane<D>): D[] {
    lane.abandoned = true;
    const inFlight = this.isInFlight(lane);
    this.cancelWait(lane);
    const items = lane.queue.drain();
    for (const held of items) {
      this.forgetId(held.delivery);
      this.clearFailing(held);
    }
    if (inFlight) {
      this.counts.held -= items.length - 1;
    } else {
      this.setPhase(lane, 'none');
      this.counts.held -= items.length;
    }
    return items.map((h) => h.delivery);
  }

  // ---- dispatch ----

  /** Starts ready heads while slots and `budget` last; returns the budget left. */
  private pumpOnce(budget: number): number {
    if (this.stopped) return budget;
    while (this.ready.length > 0) {
      if (budget <= 0) return 0;
      const lane = this.ready.peek() as Lane<D>;
      const head = lane.queue.peek();
      if (lane.abandoned || lane.phase !== 'ready' || head === undefined) {
        this.shiftReady(lane);
        continue;
      }
      if (head.begun === undefined && this.attemptsLeft(head.delivery) <= 0) {
        this.shiftReady(lane);
        this.settler.giveUpUnstarted(lane, head);
        continue;
      }
      const slot = this.consumers.take();
      if (!slot) return budget;
      this.shiftReady(lane);
      budget--;
      this.runHead(lane, head, slot);
    }
    return budget;
  }

  /** Takes `lane`, the ready queue's front, off it. */
  private shiftReady(lane: Lane<D>): void {
    this.ready.shift();
    lane.readyEntries--;
  }

  private makeReady(lane: Lane<D>): void {
    const head = lane.queue.peek() as Held<D>;
    if (head.begun === undefined && this.attemptsLeft(head.delivery) <= 0) {
      this.settler.giveUpUnstarted(lane, head);
      return;
    }
    this.setPhase(lane, 'ready');
    this.ready.push(lane);
    lane.readyEntries++;
    if (this.pumping) this.pumpAgain = true;
    else this.schedulePump();
  }

  /**
   * The start hooks (lane-settling.ts), then the handler; then what its outcome asks. When the hooks
   * and the handler return no promise (memory's sync handlers) all of it happens here, in this turn:
   * no promise, no deadline watch, and the lane's next delivery can start in the same pump.
   */
  private runHead(lane: Lane<D>, held: Held<D>, slot: ConsumerSlot): void {
    held.started = true;
    this.setPhase(lane, 'starting');
    const delivery = held.delivery;
    if (held.begun === undefined && this.hooks.beginAttempt === undefined && delivery.envelope.deliveryMode !== MessageDeliveryMode.AT_MOST_ONCE) {
      // No start hook (memory): counted as the settler's `start` would, without reaching it (issue 11).
      const attempt = delivery.attemptsMade + 1;
      held.begun = attempt;
      delivery.attemptsMade = attempt;
      this.counts.clearFailing(held);
      this.runStarted(lane, held, slot);
      return;
    }
    const started = this.settler.start(lane, held, slot);
    if (started === true) this.runStarted(lane, held, slot);
    else if (started !== false) void started.then((ok) => ok && this.runStarted(lane, held, slot));
  }

  private runStarted(lane: Lane<D>, held: Held<D>, slot: ConsumerSlot): void {
    const attempt = held.begun as number;
    held.begun = undefined;
    const consumer = slot.consumer;
    const delivery = held.delivery;
    const startedAt = performance.now();
    this.setPhase(lane, 'running');
    let envelope: MessageEnvelope;
    try {
      envelope = this.hooks.envelopeFor
        ? this.hooks.envelopeFor(delivery, attempt)
        : delivery.envelope.retryCount === attempt - 1
          ? delivery.envelope
          : { ...delivery.envelope, retryCount: attempt - 1 };
    } catch (error) {
      // The handler never saw it, but the start is counted: a broken decode must not loop forever.
      this.endAttempt(lane, held, attempt, slot, { ok: false, error }, startedAt);
      return;
    }
    const running = new RunningAttempt(consumer, attempt, startedAt);
    lane.attempt = running;
    running.run(envelope);
    const result = running.result;
    if (result !== undefined) {
      // Returned (or threw) without a promise: no timer could have fired meanwhile.
      lane.attempt = undefined;
      this.endAttempt(lane, held, attempt, slot, result, startedAt);
      return;
    }
    if (consumer.handlerTimeoutMs > 0) this.deadlines.watch(running);
    void running.done.then((outcome) => {
      lane.attempt = undefined;
      this.deadlineTicker?.forget(running);
      this.endAttempt(lane, held, attempt, slot, outcome, startedAt);
    });
  }

  private endAttempt(lane: Lane<D>, held: Held<D>, attempt: number, slot: ConsumerSlot, result: AttemptResult, startedAt: number): void {
    this.freeSlot(slot);
    this.afterAttempt(lane, held, attempt, result, performance.now() - startedAt, slot.consumer);
    if (this.settledWaiters !== undefined && this.settledWaiters.length > 0) this.notifySettled();
  }

  private afterAttempt(lane: Lane<D>, held: Held<D>, attempt: number, result: AttemptResult, durationMs: number, consumer: LaneConsumer): void {
    const delivery = held.delivery;
    if (lane.abandoned || held.lost) {
      this.endInterrupted(lane, held);
      return;
    }
    if (result.ok) {
      this.counts.observeHandled(this.observer, delivery, durationMs, consumer);
      if (held.acked) this.completeHead(lane, held);
      else this.acknowledgeHandled(lane, held);
      return;
    }
    if (delivery.firstFailedAt === undefined) delivery.firstFailedAt = Date.now() / 1000;
    const error = result.error;
    this.safely(() => this.observer.attemptFailed?.(delivery, error, attempt, durationMs));
    if (this.stopped) {
      this.endInterrupted(lane, held);
      return;
    }
    const unrecoverable = isUnrecoverable(error);
    if (unrecoverable || attempt >= attemptsAllowed(delivery)) {
      held.failure = { error, attempts: attempt, reason: unrecoverable ? 'unrecoverable' : 'exhausted' };
      this.settler.settle(lane, held);
      return;
    }
    this.wait(lane, 'retrying', this.hooks.retryDelayMs(attempt), () => this.makeReady(lane));
  }

  /**
   * The settler's `settle` of a handled head: a sync acknowledgement completes it here (memory,
   * without reaching the settler: issue 11); a promise or a throw goes to the settler.
   */
  private acknowledgeHandled(lane: Lane<D>, held: Held<D>): void {
    this.setPhase(lane, 'settling');
    let returned: void | Promise<void>;
    try {
      returned = this.hooks.acknowledge(held.delivery, 'handled');
    } catch (error) {
      this.settler.settleFailed(lane, held, 'acknowledge', error);
      return;
    }
    if (isThenable(returned)) {
      this.settler.hookReturned(lane, held, 'acknowledge', returned);
      return;
    }
    this.counts.clearFailing(held);
    held.failures = 0;
    held.acked = true;
    if (lane.abandoned || held.lost) this.endInterrupted(lane, held);
    else this.completeHead(lane, held);
  }

  private completeHead(lane: Lane<D>, held: Held<D>): void {
    this.clearFailing(held);
    lane.queue.shift();
    this.forgetId(held.delivery);
    this.counts.held--;
    this.setPhase(lane, 'none');
    this.counts.observeLeft(this.observer, held.delivery);
    this.advance(lane);
  }

  /** The head's session was deleted, its lease lost, or the lanes stopped while it was in flight. */
  private endInterrupted(lane: Lane<D>, held: Held<D>): void {
    this.clearFailing(held);
    if (lane.abandoned) {
      this.counts.held--;
      this.setPhase(lane, 'none');
      this.counts.observeLeft(this.observer, held.delivery);
      return;
    }
    if (held.lost) {
      this.dropHead(lane, held);
      return;
    }
    // Stopped: it stays in its lane, and `stop` returns it as unfinished.
    this.setPhase(lane, 'none');
  }

  private dropHead(lane: Lane<D>, held: Held<D>): void {
    lane.queue.shift();
    this.forgetId(held.delivery);
    this.counts.held--;
    this.setPhase(lane, 'none');
    this.counts.observeLeft(this.observer, held.delivery);
    this.advance(lane);
  }

  /** The delivery left the lanes: no longer found by its id. */
  private forgetId(delivery: D): void {
    if (delivery.deliveryId !== undefined) this.byId?.delete(delivery.deliveryId);
  }

  private advance(lane: Lane<D>): void {
    if (this.stopped || lane.abandoned) return;
    if (lane.queue.length > 0) this.makeReady(lane);
    else if (this.lanes.get(lane.key) === lane) {
      this.lanes.delete(lane.key);
      if (lane.readyEntries === 0 && lane.phase === 'none') this.spareLane = lane;
    }
  }

  // ---- leases and positions ----

  private heldDeliveries(): D[] {
    return deliveriesOf(this.lanes.values());
  }

  /** The server gave these to another consumer: drop each without acknowledging it. */
  private leaseLost(lost: readonly D[]): void {
    for (const delivery of lost) {
      const lane = this.lanes.get(delivery.envelope.sessionId);
      if (!lane) continue;
      const at = findHeld(lane, delivery);
      if (!at || at.held.lost) continue;
      const { held: found, index } = at;
      found.lost = true;
      this.safely(() => this.observer.leaseLost?.(delivery));
      if (index > 0) {
        lane.queue.retain((h) => h !== found);
        this.forgetId(delivery);
        this.counts.held--;
        this.counts.observeLeft(this.observer, delivery);
        continue;
      }
      if (lane.attempt) {
        lane.attempt.context.abort(new LeaseLostError(delivery.deliveryId));
        continue; // the attempt's end drops it
      }
      if (this.isInFlight(lane)) continue; // a hook's end drops it
      this.cancelWait(lane);
      this.dropHead(lane, found);
    }
  }

  // ---- bookkeeping ----

  private wait(lane: Lane<D>, phase: 'retrying' | 'settling', delayMs: number, then: () => void): void {
    this.setPhase(lane, phase);
    lane.timer = setTimeout(() => {
      lane.timer = undefined;
      if (lane.abandoned || this.stopped) return;
      then();
    }, delayMs);
  }

  private cancelWait(lane: Lane<D>): void {
    if (!lane.timer) return;
    clearTimeout(lane.timer);
    lane.timer = undefined;
  }

  /** An attempt runs, or a hook's promise is pending, for the lane's head. */
  private isInFlight(lane: Lane<D>): boolean {
    return lane.phase === 'starting' || lane.phase === 'running' || (lane.phase === 'settling' && lane.timer === undefined);
  }

  private interrupted(lane: Lane<D>, held: Held<D>): boolean {
    return lane.abandoned || held.lost || this.stopped;
  }

  private setPhase(lane: Lane<D>, phase: Phase): void {
    this.counts.setPhase(lane, phase);
  }

  private freeSlot(slot: ConsumerSlot): void {
    slot.running--;
    // `stop` may be waiting: check once the slot's next state (settling, retrying, unfinished) is set.
    if (this.settledWaiters !== undefined && this.settledWaiters.length > 0) queueMicrotask(() => this.notifySettled());
    if (slot.attached && !this.stopped) {
      if (this.pumping) this.pumpAgain = true;
      else if (this.ready.length > 0) this.schedulePump();
    }
  }

  private clearFailing(held: Held<D>): void {
    this.counts.clearFailing(held);
  }

  private settleEnded(): void {
    this.settlesInFlight--;
    if (this.settledWaiters !== undefined && this.settledWaiters.length > 0) this.notifySettled();
  }

  private notifySettled(): void {
    if (this.settledWaiters && this.counts.running + this.settlesInFlight === 0) for (const wake of this.settledWaiters.splice(0)) wake();
  }

  private attemptsLeft(delivery: D): number {
    return attemptsAllowed(delivery) - delivery.attemptsMade;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    scheduleDuePump(this);
  }

  /** Handler timeouts (made when first needed). */
  private get deadlines(): DeadlineTicker {
    return (this.deadlineTicker ??= new DeadlineTicker());
  }

  private settleStarted(): void {
    this.settlesInFlight++;
  }

  /** Runs an observer; its throw is counted and ignored. */
  private safely(observe: () => void): void {
    this.counts.safely(observe);
  }
}
