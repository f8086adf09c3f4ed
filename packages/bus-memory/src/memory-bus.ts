/**
 * The in-memory backend: the whole `MessageBus` contract in one process (not the design's simplified
 * sample). Every group has a bounded queue; a publish that would overflow one waits for room in
 * publish order, or rejects, by `onQueueFull`. Nothing survives the process: use Redis or NATS for that.
 *
 * Names it reports (dead-letter sources, health): `<prefix>:group:<group>` per group.
 * Payload and metadata are copied at publish, so a publisher changing its objects afterwards changes
 * nothing delivered; groups share that copy, so handlers must treat envelopes as read-only.
 */
import {
  BusClosedError,
  Deque,
  MessageDeliveryMode,
  MetricsRecorder,
  QueueFullError,
  assertSameGroupSpec,
  errorToDeadLetterError,
  groupReceives,
  isTargeted,
  preparePublish,
  resolveSubscription,
  validateName,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type EnvelopeInit,
  type HealthReport,
  type HealthStatus,
  type JsonObject,
  type PreparedPublish,
  type MessageBus,
  type MessageEnvelope,
  type MessageHandler,
  type PublishResult,
  type PurgeResult,
  type RedriveResult,
  type SubscribeOptions,
} from '@woodwork/bus-core';
import { DeadLetterStore } from './dead-letter-store.js';
import { DedupeWindow } from './dedupe-window.js';
import { MemoryGroup, type GroupContext, type MemoryDelivery } from './memory-group.js';
import { resolveMemoryBusOptions, type MemoryBusOptions, type ResolvedMemoryBusOptions } from './options.js';
import { TargetInbox } from './target-inbox.js';

interface WaitingPublish {
  readonly envelope: MessageEnvelope;
  resolve(result: PublishResult): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout | undefined;
  done: boolean;
}

const MAX_EXPIRED_REPORTED = 100;

