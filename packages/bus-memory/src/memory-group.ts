/**
 * One subscriber group of the in-memory bus, composed on core's `ConsumerGroup` (replicas, the
 * subscribe gate, metrics, logs, retries, dead-letter records, health). What is memory's own: its
 * queue name, where the record goes (the bus's dead-letter store), the fresh payload each attempt
 * gets, the ids it acknowledged for `exactly_once`, and telling the bus when room was freed.
 *
 * A group with no replica and nothing held (a durable group its subscription left, e.g. a session's
 * component after the session went idle) is dormant: it drops its engine and keeps only its spec,
 * when it was last active and the ids it acknowledged, a few hundred bytes instead of a few KB
 * (issue 11). A message or a replica wakes it with a fresh engine.
 */
import {
  ConsumerGroup,
  MessageDeliveryMode,
  type AcknowledgeReason,
  type ConsumerGroupHooks,
  type GroupHealth,
  type GroupSpec,
  type LaneDelivery,
  type LaneObserver,
  type MessageEnvelope,
  type MessageHandler,
  type MetricsRecorder,
  type NewDeadLetterRecord,
  type ResolvedSubscription,
  type SessionLanes,
} from '@woodwork/bus-core';
import { DedupeWindow } from './dedupe-window.js';
import { freshEnvelope, type MessageBody } from './message-bodies.js';
import type { ResolvedMemoryBusOptions } from './options.js';

export interface MemoryDelivery extends LaneDelivery {
  /** The group it was queued in. */
  readonly group: MemoryGroup;
  /** Position in the bus's publish sequence (the "id" in its stream). */
  readonly seq: number;
  /** The payload and metadata checked at publish: each attempt gets its own copy of them. */
  readonly body: MessageBody;
  /** The publication it is one delivery of: counted there until it leaves (or its session is aborted). */
  readonly publication: Publication;
  /** Not finished yet: counted in its publication's `pending`. */
  held: boolean;
}

/**
 * One accepted message and its deliveries (one per group it was queued in). While one of them is
 * unfinished the bus's route index lists the publication under its session, so
 * `deleteSessionQueue` finds the groups holding the session's deliveries by walking what the session
 * has. A delivery that finishes only lowers `pending` (issue 11: a per-session set of holding groups,
 * filled and emptied by every delivery of a 1,000-group fan-out, was a large part of its cost).
 */
export interface Publication {
  readonly sessionId: string;
  /** Its deliveries not finished yet; at 0 it leaves the route index. */
  pending: number;
  readonly deliveries: MemoryDelivery[];
}

/** A publication with no delivery yet, of `sessionId`. */
export function newPublication(sessionId: string): Publication {
  return { sessionId, pending: 0, deliveries: [] };
}

export interface GroupContext {
  readonly options: ResolvedMemoryBusOptions;
  readonly metrics: MetricsRecorder;
  /** Stores the dead-letter record (a throw keeps the delivery held, and the write is retried). */
  storeDeadLetter(record: NewDeadLetterRecord): void;
  /** Records in the dead-letter store now. */
  deadLetterCount(): number;
  /** A delivery of `group` finished: room was freed in it. */
  onProgress(group: MemoryGroup): void;
  /** The publication has its first unfinished delivery. */
  publicationHeld(publication: Publication): void;
  /** The publication has no unfinished delivery any more. */
  publicationReleased(publication: Publication): void;
  /** `group` started remembering acknowledged `exactly_once` ids: the expiry sweep looks at it. */
  remembersIds(group: MemoryGroup): void;
  /**
   * Until when the bus treats an `exactly_once` id as a duplicate (epoch ms), or undefined once it
   * accepts it again: a group never remembers an id longer, or it would skip a publish the bus
   * accepted (`duplicate: false`) and nobody would handle it.
   */
  duplicateUntil(messageId: string): number | undefined;
  /** The engines' hooks and observer, made by the first group that wakes and shared by all. */
  callbacks?: GroupCallbacks;
}

