/**
 * The consumer-group engine every backend composes: one subscriber group in this process, its
 * replicas, and core's `SessionLanes` running their handlers, with the contract's wiring done once
 * (replica choice, the subscribe gate, metrics, logs, retry backoff, dead-letter records, the base
 * of group health). A backend brings only what is its own: reading from its server, the settling
 * hooks that talk to it, and where a dead-letter record is stored.
 *
 * A backend composes it like this (memory-group.ts in bus-memory is the smallest example):
 * ```ts
 * const group = new ConsumerGroup<MyDelivery>({
 *   spec, metrics, logger, retry: options.retry, leaseMs,          // leaseMs only with `renew`
 *   hooks: {
 *     acknowledge: (d, reason) => server.ack(d),                   // SETTLING
 *     storeDeadLetter: (record, d) => store.add(record),           // SETTLING
 *     deadLetterCount: () => store.size,                           // for the metric
 *     sourceOf: (d) => ({ stream: 'events', id: d.deliveryId }),
 *     beginAttempt, renew, comparePositions, envelopeFor,          // optional, as in SessionLanes
 *   },
 *   observer: { left: () => admitWaitingPublishes() },             // optional, backend's own
 *   attached: () => startReading(),                                // optional
 * });
 * subscribe:   group.addReplica(resolvedSubscription)
 * unsubscribe: group.removeReplica(subscriptionId)
 * on a read:   group.push(delivery)
 * health:      group.health()  (or group.health({ pending, lag }) with the server's counts)
 * close:       await group.stop(closeTimeoutMs)
 * ```
 */
import type { AcknowledgeReason, LaneConsumer, LaneDelivery, LaneFailure, LaneObserver, SessionLanesHooks } from './lane-types.js';
import { SessionLanes } from './session-lanes.js';
import { errorToDeadLetterError } from './dead-letters.js';
import type { NewDeadLetterRecord } from './undecodable.js';
import type { MessageEnvelope } from './envelope.js';
import type { GroupHealth, MetricsRecorder } from './health.js';
import type { BusLogger } from './logger.js';
import { retryDelayMs, type RetryBackoff } from './retry-policy.js';
import type { GroupSpec, ResolvedSubscription } from './subscription.js';

/** What a backend supplies: the settling hooks that talk to its server, and its dead-letter store. */
export interface ConsumerGroupHooks<D extends LaneDelivery>
  extends Pick<SessionLanesHooks<D>, 'beginAttempt' | 'renew' | 'comparePositions' | 'envelopeFor'> {
  /** SETTLING (SessionLanesHooks.acknowledge): removes the delivery from the server's pending list. */
  acknowledge(delivery: D, reason: AcknowledgeReason): void | Promise<void>;
  /**
   * SETTLING: stores the record the engine built (`buildDeadLetterRecord`). A throw or rejection
   * holds the lane and the call is retried with the backoff (so the store may see a record twice
   * only when a write succeeded but reported failure: key it by source and group where it can).
   * Once it succeeded it is never called again for the delivery, whatever fails after it.
   */
  storeDeadLetter(record: NewDeadLetterRecord, delivery: D, failure: LaneFailure): void | Promise<void>;
  /** The dead-letter store's size after a record was stored, for `dead_letter_queue_size`. */
  deadLetterCount(): number | Promise<number>;
  /** Where the delivery came from (stream / subject / queue, and its id there), for its record. */
  sourceOf(delivery: D): { stream: string; id: string };
  /**
   * The envelope the record keeps, with `retryCount` set (default: the delivery's). A backend
   * whose handlers get the decoded objects themselves decodes a fresh copy here: a handler may
   * have changed what it was given.
   */
  deadLetterEnvelope?(delivery: D, retryCount: number): MessageEnvelope;
}

export interface ConsumerGroupOptions<D extends LaneDelivery> {
  readonly spec: GroupSpec;
  readonly hooks: ConsumerGroupHooks<D>;
  readonly metrics: MetricsRecorder;
  /** Used as given: pass a `guardedLogger` (a throw here is also caught by the lanes). */
  readonly logger: BusLogger;
  readonly retry: RetryBackoff;
  /** The server's lease in ms; with `hooks.renew` the lanes renew held deliveries every third of it. */
  readonly leaseMs?: number;
  /**
   * The backend's own observers (for example `left`: room was freed). Called after the engine's own
   * for the same event; a throw is ignored like any observer's.
   */
  readonly observer?: LaneObserver<D>;
  /** A replica was attached to the lanes (after the subscribe gate): a backend may start reading. */
  readonly attached?: (subscription: ResolvedSubscription) => void;
}

