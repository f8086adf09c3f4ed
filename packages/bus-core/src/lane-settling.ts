/**
 * The settling hooks of a lane's head, the calls that change what the server holds: before its
 * handler, `beginAttempt` and (`at_most_once`) the acknowledgement; after it, writing its
 * dead-letter record, then acknowledging it. A step that fails holds the lane and is tried again
 * after the backoff; a step that succeeded is never repeated (a record is never written twice,
 * whatever fails after it). Observers hear of each step, and their throws change nothing.
 */
import { MessageDeliveryMode } from './envelope.js';
import { UnrecoverableError } from './errors.js';
import type { ConsumerSlot } from './lane-consumers.js';
import type { LaneCounts, Held, Lane, Phase } from './lane-table.js';
import type { AcknowledgeReason, LaneDelivery, LaneFailure, LaneObserver, SessionLanesHooks } from './lane-types.js';

/** What the settler needs of the lanes. */
export interface SettlerHost<D extends LaneDelivery> {
  readonly hooks: SessionLanesHooks<D>;
  readonly observer: LaneObserver<D>;
  readonly counts: LaneCounts;
  setPhase(lane: Lane<D>, phase: Phase): void;
  wait(lane: Lane<D>, phase: 'retrying' | 'settling', delayMs: number, then: () => void): void;
  completeHead(lane: Lane<D>, held: Held<D>): void;
  endInterrupted(lane: Lane<D>, held: Held<D>): void;
  interrupted(lane: Lane<D>, held: Held<D>): boolean;
  safely(observe: () => void): void;
  clearFailing(held: Held<D>): void;
  settleStarted(): void;
  settleEnded(): void;
  /** The consumer's slot is free again (its attempt did not start). */
  freeSlot(slot: ConsumerSlot): void;
  /** The lane's head may be started again (after a failed start's backoff). */
  makeReady(lane: Lane<D>): void;
}

export function attemptsAllowed(delivery: LaneDelivery): number {
  return delivery.envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE ? 1 : delivery.envelope.maxRetries + 1;
}

export class LaneSettler<D extends LaneDelivery> {
  private readonly lanes: SettlerHost<D>;

  /** Without `host`, the settler is its own host: a subclass implements `SettlerHost` (one object per lanes, not two). */
  constructor(host?: SettlerHost<D>) {
    this.lanes = host ?? (this as unknown as SettlerHost<D>);
  }

  /**
   * The hooks before a handler start: `beginAttempt` (once per attempt number; the start is counted
   * when it succeeded), then the acknowledgement of an `at_most_once` delivery. True (at once, or
   * through the promise when a hook was async) when the handler may run, with `held.begun` set to
   * the attempt's number. False when a hook failed (retried after the backoff: the lane is made
   * ready again) or the head was interrupted meanwhile; the consumer's slot is freed first then.
   * Synchronous when no hook returns a promise: memory's attempts cost no extra turn.
   */
  start(lane: Lane<D>, held: Held<D>, slot: ConsumerSlot): boolean | Promise<boolean> {
    const { hooks } = this.lanes;
    if (held.begun === undefined && hooks.beginAttempt) {
      const attempt = held.delivery.attemptsMade + 1;
      let returned: void | Promise<void>;
      try {
        returned = hooks.beginAttempt(held.delivery, attempt, slot.consumer);
      } catch (error) {
        return this.startFailed(lane, held, 'beginAttempt', error, slot);
      }
      if (isThenable(returned)) {
        return returned.then(
          () => this.begun(lane, held, attempt, slot) && this.acknowledgeAtMostOnce(lane, held, slot),
          (error: unknown) => this.startFailed(lane, held, 'beginAttempt', error, slot),
        );
      }
      if (!this.begun(lane, held, attempt, slot)) return false;
    } else if (held.begun === undefined) {
      this.begun(lane, held, held.delivery.attemptsMade + 1, slot);
    }
    return this.acknowledgeAtMostOnce(lane, held, slot);
  }

  /** `beginAttempt` succeeded (or there is none): the start counts. False when interrupted meanwhile. */
  private begun(lane: Lane<D>, held: Held<D>, attempt: number, slot: ConsumerSlot): boolean {
    if (this.lanes.hooks.beginAttempt && this.lanes.interrupted(lane, held)) {
      this.lanes.freeSlot(slot);
      this.lanes.endInterrupted(lane, held);
      return false;
    }
    held.begun = attempt;
    if (attempt > held.delivery.attemptsMade) held.delivery.attemptsMade = attempt;
    this.lanes.clearFailing(held);
    return true;
  }

  /** An `at_most_once` delivery is acknowledged before its handler runs: a crash then loses it, as promised. */
  private acknowledgeAtMostOnce(lane: Lane<D>, held: Held<D>, slot: ConsumerSlot): boolean | Promise<boolean> {
    if (held.delivery.envelope.deliveryMode !== MessageDeliveryMode.AT_MOST_ONCE || held.acked) return true;
    let returned: void | Promise<void>;
    try {
      returned = this.lanes.hooks.acknowledge(held.delivery, 'at-most-once');
    } catch (error) {
      return this.startFailed(lane, held, 'acknowledge', error, slot);
    }
    if (!isThenable(returned)) return this.acknowledgedAtMostOnce(lane, held, slot);
    return returned.then(
      () => this.acknowledgedAtMostOnce(lane, held, slot),
      (error: unknown) => this.startFailed(lane, held, 'acknowledge', error, slot),
    );
  }