export class MemoryMessageBus implements MessageBus {
  readonly backend = 'memory';
  readonly options: ResolvedMemoryBusOptions;
  private readonly metrics: MetricsRecorder;
  private readonly groups = new Map<string, MemoryGroup>();
  /** Groups by event pattern (`*` included), for routing without scanning every group. */
  private readonly groupsByPattern = new Map<string, MemoryGroup[]>();
  private readonly subscriptions = new Map<string, MemoryGroup>();
  private readonly inbox = new TargetInbox();
  private readonly deadLetters: DeadLetterStore;
  private readonly publishedIds: DedupeWindow;
  private readonly waitingPublishes = new Deque<WaitingPublish>();
  private readonly expiredGroups: string[] = [];
  private readonly groupContext: GroupContext;
  private readonly expiryTimer: NodeJS.Timeout;
  private seq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: MemoryBusOptions = {}) {
    this.options = resolveMemoryBusOptions(options);
    this.metrics = new MetricsRecorder(this.options.onMetric);
    this.deadLetters = new DeadLetterStore(this.options.deadLetterMaxSize);
    this.publishedIds = new DedupeWindow(this.options.dedupeWindowMs);
    this.groupContext = {
      options: this.options,
      metrics: this.metrics,
      deadLetter: (group, delivery, error, attempts) => this.deadLetter(group, delivery, error, attempts),
      onProgress: () => this.admitWaitingPublishes(),
    };
    const sweepEvery = Math.max(10, Math.min(this.options.groupExpiryMs, 60_000));
    this.expiryTimer = setInterval(() => this.expireIdleGroups(), sweepEvery);
    this.expiryTimer.unref();
  }

  async publish(input: MessageEnvelope | EnvelopeInit): Promise<PublishResult> {
    this.assertOpen('publish');
    const envelope = snapshot(preparePublish(input, this.options));
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.publishedIds.has(envelope.messageId)) {
      return { messageId: envelope.messageId, duplicate: true };
    }
    if (this.waitingPublishes.length === 0) {
      const groups = this.matchingGroups(envelope);
      const full = this.findFullQueue(envelope, groups);
      if (full === undefined) return this.accept(envelope, groups);
      if (this.options.onQueueFull === 'reject') throw new QueueFullError(full, this.options.maxQueueSize);
    }
    return this.waitForRoom(envelope);
  }

  async subscribe(eventPattern: string, handler: MessageHandler, options?: SubscribeOptions): Promise<string> {
    this.assertOpen('subscribe');
    const subscription = resolveSubscription(eventPattern, handler, options, this.options);
    let group = this.groups.get(subscription.group);
    if (group) {
      assertSameGroupSpec(group.spec, subscription);
    } else {
      group = this.addGroup(subscription);
    }
    group.addReplica(subscription);
    this.subscriptions.set(subscription.subscriptionId, group);
    this.metrics.recordSubscriptions(this.subscriptions.size);
    return subscription.subscriptionId;
  }

  async unsubscribe(subscriptionId: string): Promise<boolean> {
    this.assertOpen('unsubscribe');
    const group = this.subscriptions.get(subscriptionId);
    if (!group) return false;
    this.subscriptions.delete(subscriptionId);
    group.removeReplica(subscriptionId);
    if (!group.spec.durable && group.consumers === 0) await this.removeGroup(group);
    this.metrics.recordSubscriptions(this.subscriptions.size);
    return true;
  }

  async createSessionQueue(sessionId: string): Promise<void> {
    this.assertOpen('createSessionQueue');
    validateName(sessionId, 'sessionId');
  }

  async deleteSessionQueue(sessionId: string): Promise<void> {
    this.assertOpen('deleteSessionQueue');
    validateName(sessionId, 'sessionId');
    for (const group of [...this.groups.values()]) {
      group.lanes.abortSession(sessionId);
      if (group.spec.sessionId === sessionId && group.consumers === 0) await this.removeGroup(group);
    }
    this.inbox.removeSession(sessionId);
    this.deadLetters.removeMatching({ sessionId });
    this.admitWaitingPublishes();
  }

  async getDeadLetterMessages(limit = 100, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<DeadLetterRecord[]> {
    this.assertOpen('getDeadLetterMessages');
    return this.deadLetters.list({ ...filter, limit });
  }

  async redriveDeadLetters(filter?: DeadLetterFilter): Promise<RedriveResult> {
    this.assertOpen('redriveDeadLetters');
    const result: RedriveResult = { redriven: [], skipped: [] };
    for (const record of this.deadLetters.list(filter)) {
      const group = this.groups.get(record.group);
      if (!group) {
        result.skipped.push({ id: record.id, reason: `group ${record.group} no longer exists` });
        continue;
      }
      this.deadLetters.remove(record.id);
      group.enqueue({ ...record.envelope, retryCount: 0 }, ++this.seq);
      result.redriven.push(record.id);
    }
    return result;
  }

  async purgeDeadLetters(filter?: DeadLetterFilter): Promise<PurgeResult> {
    this.assertOpen('purgeDeadLetters');
    return { purged: this.deadLetters.removeMatching(filter) };
  }

  async healthCheck(): Promise<HealthReport> {
    this.assertOpen('healthCheck');
    this.expireIdleGroups();
    const groups = [...this.groups.values()];
    const fullest = Math.max(0, ...groups.map((g) => g.size));
    const status: HealthStatus =
      this.waitingPublishes.length > 0 || fullest >= this.options.maxQueueSize * 0.9 ? 'degraded' : 'healthy';
    return {
      status,
      backend: this.backend,
      metrics: this.metrics.snapshot(this.subscriptions.size, this.deadLetters.size, status),
      groups: groups.map((g) => g.health()),
      expiredGroups: [...this.expiredGroups],
      details: {
        maxQueueSize: this.options.maxQueueSize,
        onQueueFull: this.options.onQueueFull,
        waitingPublishes: this.waitingPublishes.length,
        waitingForTarget: this.inbox.sizes(),
        deadLetterMaxSize: this.options.deadLetterMaxSize,
        deadLettersDropped: this.deadLetters.dropped,
      },
      ...(status === 'healthy' ? {} : { error: 'a queue is full or nearly full; publishers wait' }),
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.expiryTimer);
    for (const waiting of this.waitingPublishes.drain()) this.settleWaiting(waiting, new BusClosedError('publish'));
    await Promise.all([...this.groups.values()].map((g) => g.lanes.stop(this.options.closeTimeoutMs)));
    this.groups.clear();
    this.groupsByPattern.clear();
    this.subscriptions.clear();
    this.inbox.clear();
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new BusClosedError(operation);
  }

  /** Queues the message for every group (or target inbox) it routes to. The caller checked room. */
  private accept(envelope: MessageEnvelope, groups: MemoryGroup[] = this.matchingGroups(envelope)): PublishResult {
    const seq = ++this.seq;
    for (const group of groups) group.enqueue(envelope, seq);
    if (groups.length === 0 && isTargeted(envelope)) this.inbox.push(envelope.componentTarget as string, { envelope, seq });
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE) this.publishedIds.remember(envelope.messageId);
    this.metrics.recordPublished(envelope.eventType);
    return { messageId: envelope.messageId, duplicate: false };
  }

  /** The name of a queue the message would overflow, if any. */
  private findFullQueue(envelope: MessageEnvelope, groups: MemoryGroup[] = this.matchingGroups(envelope)): string | undefined {
    const limit = this.options.maxQueueSize;
    for (const group of groups) if (group.size >= limit) return group.streamName;
    if (groups.length === 0 && isTargeted(envelope)) {
      const target = envelope.componentTarget as string;
      if (this.inbox.size(target) >= limit) return `${this.options.streamPrefix}:target:${target}`;
    }
    return undefined;
  }

  /** The groups the message routes to (a fresh array; routing is per publish, not per group). */
  private matchingGroups(envelope: MessageEnvelope): MemoryGroup[] {
    const out: MemoryGroup[] = [];
    const exact = this.groupsByPattern.get(envelope.eventType);
    if (exact) for (const group of exact) if (groupReceives(group.spec, envelope)) out.push(group);
    const any = this.groupsByPattern.get('*');
    if (any) for (const group of any) if (groupReceives(group.spec, envelope)) out.push(group);
    return out;
  }

  private waitForRoom(envelope: MessageEnvelope): Promise<PublishResult> {
    return new Promise<PublishResult>((resolve, reject) => {
      const waiting: WaitingPublish = { envelope, resolve, reject, timer: undefined, done: false };
      const timeoutMs = this.options.publishTimeoutMs;
      waiting.timer = setTimeout(() => {
        this.settleWaiting(
          waiting,
          new QueueFullError(
            this.findFullQueue(envelope) ?? 'publish queue',
            this.options.maxQueueSize,
            `no room for message ${envelope.messageId} within publishTimeoutMs (${timeoutMs} ms)`,
          ),
        );
        this.admitWaitingPublishes();
      }, timeoutMs);
      this.waitingPublishes.push(waiting);
    });
  }

  /** Admits waiting publishes in their order while there is room; stops at the first that still waits. */
  private admitWaitingPublishes(): void {
    while (this.waitingPublishes.length > 0) {
      const head = this.waitingPublishes.peek() as WaitingPublish;
      if (head.done) {
        this.waitingPublishes.shift();
        continue;
      }
      if (this.findFullQueue(head.envelope) !== undefined) return;
      this.waitingPublishes.shift();
      head.done = true;
      clearTimeout(head.timer);
      head.resolve(this.accept(head.envelope));
    }
  }

  private settleWaiting(waiting: WaitingPublish, error: unknown): void {
    if (waiting.done) return;
    waiting.done = true;
    clearTimeout(waiting.timer);
    waiting.reject(error);
  }

  private addGroup(spec: MemoryGroup['spec']): MemoryGroup {
    const group = new MemoryGroup(
      {
        group: spec.group,
        eventPattern: spec.eventPattern,
        componentId: spec.componentId,
        sessionId: spec.sessionId,
        targetedOnly: spec.targetedOnly,
        durable: spec.durable,
      },
      this.groupContext,
    );
    this.groups.set(group.spec.group, group);
    const list = this.groupsByPattern.get(group.spec.eventPattern);
    if (list) list.push(group);
    else this.groupsByPattern.set(group.spec.eventPattern, [group]);
    for (const waiting of this.inbox.takeFor(group.spec)) group.enqueue(waiting.envelope, waiting.seq);
    return group;
  }

  private async removeGroup(group: MemoryGroup): Promise<void> {
    this.groups.delete(group.spec.group);
    const list = this.groupsByPattern.get(group.spec.eventPattern);
    if (list) {
      const rest = list.filter((g) => g !== group);
      if (rest.length > 0) this.groupsByPattern.set(group.spec.eventPattern, rest);
      else this.groupsByPattern.delete(group.spec.eventPattern);
    }
    await group.lanes.stop(this.options.closeTimeoutMs);
    this.admitWaitingPublishes();
  }

  private expireIdleGroups(): void {
    const cutoff = Date.now() - this.options.groupExpiryMs;
    for (const group of [...this.groups.values()]) {
      if (!group.spec.durable || group.consumers > 0 || group.lastActiveAt > cutoff) continue;
      this.expiredGroups.push(group.spec.group);
      if (this.expiredGroups.length > MAX_EXPIRED_REPORTED) this.expiredGroups.shift();
      this.options.logger.info('removed an expired durable group', { group: group.spec.group, lost: group.size });
      void this.removeGroup(group);
    }
  }

  private deadLetter(group: MemoryGroup, delivery: MemoryDelivery, error: unknown, attempts: number): void {
    const now = Date.now() / 1000;
    this.deadLetters.add({
      envelope: { ...delivery.envelope, retryCount: Math.max(0, attempts - 1) },
      error: errorToDeadLetterError(error),
      attempts,
      firstFailedAt: delivery.firstFailedAt ?? now,
      lastFailedAt: now,
      source: { stream: group.streamName, id: String(delivery.seq) },
      group: group.spec.group,
    });
    this.metrics.recordDeadLettered(this.deadLetters.size, group.spec.group);
    this.options.logger.error('message dead-lettered', {
      group: group.spec.group,
      messageId: delivery.envelope.messageId,
      attempts,
    });
  }
}

/**
 * Gives the envelope its own payload and metadata, decoded from the JSON made while validating, so
 * later changes by the publisher never reach a handler.
 */
function snapshot(prepared: PreparedPublish): MessageEnvelope {
  // preparePublish made this envelope object; nobody else holds it yet.
  const envelope = prepared.envelope as { -readonly [K in keyof MessageEnvelope]: MessageEnvelope[K] };
  envelope.payload = decodeBody(prepared.payloadJson);
  envelope.metadata = decodeBody(prepared.metadataJson);
  return envelope;
}

function decodeBody(json: string): JsonObject {
  return json === '{}' ? {} : (JSON.parse(json) as JsonObject);
}