/** Builds the record of a delivery the lanes gave up on: the fields every backend stores. */
export function buildDeadLetterRecord(input: {
  envelope: MessageEnvelope;
  failure: LaneFailure;
  firstFailedAt: number | undefined;
  source: { stream: string; id: string };
  group: string;
  now?: number;
}): NewDeadLetterRecord {
  const now = input.now ?? Date.now() / 1000;
  return {
    envelope: input.envelope,
    error: errorToDeadLetterError(input.failure.error),
    attempts: input.failure.attempts,
    firstFailedAt: input.firstFailedAt ?? now,
    lastFailedAt: now,
    source: input.source,
    group: input.group,
  };
}

/** Shared by every group that has none (a group per session: no empty array or object of its own). */
const NO_REPLICAS: readonly ResolvedSubscription[] = Object.freeze([]);
const NO_OBSERVER: LaneObserver<never> = Object.freeze({});

/**
 * One subscriber group in this process. Its contract:
 * - **Replicas and their choice.** Every subscription of the group is a replica; each runs at most
 *   its own `concurrency` attempts at once (counted per consumer by the lanes), and an attempt goes
 *   to the next replica in turn that has a free slot. The group's capacity is the sum of its
 *   replicas'. A removed replica gets no new attempt; those it runs finish.
 * - **The subscribe gate.** No handler runs before `subscribe` has returned its id: a replica that
 *   joins a group already holding deliveries is attached a turn later (`setImmediate`), after the
 *   caller's `await` has resumed; one that joins an empty group is attached at once (nothing can
 *   start before the next push, which dispatches on a later microtask).
 * - **Metrics and logs** are observers (their throws are ignored): a success counts
 *   `messages_consumed_total` and its processing time; a failed attempt counts
 *   `messages_failed_total` and logs a warning; a dead letter counts `dead_letter_queue_size`
 *   and logs an error (after the record was stored: a throwing logger never writes it twice); a
 *   settling hook that fails logs an error each time; a lease lost or a failed renewal logs a
 *   warning; a claimed delivery that runs behind a newer one of its session (the lanes' `outOfOrder`)
 *   counts `order_violations_total`, `orderViolations`, and logs a warning.
 * - **Retries** wait `retryDelayMs(retry, failures)` in the process, holding only their session.
 * - **Dead-letter records** are built here (`buildDeadLetterRecord`) and stored by the backend.
 * - **Health**: consumers, pending (running, waiting for a retry, settling), lag (queued) and the
 *   last time a replica joined or left; a backend with the server's own counts passes them.
 */
export class ConsumerGroup<D extends LaneDelivery> {
  readonly spec: GroupSpec;
  readonly lanes: SessionLanes<D>;
  /** Milliseconds since the epoch a replica last joined or left. */
  lastActiveAt = Date.now();
  /** Deliveries run behind a newer delivery of their session (see `LaneObserver.outOfOrder`). */
  orderViolations = 0;
  private replicaList: readonly ResolvedSubscription[] = NO_REPLICAS;
  /**
   * `replicaList.length`, kept beside it: a backend asks after every delivery (memory, whether its
   * group may rest), and this field is on a line the delivery already read, where the list is not
   * (issue 11: a 1,000-group fan-out reads a line less per group).
   */
  private replicaCount = 0;
  private readonly attached: ((subscription: ResolvedSubscription) => void) | undefined;

  constructor(options: ConsumerGroupOptions<D>) {
    this.spec = options.spec;
    this.attached = options.attached;
    const bridge = new GroupLanesBridge<D>(this, options);
    this.lanes = new SessionLanes<D>(bridge, bridge, options.leaseMs ? { leaseMs: options.leaseMs } : undefined);
  }

  /** Attached or waiting at the gate. */
  get consumers(): number {
    return this.replicaCount;
  }

  get replicas(): readonly ResolvedSubscription[] {
    return this.replicaList;
  }

  /** Deliveries held: queued, running, waiting for a retry or settling. */
  get size(): number {
    return this.lanes.size;
  }

