/**
 * One subscriber group of the in-memory bus, composed on core's `ConsumerGroup` (replicas, the
 * subscribe gate, metrics, logs, retries, dead-letter records, health). What is memory's own: its
 * queue name, where the record goes (the bus's dead-letter store), the fresh payload each attempt
 * decodes, the ids it acknowledged for `exactly_once`, and telling the bus when room was freed.
 */
import {
  ConsumerGroup,
  MessageDeliveryMode,
  type GroupHealth,
  type GroupSpec,
  type LaneDelivery,
  type MessageEnvelope,
  type MetricsRecorder,
  type NewDeadLetterRecord,
  type ResolvedSubscription,
  type SessionLanes,
} from '@woodwork/bus-core';
import { DedupeWindow } from './dedupe-window.js';
import { freshEnvelope, type MessageBody } from './message-bodies.js';
import type { ResolvedMemoryBusOptions } from './options.js';

export interface MemoryDelivery extends LaneDelivery {
  /** Position in the bus's publish sequence (the "id" in its stream). */
  readonly seq: number;
  /** The payload and metadata JSON made at publish: each attempt decodes its own objects from it. */
  readonly body: MessageBody;
  /** Counted in its group's holdings of its session until it leaves (or its session is aborted). */
  held: boolean;
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
  /** `group` now holds an unfinished delivery of the session (its first one). */
  sessionHeld(group: MemoryGroup, sessionId: string): void;
  /** `group` holds no unfinished delivery of the session any more. */
  sessionReleased(group: MemoryGroup, sessionId: string): void;
}

export class MemoryGroup {
  readonly engine: ConsumerGroup<MemoryDelivery>;
  readonly lanes: SessionLanes<MemoryDelivery>;
  readonly streamName: string;
  private readonly acknowledgedIds: DedupeWindow;
  private readonly context: GroupContext;
  /** Unfinished deliveries per session (made on first use: an idle group keeps none). */
  private heldBySession: Map<string, number> | undefined;
  /**
   * Its session was deleted while replicas were attached: it is removed with its last replica,
   * unless the session starts afresh (a new message) or a replica subscribes again first.
   */
  sessionDeleted = false;

  constructor(
    readonly spec: GroupSpec,
    context: GroupContext,
  ) {
    const { options } = context;
    this.context = context;
    const streamName = `${options.streamPrefix}:group:${spec.group}`;
    this.streamName = streamName;
    this.acknowledgedIds = new DedupeWindow(options.dedupeWindowMs, options.maxDedupeIds);
    this.engine = new ConsumerGroup<MemoryDelivery>({
      spec,
      metrics: context.metrics,
      logger: options.logger,
      retry: options.retry,
      hooks: {
        envelopeFor: (delivery, attempt) => freshEnvelope(delivery.envelope, delivery.body, attempt - 1),
        acknowledge: (delivery, reason) => {
          if (reason === 'handled' && delivery.envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE) {
            this.acknowledgedIds.remember(delivery.envelope.messageId);
          }
        },
        deadLetterEnvelope: (delivery, retryCount) => freshEnvelope(delivery.envelope, delivery.body, retryCount),
        sourceOf: (delivery) => ({ stream: streamName, id: String(delivery.seq) }),
        storeDeadLetter: (record) => context.storeDeadLetter(record),
        deadLetterCount: () => context.deadLetterCount(),
      },
      // Called once the delivery no longer counts in `size`: only then is there room to admit a publish.
      observer: {
        left: (delivery) => {
          this.release(delivery);
          context.onProgress(this);
        },
      },
    });
    this.lanes = this.engine.lanes;
  }

  get consumers(): number {
    return this.engine.consumers;
  }

  get lastActiveAt(): number {
    return this.engine.lastActiveAt;
  }

  /** `exactly_once` ids it remembers as acknowledged. */
  get acknowledgedIdCount(): number {
    return this.acknowledgedIds.size;
  }

  /** Acknowledged ids forgotten early to stay within `maxDedupeIds`. */
  get acknowledgedIdsEvicted(): number {
    return this.acknowledgedIds.evicted;
  }

  /** Forgets acknowledged ids whose dedupe window has passed. */
  sweepAcknowledgedIds(now = Date.now()): void {
    this.acknowledgedIds.sweep(now);
  }

  /** Deliveries held: waiting, running or waiting for a retry. */
  get size(): number {
    return this.engine.size;
  }

  addReplica(subscription: ResolvedSubscription): void {
    this.sessionDeleted = false;
    this.engine.addReplica(subscription);
  }

  removeReplica(subscriptionId: string): boolean {
    return this.engine.removeReplica(subscriptionId);
  }

  /**
   * Queues a delivery; skips (returns false for) an `exactly_once` id this group already
   * acknowledged within the window.
   */
  enqueue(envelope: MessageEnvelope, body: MessageBody, seq: number): boolean {
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.acknowledgedIds.has(envelope.messageId)) return false;
    this.sessionDeleted = false;
    const delivery: MemoryDelivery = { envelope, body, seq, attemptsMade: 0, held: true };
    this.hold(envelope.sessionId);
    if (!this.engine.push(delivery)) this.release(delivery);
    return true;
  }

  /** Drops the session's deliveries (see `SessionLanes.abortSession`); they no longer count as held. */
  abortSession(sessionId: string): void {
    for (const delivery of this.lanes.abortSession(sessionId)) this.release(delivery);
  }

  /** Sessions it holds an unfinished delivery of. */
  heldSessions(): Iterable<string> {
    return this.heldBySession?.keys() ?? [];
  }

  private hold(sessionId: string): void {
    const map = (this.heldBySession ??= new Map());
    const n = map.get(sessionId) ?? 0;
    map.set(sessionId, n + 1);
    if (n === 0) this.context.sessionHeld(this, sessionId);
  }

  private release(delivery: MemoryDelivery): void {
    if (!delivery.held) return;
    delivery.held = false;
    const sessionId = delivery.envelope.sessionId;
    const n = this.heldBySession?.get(sessionId) ?? 0;
    if (n > 1) {
      this.heldBySession?.set(sessionId, n - 1);
      return;
    }
    this.heldBySession?.delete(sessionId);
    this.context.sessionReleased(this, sessionId);
  }

  health(): GroupHealth {
    return this.engine.health();
  }
}