export interface GroupCallbacks {
  readonly hooks: ConsumerGroupHooks<MemoryDelivery>;
  readonly observer: LaneObserver<MemoryDelivery>;
}

export class MemoryGroup {
  private readonly context: GroupContext;
  /** The engine; undefined while dormant. */
  private active: ConsumerGroup<MemoryDelivery> | undefined;
  private acknowledgedIds: DedupeWindow | undefined;
  private evictedBefore = 0;
  /** While dormant: when a replica last joined or left, and the order violations counted before. */
  private restingSince = Date.now();
  /**
   * While dormant: the one replica of a session-bound group that rests with it attached (see
   * `rest`), what of it the engine needs (its spec is the group's). It is attached again at once
   * when the group wakes: its subscribe returned long ago. Fields, not an object: one per session.
   */
  private restingId: string | undefined;
  private restingHandler: MessageHandler | undefined;
  private restingConcurrency = 0;
  private restingTimeoutMs = 0;
  private violationsBefore = 0;
  /**
   * Its session was deleted while replicas were attached: it is removed with its last replica,
   * unless the session starts afresh (a new message) or a replica subscribes again first.
   */
  sessionDeleted = false;

  // Its spec in fields of its own, and `spec` is the group itself: one object less per group, kept
  // for each of 100,000 sessions, and a line less read per group when a publish is routed (issue 11).
  readonly group: string;
  readonly eventPattern: string;
  readonly componentId: string | null;
  readonly sessionId: string | null;
  readonly targetedOnly: boolean;
  readonly observer: boolean;
  readonly durable: boolean;

  /** `spec`: read once, its fields copied (a subscription may be given: nothing else of it is kept). */
  constructor(spec: GroupSpec, context: GroupContext) {
    this.context = context;
    this.group = spec.group;
    this.eventPattern = spec.eventPattern;
    this.componentId = spec.componentId;
    this.sessionId = spec.sessionId;
    this.targetedOnly = spec.targetedOnly;
    this.observer = spec.observer;
    this.durable = spec.durable;
  }

  /** Which messages it receives: the group itself. */
  get spec(): GroupSpec {
    return this;
  }

  /** Its name in dead-letter sources and errors (made when asked: an idle group keeps no copy). */
  get streamName(): string {
    return `${this.context.options.streamPrefix}:group:${this.spec.group}`;
  }

  /** The engine (woken with a fresh one if the group was dormant). */
  get engine(): ConsumerGroup<MemoryDelivery> {
    return (this.active ??= this.wake());
  }

  get lanes(): SessionLanes<MemoryDelivery> {
    return this.engine.lanes;
  }

  /** True while it has dropped its engine (no replica, nothing held). */
  get dormant(): boolean {
    return this.active === undefined;
  }

  get consumers(): number {
    if (this.active) return this.active.consumers;
    return this.restingId === undefined ? 0 : 1;
  }

  get lastActiveAt(): number {
    return this.active?.lastActiveAt ?? this.restingSince;
  }

  get orderViolations(): number {
    return this.violationsBefore + (this.active?.orderViolations ?? 0);
  }

  /** `exactly_once` ids it remembers as acknowledged. */
  get acknowledgedIdCount(): number {
    return this.acknowledgedIds?.size ?? 0;
  }

  /** Acknowledged ids forgotten early to stay within `maxDedupeIds`. */
  get acknowledgedIdsEvicted(): number {
    return this.evictedBefore + (this.acknowledgedIds?.evicted ?? 0);
  }

  /**
   * Forgets acknowledged ids whose dedupe window has passed; false once it remembers none (the
   * bus then stops sweeping it).
   */
  sweepAcknowledgedIds(now = Date.now()): boolean {
    if (!this.acknowledgedIds) return false;
    this.acknowledgedIds.sweep(now);
    if (this.acknowledgedIds.size === 0) {
      this.evictedBefore += this.acknowledgedIds.evicted;
      this.acknowledgedIds = undefined;
      return false;
    }
    return true;
  }

