/**
 * One subscriber group of the in-memory bus: its replicas (subscriptions), its queue of deliveries
 * run through core's `SessionLanes` (per-session order, retries, dead-lettering), and the ids it
 * acknowledged for `exactly_once`.
 */
import {
  MessageDeliveryMode,
  SessionLanes,
  errorToDeadLetterError,
  retryDelayMs,
  type GroupHealth,
  type GroupSpec,
  type LaneDelivery,
  type LaneFailure,
  type MessageEnvelope,
  type MetricsRecorder,
  type ResolvedSubscription,
} from '@woodwork/bus-core';
import { DedupeWindow } from './dedupe-window.js';
import { freshEnvelope } from './message-bodies.js';
import type { ResolvedMemoryBusOptions } from './options.js';

export interface MemoryDelivery extends LaneDelivery {
  /** Position in the bus's publish sequence (the "id" in its stream). */
  readonly seq: number;
}

export interface GroupContext {
  readonly options: ResolvedMemoryBusOptions;
  readonly metrics: MetricsRecorder;
  /** Writes the dead-letter record (a throw keeps the delivery held, and the write is retried). */
  deadLetter(group: MemoryGroup, delivery: MemoryDelivery, failure: LaneFailure): void;
  /** Records in the dead-letter store now. */
  deadLetterCount(): number;
  /** A delivery of `group` finished: room was freed in it. */
  onProgress(group: MemoryGroup): void;
}

export class MemoryGroup {
  readonly lanes: SessionLanes<MemoryDelivery>;
  readonly streamName: string;
  /** Every attached subscription. */
  private replicas: ResolvedSubscription[] = [];
  private readonly acknowledgedIds: DedupeWindow;
  lastActiveAt = Date.now();
  /**
   * Its session was deleted while replicas were attached: it is removed with its last replica,
   * unless the session starts afresh (a new message) or a replica subscribes again first.
   */
  sessionDeleted = false;

  constructor(
    readonly spec: GroupSpec,
    private readonly context: GroupContext,
  ) {
    this.streamName = `${context.options.streamPrefix}:group:${spec.group}`;
    this.acknowledgedIds = new DedupeWindow(context.options.dedupeWindowMs, context.options.maxDedupeIds);
    const { metrics, options } = context;
    const { logger } = options;
    this.lanes = new SessionLanes<MemoryDelivery>(
      {
        envelopeFor: (delivery, attempt) => freshEnvelope(delivery.envelope, attempt - 1),
        acknowledge: (delivery, reason) => {
          if (reason === 'handled' && delivery.envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE) {
            this.acknowledgedIds.remember(delivery.envelope.messageId);
          }
        },
        deadLetter: (delivery, failure) => context.deadLetter(this, delivery, failure),
        retryDelayMs: (failures) => retryDelayMs(options.retry, failures),
      },
      {
        handled: (delivery, durationMs) => metrics.recordConsumed(delivery.envelope.eventType, spec.group, durationMs),
        attemptFailed: (delivery, error, attempt) => {
          metrics.recordFailed(delivery.envelope.eventType, spec.group);
          logger.warn('handler attempt failed', {
            group: spec.group,
            messageId: delivery.envelope.messageId,
            attempt,
            error: errorToDeadLetterError(error).message,
          });
        },
        deadLettered: (delivery, failure) => {
          metrics.recordDeadLettered(context.deadLetterCount(), spec.group);
          logger.error('message dead-lettered', {
            group: spec.group,
            messageId: delivery.envelope.messageId,
            attempts: failure.attempts,
            reason: failure.reason,
          });
        },
        settleFailed: (delivery, hook, error, tries) =>
          logger.error(`${hook} failed; retrying, the session waits`, {
            group: spec.group,
            messageId: delivery.envelope.messageId,
            tries,
            error: errorToDeadLetterError(error).message,
          }),
        // Called once the delivery no longer counts in `size`: only then is there room to admit a publish.
        left: () => context.onProgress(this),
      },
    );
  }

  get consumers(): number {
    return this.replicas.length;
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
    return this.lanes.size;
  }

  addReplica(subscription: ResolvedSubscription): void {
    this.replicas.push(subscription);
    this.lastActiveAt = Date.now();
    this.sessionDeleted = false;
    if (this.lanes.size === 0) {
      this.lanes.attach(subscription);
      return;
    }
    // Waiting messages would otherwise reach the handler before subscribe() has returned its id
    // (inside the call, or in a microtask ahead of the caller's await).
    setImmediate(() => {
      if (this.replicas.includes(subscription)) this.lanes.attach(subscription);
    });
  }

  removeReplica(subscriptionId: string): boolean {
    const before = this.replicas.length;
    this.replicas = this.replicas.filter((r) => r.subscriptionId !== subscriptionId);
    this.lanes.detach(subscriptionId);
    this.lastActiveAt = Date.now();
    return this.replicas.length !== before;
  }

  /**
   * Queues a delivery; skips (returns false for) an `exactly_once` id this group already
   * acknowledged within the window.
   */
  enqueue(envelope: MessageEnvelope, seq: number): boolean {
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.acknowledgedIds.has(envelope.messageId)) return false;
    this.sessionDeleted = false;
    this.lanes.push({ envelope, seq, attemptsMade: 0 });
    return true;
  }

  health(): GroupHealth {
    const stats = this.lanes.stats;
    return {
      group: this.spec.group,
      eventPattern: this.spec.eventPattern,
      componentId: this.spec.componentId,
      sessionId: this.spec.sessionId,
      durable: this.spec.durable,
      consumers: this.replicas.length,
      pending: stats.running + stats.retrying + stats.settling,
      lag: stats.queued,
      lastActiveAt: this.lastActiveAt / 1000,
    };
  }
}