  /** Adds a replica behind the subscribe gate (see the class comment). */
  addReplica(subscription: ResolvedSubscription): void {
    // A new array of the exact size (a push onto an empty one reserves 16 slots; a group per session).
    this.replicaList = this.replicaList.concat(subscription);
    this.replicaCount = this.replicaList.length;
    this.lastActiveAt = Date.now();
    if (this.lanes.size === 0) {
      this.attach(subscription);
      return;
    }
    // Waiting deliveries would otherwise reach the handler before subscribe() has returned its id
    // (inside the call, or in a microtask ahead of the caller's await).
    setImmediate(() => {
      if (this.replicaList.includes(subscription)) this.attach(subscription);
    });
  }

  /** Takes a replica out (false when unknown): it gets no new attempt; those it runs finish. */
  removeReplica(subscriptionId: string): boolean {
    const before = this.replicaList.length;
    this.replicaList = this.replicaList.filter((r) => r.subscriptionId !== subscriptionId);
    this.replicaCount = this.replicaList.length;
    this.lanes.detach(subscriptionId);
    this.lastActiveAt = Date.now();
    return this.replicaList.length !== before;
  }

  /** Hands a delivery to the lanes (false: a copy is already held, or the group stopped). */
  push(delivery: D): boolean {
    return this.lanes.push(delivery);
  }

  /** See `SessionLanes.stop`. */
  stop(timeoutMs: number, options?: { abort?: boolean }): Promise<D[]> {
    return this.lanes.stop(timeoutMs, options);
  }

  /**
   * The group's health. Without `counts`, pending, lag and the oldest held message's age are what
   * this process holds; a backend that reads them from its server passes them (the age only when
   * its server tells it cheaply).
   */
  health(counts?: { pending: number; lag: number; oldestPendingAgeMs?: number | null }): GroupHealth {
    let pending: number;
    let lag: number;
    let oldestPendingAgeMs: number | null | undefined;
    if (counts) ({ pending, lag, oldestPendingAgeMs } = counts);
    else {
      const stats = this.lanes.stats;
      pending = stats.running + stats.retrying + stats.settling;
      lag = stats.queued;
      const oldest = this.lanes.oldestTimestamp();
      oldestPendingAgeMs = oldest === undefined ? null : Math.max(0, Math.round(Date.now() - oldest * 1000));
    }
    return {
      group: this.spec.group,
      eventPattern: this.spec.eventPattern,
      componentId: this.spec.componentId,
      sessionId: this.spec.sessionId,
      durable: this.spec.durable,
      consumers: this.replicaList.length,
      pending,
      lag,
      lastActiveAt: this.lastActiveAt / 1000,
      ...(oldestPendingAgeMs === undefined ? {} : { oldestPendingAgeMs }),
    };
  }

  private attach(subscription: ResolvedSubscription): void {
    this.lanes.attach(subscription);
    this.attached?.(subscription);
  }
}

/*
 * The lanes' hooks and observer of a group, in one small object whose methods live on its class: a
 * closure per callback per group cost about 2 KB for each of 100,000 session-bound groups, and two
 * objects (hooks, observer) were two more cache lines per group and delivery of a fan-out (issue 11).
 * An optional hook or observer the backend did not give stays absent (the lanes test for it).
 */

/** The lanes' hooks (settling through the backend, retry backoff) and observer (metrics and logs, then the backend's own). */
class GroupLanesBridge<D extends LaneDelivery> implements SessionLanesHooks<D>, LaneObserver<D> {
  declare beginAttempt?: SessionLanesHooks<D>['beginAttempt'];
  declare renew?: SessionLanesHooks<D>['renew'];
  declare comparePositions?: SessionLanesHooks<D>['comparePositions'];
  declare envelopeFor?: SessionLanesHooks<D>['envelopeFor'];
  declare left?: LaneObserver<D>['left'];
  private readonly backend: ConsumerGroupHooks<D>;
  private readonly retry: RetryBackoff;
  private readonly group: string;
  private readonly metrics: MetricsRecorder;
  private readonly logger: BusLogger;
  private readonly own: LaneObserver<D>;

  constructor(
    private readonly engine: ConsumerGroup<D>,
    options: ConsumerGroupOptions<D>,
  ) {
    const backend = options.hooks;
    this.backend = backend;
    this.retry = options.retry;
    this.group = options.spec.group;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.own = options.observer ?? NO_OBSERVER;
    if (backend.beginAttempt) this.beginAttempt = backend.beginAttempt.bind(backend);
    if (backend.renew) this.renew = backend.renew.bind(backend);
    // The lanes hand this one around as a plain function.
    if (backend.comparePositions) this.comparePositions = backend.comparePositions.bind(backend);
    // Memory's one optional hook and observer: shared forwarders, no function per group.
    if (backend.envelopeFor) this.envelopeFor = GroupLanesBridge.forwardEnvelopeFor;
    if (this.own.left) this.left = GroupLanesBridge.forwardLeft;
  }

