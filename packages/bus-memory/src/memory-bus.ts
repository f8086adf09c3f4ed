/**
 * The in-memory backend: the whole `MessageBus` contract in one process (not the design's simplified
 * sample). Every group has a bounded queue; a publish that would overflow one waits for room in
 * publish order, or rejects, by `onQueueFull`; what else it holds is capped by options too (waiting
 * publishes, target queues, dedupe ids: queue-limits.ts, options.ts). Nothing survives the process:
 * use Redis or NATS for that.
 *
 * Names it reports (dead-letter sources, health): `<prefix>:group:<group>` per group.
 * Every attempt gets its own payload and metadata, as a handler on a wire backend would: a copy of
 * the plain copies made while validating (message-bodies.ts, kept on each delivery).
 */
import {
  BusClosedError,
  Deque,
  PublishAdmission,
  MessageDeliveryMode,
  MetricsRecorder,
  QueueFullError,
  assertSameGroupSpec,
  guardedLogger,
  isTargeted,
  prepareCheckedPublish,
  redriveSkipReason,
  resolveSubscription,
  validateDeadLetterFilter,
  validateDeadLetterLimit,
  validateName,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type EnvelopeInit,
  type HealthReport,
  type HealthStatus,
  type MessageBus,
  type MessageEnvelope,
  type JsonObject,
  type MessageHandler,
  type PublishResult,
  type QueueKey,
  type PurgeResult,
  type RedriveResult,
  type SubscribeOptions,
} from '@woodwork/bus-core';
import { DeadLetterStore } from './dead-letter-store.js';
import { bodyOf, type MessageBody } from './message-bodies.js';
import { DedupeWindow } from './dedupe-window.js';
import { MemoryGroup, newPublication, type GroupContext, type Publication } from './memory-group.js';
import { resolveMemoryBusOptions, type MemoryBusOptions, type ResolvedMemoryBusOptions } from './options.js';
import { QueueLimits } from './queue-limits.js';
import { RouteIndex } from './route-index.js';
import { TargetInbox } from './target-inbox.js';

const MAX_EXPIRED_REPORTED = 100;

/** A message accepted for delivery: its envelope and the checked copies of its payload and metadata. */
interface WaitingPublish {
  readonly envelope: MessageEnvelope;
  readonly body: MessageBody;
}