  /** Deliveries held: waiting, running or waiting for a retry. */
  get size(): number {
    return this.active?.size ?? 0;
  }

  /** Sessions with a lane (deliveries not finished). */
  get sessions(): number {
    return this.active?.lanes.sessions ?? 0;
  }

  /** Deliveries whose dead-letter record or acknowledgement keeps failing. */
  get failingSettles(): number {
    return this.active?.lanes.stats.failingSettles ?? 0;
  }

  addReplica(subscription: ResolvedSubscription): void {
    this.sessionDeleted = false;
    if (!this.active && this.restingId === undefined && this.spec.sessionId !== null) {
      // A session's own component subscribing: nothing to run yet, so no engine until a message
      // comes (100,000 sessions subscribe in turn; each engine would live until its first message).
      this.restReplica(subscription);
      this.restingSince = Date.now();
      return;
    }
    this.engine.addReplica(subscription);
  }

  removeReplica(subscriptionId: string): boolean {
    if (!this.active) {
      if (this.restingId !== subscriptionId) return false;
      this.restingId = undefined;
      this.restingHandler = undefined;
      this.restingSince = Date.now();
      return true;
    }
    const removed = this.active.removeReplica(subscriptionId);
    this.rest();
    return removed;
  }

  /**
   * Queues a delivery; skips (returns false for) an `exactly_once` id this group already
   * acknowledged within the window.
   */
  enqueue(envelope: MessageEnvelope, body: MessageBody, seq: number, publication: Publication): boolean {
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.acknowledgedIds?.has(envelope.messageId)) return false;
    this.sessionDeleted = false;
    const delivery: MemoryDelivery = { group: this, envelope, body, seq, attemptsMade: 0, publication, held: true };
    publication.deliveries.push(delivery);
    if (publication.pending++ === 0) this.context.publicationHeld(publication);
    if (!this.engine.push(delivery)) this.release(delivery);
    return true;
  }

  /** Drops the session's deliveries (see `SessionLanes.abortSession`); they no longer count as held. */
  abortSession(sessionId: string): void {
    if (!this.active) return;
    for (const delivery of this.lanes.abortSession(sessionId)) this.release(delivery);
    this.rest();
  }

  /**
   * See `SessionLanes.stop` (a dormant group has nothing to stop). What it never finished is no
   * longer held by it, as when it is removed (an attempt left running ends unobserved).
   */
  async stop(timeoutMs: number, options?: { abort?: boolean }): Promise<MemoryDelivery[]> {
    if (!this.active) return [];
    const unfinished = await this.active.stop(timeoutMs, options);
    for (const delivery of unfinished) this.release(delivery);
    return unfinished;
  }

  health(): GroupHealth {
    if (this.active) return this.active.health();
    const { group, eventPattern, componentId, sessionId, durable } = this.spec;
    return { group, eventPattern, componentId, sessionId, durable, consumers: this.consumers, pending: 0, lag: 0, lastActiveAt: this.restingSince / 1000, oldestPendingAgeMs: null };
  }

  /**
   * Drops the engine when nothing needs it: nothing held, and no replica, or (a session-bound
   * group) one replica, which rests with it. A session's own component is idle most of the time,
   * one per session: its engine (lanes, consumers, hooks, about 1.4 KB) lives only while it has
   * work. With one replica there is no turn among replicas to keep; a shared group keeps its engine.
   */
  private rest(): void {
    const engine = this.active;
    if (!engine || engine.size > 0) return;
    const consumers = engine.consumers;
    if (consumers > 1 || (consumers === 1 && this.spec.sessionId === null)) return;
    if (consumers === 1) this.restReplica(engine.replicas[0] as ResolvedSubscription);
    this.restingSince = engine.lastActiveAt;
    this.violationsBefore += engine.orderViolations;
    this.active = undefined;
  }

  private wake(): ConsumerGroup<MemoryDelivery> {
    const { context, spec } = this;
    const { hooks, observer } = (context.callbacks ??= groupCallbacks(context));
    const engine = new ConsumerGroup<MemoryDelivery>({ spec, metrics: context.metrics, logger: context.options.logger, retry: context.options.retry, hooks, observer });
    const subscriptionId = this.restingId;
    if (subscriptionId !== undefined) {
      // Every field written out: a spread plus more keys takes V8's slow path (5 us a wake, measured).
      const replica: ResolvedSubscription = {
        group: spec.group,
        eventPattern: spec.eventPattern,
        componentId: spec.componentId,
        sessionId: spec.sessionId,
        targetedOnly: spec.targetedOnly,
        observer: spec.observer,
        durable: spec.durable,
        subscriptionId,
        handler: this.restingHandler as MessageHandler,
        concurrency: this.restingConcurrency,
        handlerTimeoutMs: this.restingTimeoutMs,
      };
      this.restingId = undefined;
      this.restingHandler = undefined;
      // Empty lanes: the replica is attached at once (the subscribe gate holds only while deliveries wait).
      engine.addReplica(replica);
    }
    engine.lastActiveAt = this.restingSince;
    return engine;
  }

  private restReplica(subscription: ResolvedSubscription): void {
    this.restingId = subscription.subscriptionId;
    this.restingHandler = subscription.handler;
    this.restingConcurrency = subscription.concurrency;
    this.restingTimeoutMs = subscription.handlerTimeoutMs;
  }

  /**
   * Its engine acknowledged a delivery: an `exactly_once` id handled is remembered as long as the bus
   * still treats it as a duplicate (the window counts from the publish, not from the handling).
   */
  acknowledged(delivery: MemoryDelivery, reason: AcknowledgeReason): void {
    if (reason === 'handled' && delivery.envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE) {
      const { options } = this.context;
      const until = this.context.duplicateUntil(delivery.envelope.messageId);
      if (until === undefined) return;
      if (!this.acknowledgedIds) {
        this.acknowledgedIds = new DedupeWindow(options.dedupeWindowMs, options.maxDedupeIds);
        this.context.remembersIds(this);
      }
      this.acknowledgedIds.rememberUntil(delivery.envelope.messageId, until);
    }
  }

  /** A delivery left its engine, so it no longer counts in `size`: only then is there room to admit a publish. */
  left(delivery: MemoryDelivery): void {
    this.release(delivery);
    this.context.onProgress(this);
    const engine = this.active;
    // The last delivery of a group nobody listens to (or of a session's own component): rest once
    // the lanes are done with it.
    if (engine && engine.size === 0 && (engine.consumers === 0 || (engine.consumers === 1 && this.spec.sessionId !== null))) {
      queueMicrotask(() => this.active === engine && this.rest());
    }
  }

  private release(delivery: MemoryDelivery): void {
    if (!delivery.held) return;
    delivery.held = false;
    const publication = delivery.publication;
    if (--publication.pending === 0) this.context.publicationReleased(publication);
  }
}

/**
 * The hooks and the observer every group of a bus hands its engine: one set for all of them (a
 * delivery knows its group), so a group costs no closures of its own (issue 11: 100,000 groups).
 */
function groupCallbacks(context: GroupContext): GroupCallbacks {
  return {
    hooks: {
      envelopeFor: (delivery, attempt) => freshEnvelope(delivery.envelope, delivery.body, attempt - 1),
      acknowledge: (delivery, reason) => delivery.group.acknowledged(delivery, reason),
      deadLetterEnvelope: (delivery, retryCount) => freshEnvelope(delivery.envelope, delivery.body, retryCount),
      sourceOf: (delivery) => ({ stream: delivery.group.streamName, id: String(delivery.seq) }),
      storeDeadLetter: (record) => context.storeDeadLetter(record),
      deadLetterCount: () => context.deadLetterCount(),
    },
    observer: { left: (delivery) => delivery.group.left(delivery) },
  };
}
