/**
 * The Redis Streams backend of the woodwork bus. The key layout is in keys.ts; publishing in
 * publisher.ts; one group's delivery in redis-group.ts (leases in partition-owner.ts, reads in
 * partition-reader.ts); the registry in group-registry.ts; dead letters in dead-letter-store.ts
 * and session-cleanup.ts. Connections: one command connection per bus (pipelined on its socket,
 * not auto-pipelined), one for acks, one read loop for every group consuming in this process
 * (read-loop.ts), one pub/sub subscriber for notices: never one per group, session or subscription.
 */
import { hostname } from 'node:os';
import { inspect } from 'node:util';
import { randomBytes } from 'node:crypto';
import {
  BusClosedError,
  InvalidConfigError,
  MetricsRecorder,
  OnceOpening,
  assertSameGroupSpec,
  encodeEnvelope,
  encodeCheckedWire,
  prepareCheckedPublish,
  redriveSkipReason,
  resolveSubscription,
  undecodableDeadLetter,
  validateDeadLetterFilter,
  validateDeadLetterLimit,
  validateName,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type EnvelopeInit,
  type GroupSpec,
  type HealthReport,
  type HealthStatus,
  type JsonObject,
  type MessageBus,
  type MessageEnvelope,
  type MessageHandler,
  type PublishResult,
  type PurgeResult,
  type RedriveResult,
  type SubscribeOptions,
} from '@woodwork/bus-core';
import { surfaceError } from './access-errors.js';
import { accessContext, connectClient, createClient, isReady, refusalOf, type RedisClient } from './connection.js';
import { DeadLetterStore } from './dead-letter-store.js';
import { groupHealth, groupNumbers, lastActive, liveMembers, serverNowMs } from './group-health.js';
import { deleteGroup, listGroups, readGroup, recreateGroup, registerGroup, specOf, type RegistryContext } from './group-registry.js';
import { LAYOUT_VERSION, eventsKey, groupKeyOf, layoutFor, membersKey, targetsKey, type Layout } from './keys.js';
import { resolveRedisBusOptions, type RedisBusOptions, type ResolvedRedisBusOptions } from './options.js';
import { Publisher } from './publisher.js';
import { ReadLoop } from './read-loop.js';
import { RedisGroup, type GroupHost } from './redis-group.js';
import { defineScripts, type Scripts } from './scripts.js';
import { deleteSessionEntries } from './session-cleanup.js';
import { SessionNotices } from './session-notices.js';
import { fieldsOf, type StreamEntry } from './stream-replies.js';

const MAX_EXPIRED_REPORTED = 100;
/** A private group whose process died (no live member) is removed after this long unused. */
const ORPHAN_PRIVATE_MS = 120_000;
/** How long a health check waits for the acks on their way before it reads what the groups have pending. */
const ACKS_IN_HEALTH_MS = 1_000;