export class MemoryMessageBus implements MessageBus {
  readonly backend = 'memory';
  readonly options: ResolvedMemoryBusOptions;
  private readonly metrics: MetricsRecorder;
  private readonly groups = new Map<string, MemoryGroup>();
  /** Groups by what routing and session deletion look up (pattern, session, target): no scans. */
  private readonly routes = new RouteIndex<MemoryGroup, Publication>();
  /** Durable groups without replicas: the only ones expiry looks at. */
  private readonly unattached = new Set<MemoryGroup>();
  /** Groups remembering acknowledged `exactly_once` ids: the only ones the sweep forgets ids of. */
  private readonly rememberingIds = new Set<MemoryGroup>();
  private readonly subscriptions = new Map<string, MemoryGroup>();
  private readonly inbox = new TargetInbox();
  private readonly limits: QueueLimits;
  private readonly deadLetters: DeadLetterStore;
  private readonly publishedIds: DedupeWindow;
  /** Publishes waiting for room (core's admission: call order, deadline, cap, close, deleted sessions). */
  private readonly waiting: PublishAdmission<WaitingPublish>;
  private readonly expiredGroups: string[] = [];
  private readonly groupContext: GroupContext;
  private readonly expiryTimer: NodeJS.Timeout;
  private seq = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: MemoryBusOptions = {}) {
    const resolved = resolveMemoryBusOptions(options);
    this.options = { ...resolved, logger: guardedLogger(resolved.logger) };
    this.metrics = new MetricsRecorder(this.options.onMetric, (error, event) =>
      this.options.logger.warn('onMetric callback failed', { metric: event.name, error: String(error) }),
    );
    this.limits = new QueueLimits(this.options, this.inbox);
    this.deadLetters = new DeadLetterStore(this.options.deadLetterMaxSize);
    this.publishedIds = new DedupeWindow(this.options.dedupeWindowMs, this.options.maxDedupeIds);
    this.groupContext = {
      options: this.options,
      metrics: this.metrics,
      // The record only: its metric and log line are the group's observers' (a throwing logger cannot make it written twice).
      storeDeadLetter: (record) => void this.deadLetters.add(record),
      deadLetterCount: () => this.deadLetters.size,
      onProgress: (group) => this.waiting.roomIn(group),
      publicationHeld: (publication) => this.routes.held(publication),
      publicationReleased: (publication) => this.routes.released(publication),
      remembersIds: (group) => void this.rememberingIds.add(group),
      duplicateUntil: (messageId) => this.publishedIds.expiryOf(messageId),
    };
    this.waiting = new PublishAdmission<WaitingPublish>(
      {
        route: (publication) => this.queuesFor(publication.envelope),
        isFull: (queue) => this.limits.isFull(queue),
        accept: (publication, queues) => this.acceptWaiting(publication, queues),
        timeoutError: ({ envelope }, timeoutMs) => {
          const full = this.limits.firstFull(this.queuesFor(envelope));
          const detail = `no room for message ${envelope.messageId} within publishTimeoutMs (${timeoutMs} ms)`;
          return full === undefined ? new QueueFullError('publish queue', this.options.maxQueueSize, detail) : this.limits.fullError(full, detail);
        },
        // Past `maxWaitingPublishes` a publish rejects at once instead of waiting, so a loop of
        // publishes nobody awaits cannot hold millions of them (and their timers) in memory.
        limitError: ({ envelope }, waiting) => this.limits.waitingFullError(waiting, envelope.messageId),
        // Accepted and deleted with the session, as if it had found room just before.
        deletedResult: ({ envelope }) => this.record(envelope),
      },
      { timeoutMs: this.options.publishTimeoutMs, limit: this.options.maxWaitingPublishes },
    );
    const sweepEvery = Math.max(10, Math.min(this.options.groupExpiryMs, 60_000));
    this.expiryTimer = setInterval(() => this.expireIdleGroups(), sweepEvery);
    this.expiryTimer.unref();
  }

  async publish<P extends object = JsonObject>(input: MessageEnvelope<P> | EnvelopeInit<P>): Promise<PublishResult> {
    this.assertOpen('publish');
    const prepared = prepareCheckedPublish(input, this.options);
    const envelope = prepared.envelope;
    // The plain copies made while validating go with every delivery, handed to nobody: each attempt
    // gets its own copy of them (message-bodies.ts).
    const body: MessageBody = { payload: prepared.payloadCopy, metadata: prepared.metadataCopy };
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.publishedIds.has(envelope.messageId)) {
      return { messageId: envelope.messageId, duplicate: true };
    }
    const queues = this.queuesFor(envelope);
    if (!this.waiting.blocks(envelope.sessionId, queues)) {
      const full = this.limits.firstFull(queues);
      if (full === undefined) return this.accept(envelope, body, queues);
      if (this.options.onQueueFull === 'reject') throw this.limits.fullError(full);
    }
    return this.waiting.wait({ envelope, body }, queues);
  }

  async subscribe<P extends object = JsonObject>(eventPattern: string, handler: MessageHandler<P>, options?: SubscribeOptions): Promise<string> {
    this.assertOpen('subscribe');
    const subscription = resolveSubscription(eventPattern, handler, options, this.options);
    let group = this.groups.get(subscription.group);
    if (group) {
      assertSameGroupSpec(group.spec, subscription);
    } else {
      group = this.addGroup(subscription);
    }
    group.addReplica(subscription);
    this.unattached.delete(group);
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
    // A group bound to a session that was deleted while it had replicas goes with its last one.
    if (group.consumers === 0 && (!group.spec.durable || group.sessionDeleted)) await this.removeGroup(group);
    else if (group.consumers === 0) this.unattached.add(group);
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
    // Only the groups bound to the session or holding its deliveries (route-index.ts).
    for (const group of this.routes.groupsOfSession(sessionId)) {
      group.abortSession(sessionId);
      if (group.spec.sessionId !== sessionId) continue;
      if (group.consumers === 0) await this.removeGroup(group);
      else group.sessionDeleted = true;
    }
    this.inbox.removeSession(sessionId);
    if (this.deadLetters.removeSession(sessionId) > 0) this.metrics.recordDeadLetterQueueSize(this.deadLetters.size);
    // A publish of the session still waiting for room is accepted and deleted with the session, as if
    // it had found room just before: it resolves, and nothing of the session is delivered.
    this.waiting.resolveSession(sessionId);
    this.waiting.routesChanged();
  }

  async getDeadLetterMessages(limit = 100, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<DeadLetterRecord[]> {
    this.assertOpen('getDeadLetterMessages');
    validateDeadLetterLimit(limit);
    validateDeadLetterFilter(filter, false);
    return this.deadLetters.list({ ...filter, limit });
  }

  async redriveDeadLetters(filter?: DeadLetterFilter): Promise<RedriveResult> {
    this.assertOpen('redriveDeadLetters');
    validateDeadLetterFilter(filter);
    const result: RedriveResult = { redriven: [], skipped: [] };
    for (const record of this.deadLetters.list(filter)) {
      const cannot = redriveSkipReason(record);
      if (cannot !== undefined) {
        result.skipped.push({ id: record.id, reason: cannot });
        continue;
      }
      const group = this.groups.get(record.group);
      if (!group) {
        result.skipped.push({ id: record.id, reason: `group ${record.group} no longer exists` });
        continue;
      }
      // The bound holds for redrive too, and it does not take room a waiting publish waits for.
      if (this.limits.isFull(group) || this.waiting.waitsFor(group)) {
        result.skipped.push({ id: record.id, reason: `queue ${group.streamName} is full (limit ${this.options.maxQueueSize}); redrive it later` });
        continue;
      }
      const envelope = { ...record.envelope, retryCount: 0 };
      if (!group.enqueue(envelope, bodyOf(envelope), ++this.seq, newPublication(envelope.sessionId))) {
        result.skipped.push({ id: record.id, reason: `group ${record.group} already acknowledged ${envelope.messageId} (exactly_once)` });
        continue;
      }
      this.deadLetters.remove(record.id);
      result.redriven.push(record.id);
    }
    if (result.redriven.length > 0) this.metrics.recordDeadLetterQueueSize(this.deadLetters.size);
    return result;
  }

  async purgeDeadLetters(filter?: DeadLetterFilter): Promise<PurgeResult> {
    this.assertOpen('purgeDeadLetters');
    validateDeadLetterFilter(filter);
    const purged = this.deadLetters.removeMatching(filter);
    if (purged > 0) this.metrics.recordDeadLetterQueueSize(this.deadLetters.size);
    return { purged };
  }

  async healthCheck(): Promise<HealthReport> {
    this.assertOpen('healthCheck');
    this.expireIdleGroups();
    const groups = [...this.groups.values()];
    const targetSizes = this.inbox.sizes();
    const fullest = Math.max(0, ...groups.map((g) => g.size), ...Object.values(targetSizes));
    // Deliveries whose dead-letter record or acknowledgement keeps failing: held and retried, not lost.
    const failingSettles = groups.reduce((n, g) => n + g.failingSettles, 0);
    const full =
      this.waiting.size > 0 || fullest >= this.options.maxQueueSize * 0.9 || this.inbox.targets >= this.options.maxTargetQueues;
    const status: HealthStatus = full || failingSettles > 0 ? 'degraded' : 'healthy';
    this.metrics.recordHealthStatus(status);
    return {
      status,
      backend: this.backend,
      metrics: this.metrics.snapshot(this.subscriptions.size, this.deadLetters.size, status),
      groups: groups.map((g) => g.health()),
      expiredGroups: [...this.expiredGroups],
      details: {
        maxQueueSize: this.options.maxQueueSize,
        onQueueFull: this.options.onQueueFull,
        waitingPublishes: this.waiting.size,
        maxWaitingPublishes: this.options.maxWaitingPublishes,
        targetQueues: this.inbox.targets,
        maxTargetQueues: this.options.maxTargetQueues,
        waitingForTarget: targetSizes,
        // What per-session and per-message state the bus holds, to check it stays bounded.
        sessionLanes: groups.reduce((n, g) => n + g.sessions, 0),
        sessionsWaitingForTarget: this.inbox.sessions,
        dedupeIds: groups.reduce((n, g) => n + g.acknowledgedIdCount, this.publishedIds.size),
        maxDedupeIds: this.options.maxDedupeIds,
        dedupeIdsEvicted: groups.reduce((n, g) => n + g.acknowledgedIdsEvicted, this.publishedIds.evicted),
        deadLetterMaxSize: this.options.deadLetterMaxSize,
        deadLettersDropped: this.deadLetters.dropped,
        failingSettles,
      },
      ...(status === 'healthy'
        ? {}
        : {
            error: [
              full ? `a queue is full or nearly full; publishers ${this.options.onQueueFull === 'wait' ? 'wait' : 'are rejected'}` : '',
              failingSettles > 0 ? `${failingSettles} deliveries cannot be dead-lettered or acknowledged; they are held and retried` : '',
            ]
              .filter(Boolean)
              .join('; '),
          }),
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.expiryTimer);
    this.waiting.rejectAll(new BusClosedError('publish'));
    await Promise.all([...this.groups.values()].map((g) => g.stop(this.options.closeTimeoutMs)));
    this.groups.clear();
    this.routes.clear();
    this.unattached.clear();
    this.rememberingIds.clear();
    this.subscriptions.clear();
    this.inbox.clear();
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new BusClosedError(operation);
  }

  /** Queues the message in every queue it routes to (the caller checked room). */
  private accept(envelope: MessageEnvelope, body: MessageBody, queues: readonly QueueKey[]): PublishResult {
    const seq = ++this.seq;
    const publication = newPublication(envelope.sessionId);
    for (const queue of queues) {
      if (typeof queue === 'string') this.inbox.push(queue, { envelope, body, seq });
      else (queue as MemoryGroup).enqueue(envelope, body, seq, publication);
    }
    return this.record(envelope);
  }

  /** A waiting publish found room; an `exactly_once` id accepted meanwhile makes it a duplicate. */
  private acceptWaiting({ envelope, body }: WaitingPublish, queues: readonly QueueKey[]): PublishResult {
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE && this.publishedIds.has(envelope.messageId)) {
      return { messageId: envelope.messageId, duplicate: true };
    }
    return this.accept(envelope, body, queues);
  }

  /** Counts an accepted publish and remembers an `exactly_once` id. */
  private record(envelope: MessageEnvelope): PublishResult {
    if (envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE) this.publishedIds.remember(envelope.messageId);
    this.metrics.recordPublished(envelope.eventType);
    return { messageId: envelope.messageId, duplicate: false };
  }

  /**
   * The queues the message goes to: its groups, plus the inbox of its target when no group of the
   * target takes it (observers watch; they never stand in for the target).
   */
  private queuesFor(envelope: MessageEnvelope): readonly QueueKey[] {
    const groups: QueueKey[] = this.matchingGroups(envelope);
    if (isTargeted(envelope) && !groups.some((g) => !(g as MemoryGroup).spec.observer)) {
      groups.push(envelope.componentTarget as string);
    }
    return groups;
  }

  /** The groups the message routes to (a fresh array; routing is per publish, not per group). */
  private matchingGroups(envelope: MessageEnvelope): MemoryGroup[] {
    return this.routes.collect(envelope, []);
  }

  private addGroup(spec: MemoryGroup['spec']): MemoryGroup {
    const group = new MemoryGroup(spec, this.groupContext);
    this.groups.set(group.spec.group, group);
    this.routes.add(group);
    for (const waiting of this.inbox.takeFor(group.spec)) group.enqueue(waiting.envelope, waiting.body, waiting.seq, newPublication(waiting.envelope.sessionId));
    // Waiting publishes may route to the new group now, and its target's inbox may have room.
    this.waiting.routesChanged();
    return group;
  }

  private async removeGroup(group: MemoryGroup): Promise<void> {
    if (this.groups.get(group.spec.group) !== group) return;
    this.groups.delete(group.spec.group);
    this.unattached.delete(group);
    this.rememberingIds.delete(group);
    this.routes.remove(group);
    // Publishes waiting for its room no longer route to it.
    this.waiting.routesChanged();
    // What it had not delivered is dropped (and no longer held: the route index forgets it);
    // attempts running finish on their own, unaborted and not waited for (the caller may be one of
    // them: a handler unsubscribing itself).
    await group.stop(0, { abort: false });
  }

  private expireIdleGroups(): void {
    const now = Date.now();
    // Ids past their window are otherwise forgotten only when another exactly_once message comes.
    this.publishedIds.sweep(now);
    for (const group of this.rememberingIds) if (!group.sweepAcknowledgedIds(now)) this.rememberingIds.delete(group);
    const cutoff = now - this.options.groupExpiryMs;
    // A target that never subscribed: its queue goes the way of an unused durable group.
    const expiredTargets = this.inbox.removeIdleSince(cutoff);
    for (const [target, lost] of expiredTargets) {
      this.reportExpired(`target:${target}`);
      this.options.logger.info('removed the expired queue of a target that never subscribed', { target, lost });
    }
    if (expiredTargets.length > 0) this.waiting.routesChanged();
    for (const group of [...this.unattached]) {
      if (!group.spec.durable || group.consumers > 0 || group.lastActiveAt > cutoff) continue;
      this.reportExpired(group.spec.group);
      this.options.logger.info('removed an expired durable group', { group: group.spec.group, lost: group.size });
      void this.removeGroup(group);
    }
  }

  private reportExpired(name: string): void {
    this.expiredGroups.push(name);
    if (this.expiredGroups.length > MAX_EXPIRED_REPORTED) this.expiredGroups.shift();
  }
}