  private acknowledgedAtMostOnce(lane: Lane<D>, held: Held<D>, slot: ConsumerSlot): boolean {
    held.acked = true;
    this.lanes.clearFailing(held);
    if (!this.lanes.interrupted(lane, held)) return true;
    this.lanes.freeSlot(slot);
    this.lanes.endInterrupted(lane, held);
    return false;
  }

  private startFailed(lane: Lane<D>, held: Held<D>, hook: 'beginAttempt' | 'acknowledge', error: unknown, slot: ConsumerSlot): false {
    this.lanes.freeSlot(slot);
    this.retryAfterFailure(lane, held, hook, error, 'retrying', () => this.lanes.makeReady(lane));
    return false;
  }

  /** A delivery pushed with every attempt used: dead-lettered without running (no slot needed). */
  giveUpUnstarted(lane: Lane<D>, held: Held<D>): void {
    const d = held.delivery;
    held.started = true;
    held.failure = {
      error: new UnrecoverableError(
        `every allowed attempt (${attemptsAllowed(d)}) was already started before this delivery arrived (${d.attemptsMade} made); a start whose process crashed or lost its lease counts`,
      ),
      attempts: d.attemptsMade,
      reason: 'exhausted-before-start',
    };
    this.settle(lane, held);
  }

  /**
   * The next settling step for the head: write its dead-letter record (if it failed), then
   * acknowledge it (unless done before its handler). Each step that succeeded is never repeated.
   */
  settle(lane: Lane<D>, held: Held<D>): void {
    this.lanes.setPhase(lane, 'settling');
    const writeRecord = held.failure !== undefined && !held.deadLettered;
    if (!writeRecord && held.acked) {
      this.lanes.completeHead(lane, held);
      return;
    }
    const hook = writeRecord ? 'deadLetter' : 'acknowledge';
    const reason: AcknowledgeReason = held.failure ? 'dead-lettered' : 'handled';
    let returned: void | Promise<void>;
    try {
      returned = writeRecord ? this.lanes.hooks.deadLetter(held.delivery, held.failure as LaneFailure) : this.lanes.hooks.acknowledge(held.delivery, reason);
    } catch (error) {
      this.settleFailed(lane, held, hook, error);
      return;
    }
    this.hookReturned(lane, held, hook, returned);
  }

  /** What a settling hook returned: settled now, or once its promise settles (a rejection is a failure). */
  hookReturned(lane: Lane<D>, held: Held<D>, hook: 'deadLetter' | 'acknowledge', returned: void | Promise<void>): void {
    if (!isThenable(returned)) {
      this.settled(lane, held, hook);
      return;
    }
    this.lanes.settleStarted();
    returned.then(
      () => {
        this.lanes.settleEnded();
        this.settled(lane, held, hook);
      },
      (error: unknown) => {
        this.lanes.settleEnded();
        this.settleFailed(lane, held, hook, error);
      },
    );
  }

  private settled(lane: Lane<D>, held: Held<D>, hook: 'deadLetter' | 'acknowledge'): void {
    this.lanes.clearFailing(held);
    held.failures = 0;
    if (hook === 'deadLetter') {
      held.deadLettered = true;
      const failure = held.failure as LaneFailure;
      this.lanes.safely(() => this.lanes.observer.deadLettered?.(held.delivery, failure));
      if (this.lanes.interrupted(lane, held)) this.lanes.endInterrupted(lane, held);
      else this.settle(lane, held);
      return;
    }
    held.acked = true;
    if (lane.abandoned || held.lost) this.lanes.endInterrupted(lane, held);
    else this.lanes.completeHead(lane, held);
  }

  /** A settling hook threw or rejected: reported, and called again after the backoff. */
  settleFailed(lane: Lane<D>, held: Held<D>, hook: 'deadLetter' | 'acknowledge', error: unknown): void {
    this.retryAfterFailure(lane, held, hook, error, 'settling', () => this.settle(lane, held));
  }

  /** A settling hook failed: reported, then tried again after the backoff, holding the lane. */
  retryAfterFailure(
    lane: Lane<D>,
    held: Held<D>,
    hook: 'deadLetter' | 'acknowledge' | 'beginAttempt',
    error: unknown,
    phase: 'retrying' | 'settling',
    again: () => void,
  ): void {
    held.failures++;
    this.lanes.counts.markFailing(held);
    const tries = held.failures;
    this.lanes.safely(() => this.lanes.observer.settleFailed?.(held.delivery, hook, error, tries));
    if (this.lanes.interrupted(lane, held)) {
      this.lanes.endInterrupted(lane, held);
      return;
    }
    this.lanes.wait(lane, phase, this.lanes.hooks.retryDelayMs(tries), again);
  }
}

export function isThenable(value: unknown): value is Promise<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as PromiseLike<unknown>).then === 'function';
}
