/**
 * The NATS JetStream backend of the woodwork bus. The layout (streams, subjects, consumers) is in
 * subjects.ts; delivery per group in nats-group.ts; publishing in publisher.ts; dead letters in
 * dead-letter-store.ts. One connection per bus, whatever the groups and sessions.
 */
import { inspect } from 'node:util';
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { nuid, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import {
  AuthenticationError,
  BackendUnavailableError,
  BusClosedError,
  InvalidConfigError,
  MetricsRecorder,
  OnceOpening,
  PublishBuffer,
  assertSameGroupSpec,
  encodeEnvelope,
  errorToDeadLetterError,
  nowSeconds,
  prepareCheckedPublish,
  redactError,
  redactKnownSecrets,
  resolveSubscription,
  validateDeadLetterFilter,
  validateDeadLetterLimit,
  validateName,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type EnvelopeInit,
  type GroupHealth,
  type GroupSpec,
  type HealthReport,
  type HealthStatus,
  type MessageBus,
  type MessageEnvelope,
  type JsonObject,
  type MessageHandler,
  type PublishResult,
  type PurgeResult,
  type RedriveResult,
  type ResolvedSubscription,
  type SubscribeOptions,
} from '@woodwork/bus-core';
import { AccessWatch, deniedError, translateError, translateRejections } from './access.js';
import { deleteConsumer, infoOrUndefined, listGroups } from './consumers.js';
import { deleteStreamIfPresent } from './streams.js';
import { DeadLetterStore } from './dead-letter-store.js';
import { DeletedSessions } from './deleted-sessions.js';
import { SessionNotices } from './session-notices.js';
import { DeletionLog, dropMissedDeletions } from './deletion-log.js';
import { NatsGroup, type GroupHost } from './nats-group.js';
import { resolveNatsBusOptions, type NatsBusOptions, type ResolvedNatsBusOptions } from './options.js';
import { PubAcks } from './pub-acks.js';
import type { PulledMessage } from './pulled-message.js';
import { publishEnvelope, publishRaw, type PublisherHost } from './publisher.js';
import { featuresOf, openConnection, redactUrl, type ServerFeatures } from './server.js';
import { ensureStreams } from './streams.js';
import { StreamRecreation } from './stream-recreation.js';
import {
  assignmentSubject,
  consumerName,
  layoutFor,
  parseMessageSubject,
  partitionConsumerName,
  partitionOf,
  redriveSubject,
  sessionSubjects,
  type Layout,
} from './subjects.js';

const MAX_EXPIRED_REPORTED = 100;
const UNDECODABLE_KEEP_CHARS = 64 * 1024;

export class NatsMessageBus implements MessageBus {
  // Every failure a caller sees passes through one translation (translateFailure): a refused
  // JetStream API call or subject becomes PermissionDeniedError naming it, a login refused on
  // reconnect AuthenticationError, and no password, token or seed of the login survives in the
  // error or its causes.
  static {
    translateRejections(
      NatsMessageBus.prototype,
      ['publish', 'subscribe', 'unsubscribe', 'createSessionQueue', 'deleteSessionQueue', 'getDeadLetterMessages', 'redriveDeadLetters', 'purgeDeadLetters', 'healthCheck', 'close'],
      (bus, error) => bus.translateFailure(error),
    );
  }

  readonly backend = 'nats';

  /** What `util.inspect` / `console.log` show: never the connection, whose options hold the login. */
  [inspect.custom](): string {
    return `NatsMessageBus { backend: 'nats', streamPrefix: ${JSON.stringify(this.options.streamPrefix)}, server: ${JSON.stringify(redactUrl(this.options.url))}, login: ${JSON.stringify(this.options.auth.method)}, closed: ${this.closed} }`;
  }
  private readonly metrics: MetricsRecorder;
  private readonly groups = new Map<string, NatsGroup>();
  private readonly opening = new OnceOpening<NatsGroup>();
  private readonly subscriptions = new Map<string, NatsGroup>();
  private readonly expiredGroups: string[] = [];
  private readonly deadLetters: DeadLetterStore;
  private readonly publisher: PublisherHost;
  private readonly pubAcks: PubAcks;
  /** Publishes waiting while NATS is away (`publishBufferSize` > 0). */
  private readonly buffer: PublishBuffer | undefined;
  private readonly groupHost: GroupHost;
  /** Sessions deleted here: their messages still on their way are dropped, not run. */
  private readonly deletedSessions = new DeletedSessions();
  /** Deleted-session notices to and from the prefix's other buses (one subscription per bus). */
  private readonly sessionNotices: SessionNotices;
  /** Recent deletions in the state stream, for a bus that was away when a notice went out. */
  private readonly deletionLog: DeletionLog;
  /** After a reconnect: dropping what this bus holds of sessions deleted while it was away. */
  private missedDeletions: Promise<void> | undefined;
  /** Writes to shared groups' assignments (one subscription per bus, whatever the groups). */
  private readonly assignments: Subscription;
  private connected = true;
  private closed = false;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly options: ResolvedNatsBusOptions,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
    readonly features: ServerFeatures,
    leaseClients: { js: JetStreamClient; jsm: JetStreamManager },
    private readonly access: AccessWatch,
  ) {
    this.metrics = new MetricsRecorder(options.onMetric, (error, event) =>
      options.logger.warn('onMetric callback failed', { metric: event.name, error: String(error) }),
    );
    const timeoutMs = options.publishTimeoutMs || 5_000;
    this.deadLetters = new DeadLetterStore(js, jsm, layout, timeoutMs);
    this.pubAcks = new PubAcks(nc);
    const streams = new StreamRecreation(() => ensureStreams(jsm, layout, options, options.logger));
    this.publisher = {
      pubAcks: this.pubAcks,
      layout,
      timeoutMs,
      maxPayload: () => this.nc.info?.max_payload ?? features.maxPayload,
      connected: () => this.connected && !this.nc.isClosed(),
      recreateStreams: () => streams.recreate(),
    };
    const publisher = this.publisher;
    this.buffer =
      options.publishBufferSize > 0
        ? new PublishBuffer({
            size: options.publishBufferSize,
            deadlineMs: options.publishTimeoutMs,
            server: 'NATS',
            connected: publisher.connected,
            // publishRaw resends a lost request itself until publishTimeoutMs; what it gives up on
            // while the connection is down waits for the reconnect (same Nats-Msg-Id: stored once).
            retryable: (error) => error instanceof BackendUnavailableError && !publisher.connected(),
          })
        : undefined;
    this.groupHost = {
      nc,
      connected: () => this.connected && !this.nc.isClosed(),
      member: nuid.next(),
      leaseClients,
      recreateStreams: () => streams.recreate(),
      js,
      jsm,
      layout,
      options,
      features,
      metrics: this.metrics,
      storeDeadLetter: (record, writeId) => this.deadLetters.add(record, writeId),
      deadLetterCount: () => this.deadLetters.size(),
      deadLetterUndecodable: (group, msg, body, error) => this.deadLetterUndecodable(group, msg, body, error),
      sessionDeleted: (sessionId, seq) => this.deletedSessions.deleted(sessionId, seq),
      missedDeletions: () => this.missedDeletions,
    };
    this.deletionLog = new DeletionLog(js, jsm, layout);
    this.assignments = nc.subscribe(`${layout.prefix}.state.g.>`, {
      callback: (error, msg) => {
        if (error) return;
        for (const group of this.groups.values()) {
          if (group.shared && assignmentSubject(layout, group.consumer) === msg.subject) group.assignmentWritten(msg.string());
        }
      },
    });
    this.sessionNotices = new SessionNotices(nc, layout, this.groupHost.member, (sessionId, through) => this.dropSession(sessionId, through), options.logger);
    void this.watchStatus();
    access.onDenied((denial) => {
      const error = deniedError(denial, redactUrl(options.url), options.auth);
      if (denial.operation === 'publish') this.pubAcks.fail(denial.subject, error);
      options.logger.error('NATS denied an operation the bus needs', { operation: error.operation, error: error.message });
    });
  }

  /** Connects, creates the prefix's streams when missing, and returns the bus. */
  static async connect(options: NatsBusOptions = {}): Promise<NatsMessageBus> {
    const resolved = resolveNatsBusOptions(options);
    const layout = layoutFor(resolved.streamPrefix);
    const nc = await openConnection(resolved.url, resolved.connectTimeoutMs, `woodwork-bus ${resolved.streamPrefix}`, resolved.auth, resolved.inboxPrefix);
    const access = new AccessWatch(nc);
    let bus: NatsMessageBus | undefined;
    try {
      const info = nc.info;
      const features = featuresOf(info?.version ?? '0.0.0', info?.max_payload ?? 1024 * 1024);
      if (info && info.jetstream === false) throw new InvalidConfigError('url', `the NATS server at ${redactUrl(resolved.url)} has JetStream off; start it with -js`);
      const jsm = await jetstreamManager(nc, { timeout: resolved.publishTimeoutMs || 5_000 });
      const partitions = await ensureStreams(jsm, layout, resolved, resolved.logger);
      // Assignment reads and writes time out within a quarter of the lease: one stuck across an
      // outage must not keep the group from heartbeating once the server is back.
      const leaseTimeout = Math.max(1_000, Math.min(5_000, Math.floor(resolved.leaseMs / 4)));
      const leaseClients = { js: jetstream(nc, { timeout: leaseTimeout }), jsm: await jetstreamManager(nc, { timeout: leaseTimeout, checkAPI: false }) };
      bus = new NatsMessageBus(resolved, nc, jetstream(nc, { timeout: resolved.publishTimeoutMs || 5_000 }), jsm, layoutFor(layout.prefix, partitions), features, leaseClients, access);
      // A subscription the user may not make is refused before the server's PONG: check now, so a
      // missing permission fails connect instead of silently starving the bus.
      await nc.flush();
      const refused = access.peekDenials().find((d) => d.operation === 'subscription');
      if (refused) throw deniedError(refused, redactUrl(resolved.url), resolved.auth);
      return bus;
    } catch (error) {
      access.stop();
      if (bus) await bus.close().catch(() => undefined);
      await nc.close().catch(() => undefined);
      throw translateError(error, redactUrl(resolved.url), resolved.auth);
    }
  }

  async publish<P extends object = JsonObject>(input: MessageEnvelope<P> | EnvelopeInit<P>): Promise<PublishResult> {
    this.assertOpen('publish');
    const prepared = prepareCheckedPublish(input, this.options);
    const envelope = prepared.envelope;
    const buffer = this.buffer;
    const ack = await publishEnvelope(this.publisher, envelope, prepared, buffer ? (subject, body, msgID) => buffer.send(() => publishRaw(this.publisher, subject, body, msgID)) : undefined);
    if (!ack.duplicate) this.metrics.recordPublished(envelope.eventType);
    return { messageId: envelope.messageId, duplicate: ack.duplicate };
  }

  async subscribe<P extends object = JsonObject>(eventPattern: string, handler: MessageHandler<P>, options?: SubscribeOptions): Promise<string> {
    this.assertOpen('subscribe');
    const subscription = resolveSubscription(eventPattern, handler, options, this.options);
    const group = await this.groupFor(subscription);
    this.assertOpen('subscribe');
    this.subscriptions.set(subscription.subscriptionId, group);
    await group.addReplica(subscription);
    this.metrics.recordSubscriptions(this.subscriptions.size);
    return subscription.subscriptionId;
  }

  async unsubscribe(subscriptionId: string): Promise<boolean> {
    this.assertOpen('unsubscribe');
    const group = this.subscriptions.get(subscriptionId);
    if (!group) return false;
    this.subscriptions.delete(subscriptionId);
    await group.removeReplica(subscriptionId);
    if (group.consumers === 0 && !group.spec.durable && this.groups.get(group.spec.group) === group) {
      this.groups.delete(group.spec.group);
      await group.remove();
    }
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
    // The session stops here at once: a retry or a queued message of it must not start while the
    // purge is on its way (a loaded server takes longer than a short retry delay). Until the purge
    // is done every message of it that arrives is dropped.
    this.dropSession(sessionId, Number.MAX_SAFE_INTEGER);
    let through = 0;
    try {
      await this.jsm.streams.purge(this.layout.eventsStream, { filter: sessionSubjects(this.layout, sessionId) });
      // After the purge: every message of the session it removed is at or below the last sequence.
      through = (await this.jsm.streams.info(this.layout.eventsStream)).state.last_seq;
    } finally {
      // Later messages of the session run as usual (on failure: nothing more is dropped).
      this.deletedSessions.set(sessionId, through);
    }
    // Anything of it taken in meanwhile (none: arrivals were dropped; a redelivery of a held one).
    this.dropSession(sessionId, through);
    // For the buses that are away now and miss the notice: they look it up when they are back.
    await this.deletionLog.record(sessionId, through).catch((error: unknown) =>
      this.options.logger.warn('deleteSessionQueue: could not record the deletion for disconnected buses', { sessionId, error: String((error as Error)?.message ?? error) }),
    );
    // The prefix's other buses drop what they hold of it, and what of it is still on its way there.
    const { answers, dropped } = await this.sessionNotices.announce(sessionId, through);
    if (dropped > 0) this.options.logger.info('deleteSessionQueue: other processes dropped what they held of the session', { sessionId, answers, dropped });
    if ((await this.deadLetters.removeSession(sessionId)) > 0) this.metrics.recordDeadLetterQueueSize(await this.deadLetters.size());
    // Groups bound to the session that no replica here uses go with it.
    for (const { infos, stored } of await listGroups(this.groupHost)) {
      if (stored.sessionId !== sessionId || this.groups.get(stored.group)?.consumers) continue;
      const local = this.groups.get(stored.group);
      this.groups.delete(stored.group);
      await local?.stop(0, false);
      for (const info of infos) await deleteConsumer(this.groupHost, info.name);
      const subject = assignmentSubject(this.layout, consumerName(this.layout, stored.group));
      await this.jsm.streams.purge(this.layout.stateStream, { filter: subject }).catch(() => undefined);
    }
  }

  /** Drops what this bus holds of a deleted session, and what of it arrives later up to `through`. */
  private dropSession(sessionId: string, through: number): number {
    this.deletedSessions.add(sessionId, through);
    let dropped = 0;
    for (const group of this.groups.values()) dropped += group.abortSession(sessionId);
    return dropped;
  }

  async getDeadLetterMessages(limit = 100, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<DeadLetterRecord[]> {
    this.assertOpen('getDeadLetterMessages');
    validateDeadLetterLimit(limit);
    validateDeadLetterFilter(filter, false);
    return (await this.deadLetters.list(filter, limit)).map((s) => s.record);
  }

  async redriveDeadLetters(filter?: DeadLetterFilter): Promise<RedriveResult> {
    this.assertOpen('redriveDeadLetters');
    validateDeadLetterFilter(filter);
    const result: RedriveResult = { redriven: [], skipped: [] };
    for (const { seq, record } of await this.deadLetters.list(filter, filter?.limit ?? Number.MAX_SAFE_INTEGER)) {
      const consumer = consumerName(this.layout, record.group);
      const partitioned = partitionConsumerName(consumer, partitionOf(record.envelope.sessionId, this.layout.partitions));
      if (!(await infoOrUndefined(this.groupHost, partitioned)) && !(await infoOrUndefined(this.groupHost, consumer))) {
        result.skipped.push({ id: record.id, reason: `group ${record.group} no longer exists (no consumer ${consumer})` });
        continue;
      }
      const envelope = { ...record.envelope, retryCount: 0 };
      const subject = redriveSubject(this.layout, envelope.sessionId, consumer, envelope.eventType);
      // The record's id makes a repeated redrive (a lost PubAck) store one copy.
      await publishRaw(this.publisher, subject, encodeEnvelope(envelope), `redrive-${this.layout.dlqStream}-${seq}`);
      // Another instance redriving the same record at once removed it first: it counts there.
      if (await this.deadLetters.remove(seq)) result.redriven.push(record.id);
    }
    if (result.redriven.length > 0) this.metrics.recordDeadLetterQueueSize(await this.deadLetters.size());
    return result;
  }

  async purgeDeadLetters(filter?: DeadLetterFilter): Promise<PurgeResult> {
    this.assertOpen('purgeDeadLetters');
    validateDeadLetterFilter(filter);
    let purged = 0;
    for (const { seq } of await this.deadLetters.list(filter, filter?.limit ?? Number.MAX_SAFE_INTEGER)) {
      if (await this.deadLetters.remove(seq)) purged++;
    }
    if (purged > 0) this.metrics.recordDeadLetterQueueSize(await this.deadLetters.size());
    return { purged };
  }

  async healthCheck(): Promise<HealthReport> {
    this.assertOpen('healthCheck');
    let status: HealthStatus = this.publisher.connected() ? 'healthy' : 'degraded';
    let error: string | undefined;
    let groups: GroupHealth[] = [];
    let deadLetterQueueSize = 0;
    try {
      if (!this.publisher.connected()) throw new Error('disconnected; reconnecting');
      await this.nc.flush();
      await this.expireIdleGroups();
      const listed = await listGroups(this.groupHost);
      groups = listed.map(({ infos, stored }) => {
        const local = this.groups.get(stored.group);
        if (local) return local.health(infos);
        return {
          group: stored.group,
          eventPattern: stored.eventPattern,
          componentId: stored.componentId,
          sessionId: stored.sessionId,
          durable: stored.durable,
          consumers: 0,
          pending: infos.reduce((n, i) => n + i.num_ack_pending, 0),
          lag: infos.reduce((n, i) => n + i.num_pending, 0),
          lastActiveAt: Math.max(...infos.map((i) => Date.parse(i.created))) / 1000,
        };
      });
      deadLetterQueueSize = await this.deadLetters.size();
    } catch (cause) {
      status = this.nc.isClosed() ? 'unhealthy' : 'degraded';
      const denied = translateError(cause, redactUrl(this.options.url), this.options.auth);
      error = `NATS at ${redactUrl(this.options.url)}: ${String((denied as Error)?.message ?? denied)}`;
      groups = [...this.groups.values()].map((g) => g.health(undefined));
    }
    // Refusals since the last check (a pull or publish the user may not send) and a login refused
    // on reconnect are reported here, besides the log.
    const denials = this.access.takeDenials();
    if (this.access.authFailure && this.nc.isClosed()) {
      status = 'unhealthy';
      error = `NATS at ${redactUrl(this.options.url)} refused the login on reconnect (${this.access.authFailure}); the connection is closed`;
    } else if (denials.length > 0 && status === 'healthy') {
      status = 'degraded';
      error = denials.map((d) => deniedError(d, redactUrl(this.options.url), this.options.auth).message).join('; ');
    }
    if (error !== undefined) error = redactKnownSecrets(error, this.options.auth.secrets());
    this.metrics.recordHealthStatus(status);
    return {
      status,
      backend: this.backend,
      metrics: this.metrics.snapshot(this.subscriptions.size, deadLetterQueueSize, status),
      groups,
      expiredGroups: [...this.expiredGroups],
      details: {
        server: redactUrl(this.options.url),
        serverVersion: this.features.version,
        serverFeatures: { filterSubjects: this.features.filterSubjects, consumerPause: this.features.consumerPause },
        maxPayload: this.publisher.maxPayload(),
        streams: [this.layout.eventsStream, this.layout.dlqStream, this.layout.stateStream],
        partitions: this.layout.partitions,
        ackWaitMs: this.options.ackWaitMs,
        publishBufferSize: this.options.publishBufferSize,
        publishBuffered: this.buffer?.buffered ?? 0,
        heldMessages: [...this.groups.values()].reduce((n, g) => n + g.heldCount, 0),
        sessionLanes: [...this.groups.values()].reduce((n, g) => n + g.lanes.sessions, 0),
        login: this.options.auth.method,
        tls: this.options.auth.tls || /(^|,)\s*tls:\/\//.test(this.options.url),
        permissionDenied: denials.map((d) => `${d.operation === 'subscription' ? 'subscribe' : 'publish'} ${d.subject}`),
      },
      ...(error ? { error } : {}),
    };
  }

  close(): Promise<void> {
    if (!this.closing) this.closing = this.shutdown();
    return this.closing;
  }

  /**
   * Closes this bus, then deletes its prefix's streams (`<p>~EVENTS`, `<p>~DLQ`, `<p>~STATE`) and so
   * every message, dead letter, consumer and assignment of the prefix: the tenant is gone. Close the
   * prefix's other buses first (a live one recreates the streams it finds missing). Resolves with
   * the names of the streams it deleted.
   */
  async deleteNamespace(): Promise<string[]> {
    this.assertOpen('deleteNamespace');
    const deleted: string[] = [];
    this.closing = this.shutdown(async () => {
      for (const stream of [this.layout.eventsStream, this.layout.dlqStream, this.layout.stateStream]) {
        if (await deleteStreamIfPresent(this.jsm, stream)) deleted.push(stream);
      }
    });
    await this.closing;
    return deleted;
  }

  private async shutdown(beforeDisconnect?: () => Promise<void>): Promise<void> {
    this.closed = true;
    this.buffer?.failAll(new BusClosedError('publish'));
    await this.opening.settled();
    const groups = [...this.groups.values()];
    await Promise.all(groups.map((g) => g.stop(this.options.closeTimeoutMs, true)));
    if (this.publisher.connected()) {
      await Promise.allSettled(groups.filter((g) => !g.spec.durable).map((g) => g.deleteConsumers()));
    }
    this.assignments.unsubscribe();
    this.sessionNotices.close();
    this.groups.clear();
    this.subscriptions.clear();
    await beforeDisconnect?.();
    // Bounded: draining waits for the server, which may have gone a moment ago.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.nc.drain().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 5_000)))]);
    clearTimeout(timer);
    if (!this.nc.isClosed()) await this.nc.close().catch(() => undefined);
    this.pubAcks.close(new BusClosedError('publish'));
    this.access.stop();
  }

  private translateFailure(error: unknown): unknown {
    const server = redactUrl(this.options.url);
    if (this.access.authFailure && this.nc.isClosed() && error instanceof BackendUnavailableError) {
      return new AuthenticationError(
        `NATS at ${server} refused the ${this.options.auth.method} login on reconnect (${this.access.authFailure}); the connection is closed: ${error.message}`,
        { server, cause: redactError(error, this.options.auth.secrets()), ...(this.options.auth.user ? { user: this.options.auth.user } : {}) },
      );
    }
    return translateError(error, server, this.options.auth);
  }

  private assertOpen(operation: string): void {
    if (this.closed) throw new BusClosedError(operation);
  }

  private async watchStatus(): Promise<void> {
    for await (const event of this.nc.status()) {
      if (event.type === 'disconnect') this.connected = false;
      else if (event.type === 'reconnect') {
        this.connected = true;
        const check: Promise<void> = dropMissedDeletions(this.deletionLog, this.groups.values(), (session, through) => this.dropSession(session, through), this.options.logger).finally(() => {
          if (this.missedDeletions === check) this.missedDeletions = undefined;
        });
        this.missedDeletions = check;
        void this.buffer?.flush();
        for (const group of this.groups.values()) group.reconnected();
      }
    }
  }

  private async groupFor(spec: ResolvedSubscription): Promise<NatsGroup> {
    const existing = this.groups.get(spec.group);
    if (existing) {
      assertSameGroupSpec(existing.spec, spec);
      return existing;
    }
    const group = await this.opening.open(
      spec.group,
      () => NatsGroup.open(pickSpec(spec), this.groupHost, shareable(spec)),
      (opened) => this.groups.set(spec.group, opened),
    );
    assertSameGroupSpec(group.spec, spec);
    this.groups.set(spec.group, group);
    return group;
  }

  /** Durable groups with no replica here, unused past groupExpiryMs and not pulled by any process. */
  private async expireIdleGroups(): Promise<void> {
    const cutoff = Date.now() - this.options.groupExpiryMs;
    for (const group of [...this.groups.values()]) {
      if (!group.spec.durable || group.consumers > 0 || group.lastActiveAt > cutoff) continue;
      let pulled = false;
      for (const name of group.consumerNames) if (((await infoOrUndefined(this.groupHost, name))?.num_waiting ?? 0) > 0) pulled = true;
      if (pulled) continue;
      this.groups.delete(group.spec.group);
      await group.remove();
      this.expiredGroups.push(group.spec.group);
      if (this.expiredGroups.length > MAX_EXPIRED_REPORTED) this.expiredGroups.shift();
      this.options.logger.info('removed an expired durable group', { group: group.spec.group });
    }
  }

  /** A message no handler can take: recorded with what the subject and headers tell, and its raw text. */
  private async deadLetterUndecodable(group: NatsGroup, msg: PulledMessage, body: string, error: unknown): Promise<void> {
    const parsed = parseMessageSubject(this.layout, msg.subject);
    const now = nowSeconds();
    const msgId = msg.headers?.get('Nats-Msg-Id');
    await this.deadLetters.add(
      {
        envelope: {
          messageId: msgId && !/\s/.test(msgId) ? msgId : `undecodable-${msg.seq}`,
          sessionId: parsed?.sessionId ?? 'unknown',
          eventType: parsed?.eventType ?? 'unknown',
          componentSource: 'unknown',
          componentTarget: null,
          timestamp: now,
          deliveryMode: 'at_least_once',
          pattern: 'point_to_point',
          payload: {},
          metadata: { undecodable_body: body.slice(0, UNDECODABLE_KEEP_CHARS), subject: msg.subject },
          retryCount: 0,
          maxRetries: 0,
        },
        error: errorToDeadLetterError(error),
        attempts: 0,
        firstFailedAt: now,
        lastFailedAt: now,
        source: { stream: this.layout.eventsStream, id: String(msg.seq) },
        group: group.spec.group,
      },
      `dl-${msg.seq}-${group.consumer}`,
    );
    this.metrics.recordDeadLettered(await this.deadLetters.size().catch(() => 0), group.spec.group);
    this.options.logger.error('undecodable message dead-lettered', { group: group.spec.group, seq: msg.seq, error: String(error) });
  }
}

/**
 * Whether processes may share the group: not an observer's or a private group (core names those
 * after the one subscription), so it is partitioned across processes.
 */
function shareable(subscription: ResolvedSubscription): boolean {
  const id = subscription.subscriptionId.slice(4);
  return subscription.group !== `observer-${id}` && subscription.group !== `private-${id}`;
}

function pickSpec(spec: GroupSpec): GroupSpec {
  const { group, eventPattern, componentId, sessionId, targetedOnly, observer, durable } = spec;
  return { group, eventPattern, componentId, sessionId, targetedOnly, observer, durable };
}
