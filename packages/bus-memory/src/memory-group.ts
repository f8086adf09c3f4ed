/**
 * One subscriber group of the in-memory bus: its replicas (subscriptions), its queue of deliveries
 * run through core's `SessionLanes` (per-session order, retries, dead-lettering), and the ids it
 * acknowledged for `exactly_once`.
 */
import {
  MessageDeliveryMode,
  SessionLanes,
  retryDelayMs,
  type GroupHealth,
  type GroupSpec,
  type LaneConsumer,
  type LaneDelivery,
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
  deadLetter(group: MemoryGroup, delivery: MemoryDelivery, error: unknown, attempts: number): void;
  /** A delivery of `group` finished: room was freed in it. */
  onProgress(group: MemoryGroup): void;
}

export class MemoryGroup {
  readonly lanes: SessionLanes<MemoryDelivery>;
  readonly streamName: string;
  /** Every attached subscription. */
  private replicas: ResolvedSubscription[] = [];
  /**
   * Those that take deliveries. A new one joins at once when the group has nothing to deliver, else
   * a turn after its subscribe call resolved.
   */
  private active: ResolvedSubscription[] = [];
  private nextReplica = 0;
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
    this.lanes = new SessionLanes<MemoryDelivery>({
      pickConsumer: () => this.pickReplica(),
      capacity: () => this.capacity(),
      envelopeFor: (delivery, attempt) => freshEnvelope(delivery.envelope, attempt - 1),
      onSuccess: (delivery, durationMs) => {
        if (delivery.envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE) {
          this.acknowledgedIds.remember(delivery.envelope.messageId);
        }
        metrics.recordConsumed(delivery.envelope.eventType, spec.group, durationMs);
      },
      onGiveUp: (delivery, error, attempts) => {
        context.deadLetter(this, delivery, error, attempts);
      },
      // Called once the delivery no longer counts in `size`: only then is there room to admit a publish.
      onDone: () => context.onProgress(this),
      onAttemptFailed: (delivery, error, attempt) => {
        metrics.recordFailed(delivery.envelope.eventType, spec.group);
        options.logger.warn('handler attempt failed', {
          group: spec.group,
          messageId: delivery.envelope.messageId,
          attempt,
          error: error instanceof Error ? error.message : String(error),
        });
      },
      retryDelayMs: (failedAttempts) => retryDelayMs(options.retry, failedAttempts),
      onHookError: (error) => options.logger.error('delivery hook failed', { group: spec.group, error: String(error) }),
    });
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
      this.active.push(subscription);
      return;
    }
    // Waiting messages would otherwise reach the handler before subscribe() has returned its id
    // (inside the call, or in a microtask ahead of the caller's await).
    setImmediate(() => {
      if (!this.replicas.includes(subscription)) return;
      this.active.push(subscription);
      this.lanes.pump();
    });
  }

  removeReplica(subscriptionId: string): boolean {
    const before = this.replicas.length;
    this.replicas = this.replicas.filter((r) => r.subscriptionId !== subscriptionId);
    this.active = this.active.filter((r) => r.subscriptionId !== subscriptionId);
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
      pending: stats.running + stats.retrying,
      lag: stats.queued,
      lastActiveAt: this.lastActiveAt / 1000,
    };
  }

  private capacity(): number {
    let total = 0;
    for (const replica of this.active) total += replica.concurrency;
    return total;
  }

  private pickReplica(): LaneConsumer | undefined {
    if (this.active.length === 0) return undefined;
    this.nextReplica = (this.nextReplica + 1) % this.active.length;
    return this.active[this.nextReplica];
  }
}