export class RedisMessageBus implements MessageBus {
  readonly backend = 'redis';
  private readonly metrics: MetricsRecorder;
  private readonly groups = new Map<string, RedisGroup>();
  private readonly opening = new OnceOpening<RedisGroup>();
  private readonly leaving = new Set<Promise<void>>();
  private readonly subscriptions = new Map<string, RedisGroup>();
  private readonly expiredGroups: string[] = [];
  /** When this process detached the last replica of a group (expiry counts from then at the earliest). */
  private readonly detachedAt = new Map<string, number>();
  private readonly deadLetters: DeadLetterStore;
  private readonly publisher: Publisher;
  private readonly groupHost: GroupHost;
  private readonly registry: RegistryContext;
  private readonly maintenance: NodeJS.Timeout;
  /** deleteSessionQueue's notices to the other buses of the prefix. */
  private readonly notices: SessionNotices;
  private serial = 0;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly options: ResolvedRedisBusOptions,
    private readonly client: RedisClient,
    private readonly scripts: Scripts,
    private readonly ackClient: RedisClient,
    readonly layout: Layout,
    readonly consumerBase: string,
  ) {
    this.metrics = new MetricsRecorder(options.onMetric, (error, event) => options.logger.warn('onMetric callback failed', { metric: event.name, error: String(error) }));
    this.deadLetters = new DeadLetterStore(client, layout.dlq, options.deadLetterMaxSize);
    this.publisher = new Publisher(client, scripts, layout, options);
    this.registry = { client, scripts, layout };
    this.groupHost = {
      client,
      scripts,
      ackClient,
      ackScripts: defineScripts(ackClient),
      layout,
      options,
      metrics: this.metrics,
      deadLetters: this.deadLetters,
      deadLetterUndecodable: (group, n, entry, reason) => this.deadLetterUndecodable(group, n, entry, reason),
      recreate: (stored, n, start) => recreateGroup(this.registry, stored, n, start),
      readLoop: new ReadLoop({ client, layout, options }),
    };
    this.notices = new SessionNotices(client, options, layout, consumerBase, (sessionId) => this.dropSession(sessionId), options.logger);
    this.maintenance = setInterval(() => void this.maintain().catch(() => undefined), options.maintenanceIntervalMs);
    this.maintenance.unref();
  }

  /** Connects and checks (or records) the namespace's layout; the bus is ready when it resolves. */
  static async connect(options: RedisBusOptions = {}): Promise<RedisMessageBus> {
    const resolved = resolveRedisBusOptions(options);
    try {
      return await RedisMessageBus.open(options, resolved);
    } catch (error) {
      throw surfaceError(error, accessContext(resolved));
    }
  }

  private static async open(options: RedisBusOptions, resolved: ResolvedRedisBusOptions): Promise<RedisMessageBus> {
    const consumerBase = resolved.consumerName ?? `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40)}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const client = createClient(resolved, `woodwork ${resolved.streamPrefix} ${consumerBase}`);
    client.on('error', () => undefined);
    await connectClient(client, resolved);
    const ackClient = createClient(resolved, `woodwork-acks ${resolved.streamPrefix} ${consumerBase}`);
    ackClient.on('error', () => undefined);
    try {
      await connectClient(ackClient, resolved);
    } catch (error) {
      client.disconnect();
      throw error;
    }
    try {
      const scripts = defineScripts(client);
      const probe = layoutFor(resolved.streamPrefix, resolved.partitions);
      await client.hsetnx(probe.meta, 'partitions', String(resolved.partitions));
      await client.hsetnx(probe.meta, 'version', String(LAYOUT_VERSION));
      const version = Number(await client.hget(probe.meta, 'version'));
      if (version !== LAYOUT_VERSION) {
        throw new InvalidConfigError('streamPrefix', `"${resolved.streamPrefix}" holds a bus of layout version ${version}; this package speaks version ${LAYOUT_VERSION}`);
      }
      const partitions = Number(await client.hget(probe.meta, 'partitions'));
      if (partitions !== resolved.partitions && Object.hasOwn(options, 'partitions')) {
        throw new InvalidConfigError('partitions', `must be ${partitions}: the namespace "${resolved.streamPrefix}" was created with ${partitions} partitions; got ${resolved.partitions}`);
      }
      return new RedisMessageBus({ ...resolved, partitions }, client, scripts, ackClient, layoutFor(resolved.streamPrefix, partitions), consumerBase);
    } catch (error) {
      client.disconnect();
      ackClient.disconnect();
      throw error;
    }
  }

  publish<P extends object = JsonObject>(input: MessageEnvelope<P> | EnvelopeInit<P>): Promise<PublishResult> {
    // No async frame or closure kept per publish (what a busy publisher's collector pays for).
    let envelope: MessageEnvelope;
    let text: string;
    try {
      this.assertOpen('publish');
      const prepared = prepareCheckedPublish(input, this.options);
      envelope = prepared.envelope;
      text = encodeCheckedWire(envelope, prepared);
    } catch (error) {
      return Promise.reject(surfaceError(error, accessContext(this.options)));
    }
    return this.publisher.publish(envelope, text).then(
      (stored) => {
        if (!stored.duplicate) {
          this.metrics.recordPublished(envelope.eventType);
          this.groupHost.readLoop.published();
        }
        return { messageId: envelope.messageId, duplicate: stored.duplicate };
      },
      (error: unknown) => {
        throw surfaceError(error, accessContext(this.options));
      },
    );
  }

  subscribe<P extends object = JsonObject>(eventPattern: string, handler: MessageHandler<P>, options?: SubscribeOptions): Promise<string> {
    return this.surfaced(() => this.subscribeNow<P>(eventPattern, handler, options));
  }

  private async subscribeNow<P extends object = JsonObject>(eventPattern: string, handler: MessageHandler<P>, options?: SubscribeOptions): Promise<string> {
    this.assertOpen('subscribe');
    const subscription = resolveSubscription(eventPattern, handler, options, this.options);
    const group = await this.groupFor(subscription);
    this.assertOpen('subscribe');
    group.addReplica(subscription);
    this.subscriptions.set(subscription.subscriptionId, group);
    this.metrics.recordSubscriptions(this.subscriptions.size);
    return subscription.subscriptionId;
  }

  unsubscribe(subscriptionId: string): Promise<boolean> {
    return this.surfaced(() => this.unsubscribeNow(subscriptionId));
  }

  private async unsubscribeNow(subscriptionId: string): Promise<boolean> {
    this.assertOpen('unsubscribe');
    const group = this.subscriptions.get(subscriptionId);
    if (!group) return false;
    this.subscriptions.delete(subscriptionId);
    group.removeReplica(subscriptionId);
    this.metrics.recordSubscriptions(this.subscriptions.size);
    if (group.consumers > 0) return true;
    this.groups.delete(group.stored.group);
    if (group.stored.durable) this.detachedAt.set(group.stored.key, Date.now());
    if (!group.stored.durable) {
      await group.stop(0, false);
      await deleteGroup(this.registry, group.stored, membersKey(this.layout, group.stored.key));
    } else {
      // Running attempts finish (not awaited: a handler may unsubscribe itself), then the
      // partitions are released to whichever replica comes next, here or elsewhere.
      const left = group.stop(this.options.closeTimeoutMs, false).catch(() => undefined);
      this.leaving.add(left);
      void left.then(() => this.leaving.delete(left));
    }
    return true;
  }

  async createSessionQueue(sessionId: string): Promise<void> {
    this.assertOpen('createSessionQueue');
    validateName(sessionId, 'sessionId');
  }

  deleteSessionQueue(sessionId: string): Promise<void> {
    return this.surfaced(() => this.deleteSessionQueueNow(sessionId));
  }

  private async deleteSessionQueueNow(sessionId: string): Promise<void> {
    this.assertOpen('deleteSessionQueue');
    validateName(sessionId, 'sessionId');
    const stored = await listGroups(this.registry);
    await deleteSessionEntries(this.client, this.layout, sessionId, stored.map((g) => g.key));
    this.dropSession(sessionId);
    // The other processes drop what they had read of it (session-notices.ts), and answer.
    await this.notices.announce(sessionId);
    const records = await this.deadLetters.list({ sessionId }, Number.MAX_SAFE_INTEGER);
    for (const record of records) await this.deadLetters.remove(record.id);
    if (records.length > 0) this.metrics.recordDeadLetterQueueSize(await this.deadLetters.size());
  }

  getDeadLetterMessages(limit = 100, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<DeadLetterRecord[]> {
    return this.surfaced(() => this.getDeadLetterMessagesNow(limit, filter));
  }

  private async getDeadLetterMessagesNow(limit = 100, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<DeadLetterRecord[]> {
    this.assertOpen('getDeadLetterMessages');
    validateDeadLetterLimit(limit);
    validateDeadLetterFilter(filter, false);
    return this.deadLetters.list(filter, limit);
  }

  redriveDeadLetters(filter?: DeadLetterFilter): Promise<RedriveResult> {
    return this.surfaced(() => this.redriveDeadLettersNow(filter));
  }

  private async redriveDeadLettersNow(filter?: DeadLetterFilter): Promise<RedriveResult> {
    this.assertOpen('redriveDeadLetters');
    validateDeadLetterFilter(filter);
    const result: RedriveResult = { redriven: [], skipped: [] };
    for (const record of await this.deadLetters.list(filter, filter?.limit ?? Number.MAX_SAFE_INTEGER)) {
      const why = redriveSkipReason(record);
      if (why !== undefined) {
        result.skipped.push({ id: record.id, reason: why });
        continue;
      }
      if (!(await readGroup(this.registry, this.groupKey(record.group)))) {
        result.skipped.push({ id: record.id, reason: `group ${record.group} no longer exists` });
        continue;
      }
      // Whoever removes the record sends it: two instances redriving at once send it once.
      if (!(await this.deadLetters.remove(record.id))) continue;
      const envelope = { ...record.envelope, retryCount: 0 };
      try {
        await this.publisher.publish(envelope, encodeEnvelope(envelope), record.group);
      } catch (error) {
        await this.deadLetters.restore(record).catch(() => undefined);
        throw error;
      }
      result.redriven.push(record.id);
    }
    if (result.redriven.length > 0) this.metrics.recordDeadLetterQueueSize(await this.deadLetters.size());
    return result;
  }

  purgeDeadLetters(filter?: DeadLetterFilter): Promise<PurgeResult> {
    return this.surfaced(() => this.purgeDeadLettersNow(filter));
  }

  private async purgeDeadLettersNow(filter?: DeadLetterFilter): Promise<PurgeResult> {
    this.assertOpen('purgeDeadLetters');
    validateDeadLetterFilter(filter);
    let purged = 0;
    for (const record of await this.deadLetters.list(filter, filter?.limit ?? Number.MAX_SAFE_INTEGER)) {
      if (await this.deadLetters.remove(record.id)) purged++;
    }
    if (purged > 0) this.metrics.recordDeadLetterQueueSize(await this.deadLetters.size());
    return { purged };
  }

  /** Runs a public operation; what it throws is the typed, redacted error (`surfaceError`). */
  private async surfaced<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw surfaceError(error, accessContext(this.options));
    }
  }

  async healthCheck(): Promise<HealthReport> {
    this.assertOpen('healthCheck');
    const refused = refusalOf(this.client, this.options);
    let status: HealthStatus = isReady(this.client) ? 'healthy' : refused ? 'unhealthy' : 'degraded';
    let error: string | undefined;
    let groups: HealthReport['groups'] = [];
    let deadLetterQueueSize = 0;
    try {
      if (refused) throw refused;
      if (!isReady(this.client)) throw new Error(`disconnected (${this.client.status}); reconnecting`);
      await this.expireIdleGroups();
      // Acks posted and not answered yet would still count as pending (a handler that returned).
      await Promise.all([...this.groups.values()].map((g) => g.acksAnswered(ACKS_IN_HEALTH_MS)));
      const [stored, numbers, active, nowMs] = await Promise.all([
        listGroups(this.registry),
        groupNumbers(this.client, this.layout),
        lastActive(this.client, this.layout),
        serverNowMs(this.client),
      ]);
      groups = stored.map((s) => groupHealth(s, numbers.get(s.key), this.groups.get(s.group)?.consumers ?? 0, active.get(s.key), nowMs));
      deadLetterQueueSize = await this.deadLetters.size();
    } catch (cause) {
      const surfaced = surfaceError(cause, accessContext(this.options));
      status = refused ? 'unhealthy' : 'degraded';
      error = `Redis at ${this.options.server}: ${String((surfaced as Error)?.message ?? surfaced)}`;
      groups = [...this.groups.values()].map((g) => groupHealth(g.stored, { pending: g.heldCount, lag: 0 }, g.consumers, g.lastActiveAt / 1000));
    }
    this.metrics.recordHealthStatus(status);
    return {
      status,
      backend: this.backend,
      metrics: this.metrics.snapshot(this.subscriptions.size, deadLetterQueueSize, status),
      groups,
      expiredGroups: [...this.expiredGroups],
      details: {
        server: this.options.server,
        connection: this.client.status,
        partitions: this.layout.partitions,
        claimIdleMs: this.options.claimIdleMs,
        consumer: this.consumerBase,
        publishBufferSize: this.options.publishBufferSize,
        publishBuffered: this.publisher.buffered,
        heldMessages: [...this.groups.values()].reduce((n, g) => n + g.heldCount, 0),
        sessionLanes: [...this.groups.values()].reduce((n, g) => n + g.lanes.sessions, 0),
        ownedPartitions: Object.fromEntries([...this.groups.values()].map((g) => [g.stored.group, g.owner.ownedCount])),
      },
      ...(error ? { error } : {}),
    };
  }

  /** What `util.inspect` / `console.log` show of a bus: never its connections (ioredis keeps the password in their options). */
  [inspect.custom](): string {
    return `RedisMessageBus { server: ${JSON.stringify(this.options.server)}, streamPrefix: ${JSON.stringify(this.options.streamPrefix)}, consumer: ${JSON.stringify(this.consumerBase)}, connection: ${this.client.status}, closed: ${this.closed} }`;
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.maintenance);
    await this.opening.settled();
    const groups = [...this.groups.values()];
    await Promise.all(groups.map((g) => g.stop(this.options.closeTimeoutMs, true)));
    await this.groupHost.readLoop.stop();
    await Promise.allSettled([...this.leaving]);
    if (isReady(this.client)) {
      await Promise.allSettled(groups.filter((g) => !g.stored.durable).map((g) => deleteGroup(this.registry, g.stored, membersKey(this.layout, g.stored.key))));
    }
    this.groups.clear();
    this.subscriptions.clear();
    this.publisher.failAll(new BusClosedError('publish'));
    await this.notices.close();
    await Promise.all([this.client.quit().catch(() => this.client.disconnect()), this.ackClient.quit().catch(() => this.ackClient.disconnect())]);
  }

  /** Drops what this bus holds of a deleted session (its entries are gone from the server). */
  private dropSession(sessionId: string): void {
    for (const group of this.groups.values()) group.abortSession(sessionId);
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new BusClosedError(operation);
  }

  private groupKey(group: string): string {
    return groupKeyOf(this.options.consumerGroup ? `${this.options.consumerGroup}~${group}` : group);
  }

  private async groupFor(spec: GroupSpec): Promise<RedisGroup> {
    const existing = this.groups.get(spec.group);
    if (existing) {
      assertSameGroupSpec(existing.stored, spec);
      return existing;
    }
    const group = await this.opening.open(
      spec.group,
      async () => {
        // A bus that consumes hears deleteSessionQueue's notices from the other processes.
        await this.notices.listen();
        const stored = await registerGroup(this.registry, specOf(spec), this.groupKey(spec.group));
        const opened = new RedisGroup(stored, this.groupHost, `${this.consumerBase}-${++this.serial}`);
        await opened.start();
        return opened;
      },
      (opened) => this.groups.set(spec.group, opened),
    );
    assertSameGroupSpec(group.stored, spec);
    this.groups.set(spec.group, group);
    return group;
  }

  private async maintain(): Promise<void> {
    if (this.closed || !isReady(this.client)) return;
    await this.expireIdleGroups();
    if (this.options.retentionMs <= 0) return;
    const cutoff = `${(await serverNowMs(this.client)) - this.options.retentionMs}-0`;
    for (let n = 0; n < this.layout.partitions; n++) await this.scripts.wwTrim(eventsKey(this.layout, n), targetsKey(this.layout, n), cutoff);
  }

  /** Groups with no live member anywhere, unused past groupExpiryMs (private ones of dead processes: 2 min). */
  private async expireIdleGroups(): Promise<void> {
    const now = await serverNowMs(this.client);
    const active = await lastActive(this.client, this.layout);
    for (const stored of await listGroups(this.registry)) {
      if (this.groups.has(stored.group) || this.opening.has(stored.group)) continue;
      const limit = stored.durable ? this.options.groupExpiryMs : Math.max(ORPHAN_PRIVATE_MS, this.options.claimIdleMs * 4);
      if ((active.get(stored.key) ?? 0) * 1000 > now - limit) continue;
      const detached = this.detachedAt.get(stored.key);
      if (detached !== undefined && detached > Date.now() - limit) continue;
      if ((await liveMembers(this.client, this.layout, stored.key, now)) > 0) continue;
      await deleteGroup(this.registry, stored, membersKey(this.layout, stored.key));
      this.detachedAt.delete(stored.key);
      if (!stored.durable) continue;
      this.expiredGroups.push(stored.group);
      if (this.expiredGroups.length > MAX_EXPIRED_REPORTED) this.expiredGroups.shift();
      this.options.logger.info('removed an expired durable group', { group: stored.group });
    }
  }

  private async deadLetterUndecodable(group: RedisGroup, n: number, entry: StreamEntry, reason: unknown): Promise<void> {
    const raw = entry.envelope ?? fieldsOf(entry);
    await this.deadLetters.add(undecodableDeadLetter({ raw, reason, source: { stream: eventsKey(this.layout, n), id: entry.id }, group: group.stored.group }));
    this.metrics.recordDeadLettered(await this.deadLetters.size().catch(() => 0), group.stored.group);
    this.options.logger.error('undecodable entry dead-lettered', { group: group.stored.group, id: entry.id, error: String((reason as Error)?.message ?? reason) });
  }
}