  acknowledge(delivery: D, reason: AcknowledgeReason): void | Promise<void> {
    return this.backend.acknowledge(delivery, reason);
  }

  deadLetter(delivery: D, failure: LaneFailure): void | Promise<void> {
    const hooks = this.backend;
    const retryCount = Math.max(0, failure.attempts - 1);
    const envelope = hooks.deadLetterEnvelope ? hooks.deadLetterEnvelope(delivery, retryCount) : { ...delivery.envelope, retryCount };
    const record = buildDeadLetterRecord({ envelope, failure, firstFailedAt: delivery.firstFailedAt, source: hooks.sourceOf(delivery), group: this.group });
    return hooks.storeDeadLetter(record, delivery, failure);
  }

  retryDelayMs(failures: number): number {
    return retryDelayMs(this.retry, failures);
  }

  private static forwardEnvelopeFor<D extends LaneDelivery>(this: GroupLanesBridge<D>, delivery: D, attempt: number): MessageEnvelope {
    return (this.backend.envelopeFor as (delivery: D, attempt: number) => MessageEnvelope)(delivery, attempt);
  }

  handled(delivery: D, durationMs: number, consumer: LaneConsumer): void {
    try {
      this.metrics.recordConsumed(delivery.envelope.eventType, this.group, durationMs);
    } finally {
      this.own.handled?.(delivery, durationMs, consumer);
    }
  }

  attemptFailed(delivery: D, error: unknown, attempt: number, durationMs: number): void {
    try {
      this.metrics.recordFailed(delivery.envelope.eventType, this.group);
      this.logger.warn('handler attempt failed', {
        group: this.group,
        messageId: delivery.envelope.messageId,
        attempt,
        error: errorToDeadLetterError(error).message,
      });
    } finally {
      this.own.attemptFailed?.(delivery, error, attempt, durationMs);
    }
  }

  deadLettered(delivery: D, failure: LaneFailure): void {
    const { metrics, group } = this;
    try {
      const count = this.backend.deadLetterCount();
      if (typeof count === 'number') metrics.recordDeadLettered(count, group);
      else void count.then((n) => metrics.recordDeadLettered(n, group), () => metrics.recordDeadLettered(0, group));
      this.logger.error('message dead-lettered', {
        group,
        messageId: delivery.envelope.messageId,
        attempts: failure.attempts,
        reason: failure.reason,
      });
    } finally {
      this.own.deadLettered?.(delivery, failure);
    }
  }

  settleFailed(delivery: D, hook: 'acknowledge' | 'deadLetter' | 'beginAttempt', error: unknown, tries: number): void {
    try {
      this.logger.error(`${hook} failed; retrying, the session waits`, {
        group: this.group,
        messageId: delivery.envelope.messageId,
        tries,
        error: errorToDeadLetterError(error).message,
      });
    } finally {
      this.own.settleFailed?.(delivery, hook, error, tries);
    }
  }

  renewFailed(error: unknown, deliveries: readonly D[]): void {
    try {
      this.logger.warn('lease renewal failed; retrying at the next tick', { group: this.group, deliveries: deliveries.length, error: errorToDeadLetterError(error).message });
    } finally {
      this.own.renewFailed?.(error, deliveries);
    }
  }

  leaseLost(delivery: D): void {
    try {
      this.logger.warn('lease lost: another consumer owns the message now; dropped here unacknowledged', {
        group: this.group,
        messageId: delivery.envelope.messageId,
      });
    } finally {
      this.own.leaseLost?.(delivery);
    }
  }

  outOfOrder(pushed: D, started: D): void {
    this.engine.orderViolations++;
    try {
      this.metrics.recordOrderViolation(this.group);
      this.logger.warn('message runs out of order: a newer message of its session had already started', {
        group: this.group,
        sessionId: pushed.envelope.sessionId,
        messageId: pushed.envelope.messageId,
        startedMessageId: started.envelope.messageId,
      });
    } finally {
      this.own.outOfOrder?.(pushed, started);
    }
  }

  private static forwardLeft<D extends LaneDelivery>(this: GroupLanesBridge<D>, delivery: D): void {
    this.own.left?.(delivery);
  }
}
