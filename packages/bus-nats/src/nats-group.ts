/**
 * One subscriber group in this process: its durable pull consumer, a pull loop that asks the server
 * for no more than the group can hold, and core's `SessionLanes` running the handlers (one session
 * at a time, in order; retries wait here, in the process).
 *
 * Every message the group holds (running, queued behind its session, waiting for a retry) is kept
 * alive with `working()` on a timer, so ack_wait never hands it to another consumer while it waits
 * here; no delayed nak is ever used. A message the server redelivers while still held (same stream
 * sequence) replaces the held copy's handle instead of running twice.
 */
import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  MessageDeliveryMode,
  SessionLanes,
  decodeEnvelope,
  errorToDeadLetterError,
  retryDelayMs,
  validateEnvelope,
  type GroupHealth,
  type GroupSpec,
  type LaneDelivery,
  type MessageEnvelope,
  type MetricsRecorder,
  type ResolvedSubscription,
} from '@woodwork/bus-core';
import { deleteConsumer, ensureConsumer, isNotFound, type ConsumerContext, type StoredGroup } from './consumers.js';
import type { ResolvedNatsBusOptions } from './options.js';
import { handBackLostDeliveries } from './lost-deliveries.js';
import { BROADCAST_TOKEN, acceptsTarget, consumerName, groupFilter, groupFilters, parseMessageSubject } from './subjects.js';

export interface NatsDelivery extends LaneDelivery {
  readonly seq: number;
  readonly subject: string;
  readonly body: string;
  msg: JsMsg;
  /** Acknowledged, terminated or handed back: no more calls on `msg`. */
  settled: boolean;
  /** The decoded envelope was given to a handler already; later attempts decode their own. */
  used: boolean;
}

export interface GroupHost extends ConsumerContext {
  nc: NatsConnection;
  /** Creates the prefix's streams when missing. */
  recreateStreams(): Promise<void>;
  js: JetStreamClient;
  options: ResolvedNatsBusOptions;
  metrics: MetricsRecorder;
  deadLetter(group: NatsGroup, delivery: NatsDelivery, error: unknown, attempts: number): Promise<void>;
  deadLetterUndecodable(group: NatsGroup, msg: JsMsg, body: string, error: unknown): Promise<void>;
}

const FETCH_EXPIRES_MS = 5_000;

export class NatsGroup {
  readonly lanes: SessionLanes<NatsDelivery>;
  readonly consumer: string;
  private replicas: ResolvedSubscription[] = [];
  private readonly held = new Map<number, NatsDelivery>();
  private pullConsumer: Consumer | undefined;
  private iterator: ConsumerMessages | undefined;
  private pulling = false;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  /** Highest stream sequence settled here: a recreated consumer starts after it. */
  private lastSettledSeq = 0;
  /** Sequences settled here that the server's ack floor may not have passed yet (lost-delivery check). */
  private readonly recentlySettled = new Set<number>();
  /** The connection came back: look for deliveries lost in flight before pulling again. */
  private checkLost = false;
  lastActiveAt = Date.now();

  private constructor(
    readonly spec: GroupSpec,
    private stored: StoredGroup,
    private readonly host: GroupHost,
  ) {
    this.consumer = consumerName(host.layout, spec.group);
    const { metrics, options } = host;
    this.lanes = new SessionLanes<NatsDelivery>(
      {
        envelopeFor: (delivery, attempt) => this.envelopeFor(delivery, attempt),
        // An at_most_once delivery was acknowledged when it arrived (settled: these return at once).
        acknowledge: (delivery, reason) => this.settle(delivery, reason === 'dead-lettered' ? 'term' : 'ack'),
        deadLetter: (delivery, failure) => host.deadLetter(this, delivery, failure.error, failure.attempts),
        retryDelayMs: (failedAttempts) => retryDelayMs(options.retry, failedAttempts),
      },
      {
        handled: (delivery, durationMs) => metrics.recordConsumed(delivery.envelope.eventType, spec.group, durationMs),
        left: (delivery) => {
          // The aborted attempt of a deleted session: its messages are purged, nothing to redeliver.
          if (!delivery.settled) void this.settle(delivery, 'ack');
          this.wake();
        },
        attemptFailed: (delivery, error, attempt) => {
          metrics.recordFailed(delivery.envelope.eventType, spec.group);
          options.logger.warn('handler attempt failed', {
            group: spec.group,
            messageId: delivery.envelope.messageId,
            attempt,
            error: errorToDeadLetterError(error).message,
          });
        },
        settleFailed: (delivery, hook, error, tries) =>
          options.logger.error(`${hook} failed; retrying, the session waits`, {
            group: spec.group,
            messageId: delivery.envelope.messageId,
            tries,
            error: errorToDeadLetterError(error).message,
          }),
      },
    );
  }

  static async open(spec: GroupSpec, host: GroupHost): Promise<NatsGroup> {
    const stored = await ensureConsumer(host, spec, consumerName(host.layout, spec.group));
    return new NatsGroup(spec, stored, host);
  }

  get consumers(): number {
    return this.replicas.length;
  }

  /** Messages held in this process. */
  get heldCount(): number {
    return this.held.size;
  }

  addReplica(subscription: ResolvedSubscription): void {
    this.replicas.push(subscription);
    this.lastActiveAt = Date.now();
    // No handler may run before subscribe() has returned the id: join a turn later.
    setImmediate(() => {
      if (!this.replicas.includes(subscription) || this.stopped) return;
      this.lanes.attach(subscription);
      this.startPulling();
      this.wake();
    });
  }

  removeReplica(subscriptionId: string): void {
    this.replicas = this.replicas.filter((r) => r.subscriptionId !== subscriptionId);
    this.lanes.detach(subscriptionId);
    this.lastActiveAt = Date.now();
    if (this.lanes.consumerCount === 0) this.iterator?.stop();
  }

  /** Sends `working()` for every held message (called on a timer shorter than ack_wait). */
  renew(): void {
    for (const delivery of this.held.values()) {
      if (!delivery.settled) delivery.msg.working();
    }
  }

  /** The connection was re-established: pull again only after the lost-delivery check. */
  reconnected(): void {
    this.checkLost = true;
    this.iterator?.stop();
    this.wake();
  }

  /** Drops a deleted session's held messages (their stream entries are purged by the bus). */
  abortSession(sessionId: string): void {
    for (const delivery of this.lanes.abortSession(sessionId)) void this.settle(delivery, 'ack');
  }

  /**
   * Stops pulling and running. With `abort`, running handlers are aborted and waited for up to
   * `timeoutMs`; what was not finished is handed back to the server in stream order (nak), so
   * another replica continues it without waiting for ack_wait.
   */
  async stop(timeoutMs: number, abort: boolean): Promise<void> {
    this.stopped = true;
    this.iterator?.stop();
    this.wake();
    await this.lanes.stop(timeoutMs, { abort });
    if (!abort) return;
    try {
      await handBackLostDeliveries({
        ...this.gapCheck(),
        known: (seq) => this.recentlySettled.has(seq),
        handBackHeld: (seq) => {
          const delivery = this.held.get(seq);
          if (!delivery || delivery.settled) return false;
          delivery.settled = true;
          delivery.msg.nak();
          return true;
        },
      });
    } catch {
      // The server is away: ack_wait hands everything back.
    }
    for (const delivery of [...this.held.values()].sort((a, b) => a.seq - b.seq)) {
      if (delivery.settled) continue;
      delivery.settled = true;
      delivery.msg.nak();
    }
    this.held.clear();
  }

  /** Stops and removes the consumer (private groups, expiry). Running attempts finish on their own. */
  async remove(): Promise<void> {
    await this.stop(0, false);
    await deleteConsumer(this.host, this.consumer);
  }

  health(info: { num_ack_pending: number; num_pending: number } | undefined): GroupHealth {
    return {
      group: this.spec.group,
      eventPattern: this.spec.eventPattern,
      componentId: this.spec.componentId,
      sessionId: this.spec.sessionId,
      durable: this.spec.durable,
      consumers: this.replicas.length,
      pending: info ? info.num_ack_pending : this.held.size,
      lag: info ? info.num_pending : 0,
      lastActiveAt: this.lastActiveAt / 1000,
    };
  }

  private envelopeFor(delivery: NatsDelivery, attempt: number): MessageEnvelope {
    if (!delivery.used) {
      delivery.used = true;
      return delivery.envelope.retryCount === attempt - 1 ? delivery.envelope : { ...delivery.envelope, retryCount: attempt - 1 };
    }
    // A handler may have changed the first copy's objects: each later attempt decodes its own.
    return { ...decodeEnvelope(delivery.body), retryCount: attempt - 1 };
  }

  private async settle(delivery: NatsDelivery, how: 'ack' | 'term'): Promise<void> {
    if (delivery.settled) return;
    delivery.settled = true;
    this.held.delete(delivery.seq);
    this.noteSettled(delivery.seq);
    if (how === 'term') delivery.msg.term();
    else {
      // A plain ack, not awaited: the session's next message starts at once (waiting for a reply
      // or a PING per ack capped the bus at lanes / round trip). healthCheck flushes first, so it
      // never counts an ack already sent as pending. A lost ack only means a redelivery.
      delivery.msg.ack();
    }
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private startPulling(): void {
    if (this.pulling || this.stopped) return;
    this.pulling = true;
    void this.pullLoop().finally(() => {
      this.pulling = false;
    });
  }

  private async pullLoop(): Promise<void> {
    const { options } = this.host;
    let failures = 0;
    while (!this.stopped) {
      const room = Math.min(options.fetchBatch, options.maxHeldPerGroup - this.held.size);
      if (this.lanes.consumerCount === 0) return;
      if (room <= 0) {
        await this.sleep(1_000);
        continue;
      }
      try {
        if (this.checkLost) await this.handBackLost();
        this.pullConsumer ??= await this.host.js.consumers.get(this.host.layout.eventsStream, this.consumer);
        const iterator = await this.pullConsumer.fetch({ max_messages: room, expires: FETCH_EXPIRES_MS });
        this.iterator = iterator;
        let got = 0;
        const started = Date.now();
        for await (const msg of iterator) {
          got++;
          this.onMessage(msg);
        }
        this.iterator = undefined;
        failures = 0;
        // A pull that ended early with nothing: the consumer may be gone (deleted from outside).
        if (got === 0 && Date.now() - started < FETCH_EXPIRES_MS / 2 && !this.stopped && this.lanes.consumerCount > 0) await this.recover();
      } catch (error) {
        this.iterator = undefined;
        if (this.stopped) return;
        failures++;
        options.logger.warn('pull failed; retrying', { group: this.spec.group, error: String((error as Error)?.message ?? error) });
        await this.recover().catch(() => undefined);
        await this.sleep(Math.min(2_000, 50 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private noteSettled(seq: number): void {
    if (seq > this.lastSettledSeq) this.lastSettledSeq = seq;
    this.recentlySettled.add(seq);
    // Bounded: the oldest entries are far below any ack floor by then.
    if (this.recentlySettled.size > 50_000) {
      for (const old of this.recentlySettled) {
        this.recentlySettled.delete(old);
        if (this.recentlySettled.size <= 25_000) break;
      }
    }
  }

  private gapCheck() {
    const { host } = this;
    return {
      nc: host.nc,
      jsm: host.jsm,
      stream: host.layout.eventsStream,
      consumer: this.consumer,
      filters: host.features.filterSubjects ? groupFilters(host.layout, this.spec, this.consumer) : [groupFilter(host.layout, this.spec)],
    };
  }

  private async handBackLost(): Promise<void> {
    const { host } = this;
    const lost = await handBackLostDeliveries({ ...this.gapCheck(), known: (seq) => this.held.has(seq) || this.recentlySettled.has(seq) });
    this.checkLost = false;
    if (lost.length > 0) host.options.logger.warn('deliveries lost in flight handed back for redelivery', { group: this.spec.group, seqs: lost.slice(0, 20) });
  }

  /** Recreates the consumer if it is gone, starting after what this process settled or holds. */
  private async recover(): Promise<void> {
    try {
      await this.host.jsm.consumers.info(this.host.layout.eventsStream, this.consumer);
      return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    // The stream itself may be gone too (a server restarted with its data lost).
    await this.host.recreateStreams();
    const heldSeqs = [...this.held.keys()];
    const start = heldSeqs.length > 0 ? Math.min(...heldSeqs) : this.lastSettledSeq + 1;
    this.host.options.logger.warn('consumer was deleted; recreating it after the last acknowledged message', { consumer: this.consumer, start });
    this.stored = await ensureConsumer(this.host, this.spec, this.consumer, { start, since: this.stored.since });
    // Sequences of a reset stream start again at 1: what was settled before says nothing now.
    if (this.stored.since === 0) {
      this.recentlySettled.clear();
      this.lastSettledSeq = 0;
    }
    this.pullConsumer = undefined;
  }

  private onMessage(msg: JsMsg): void {
    const seq = msg.seq;
    const held = this.held.get(seq);
    if (held) {
      held.msg = msg;
      return;
    }
    const parsed = parseMessageSubject(this.host.layout, msg.subject);
    if (!parsed || !acceptsTarget(this.spec, this.consumer, parsed.to) || (parsed.to === BROADCAST_TOKEN && seq < this.stored.since)) {
      // Not this group's (a wider filter than its routing, on servers without filter_subjects).
      msg.ack();
      this.noteSettled(seq);
      return;
    }
    const body = msg.string();
    let envelope: MessageEnvelope;
    try {
      envelope = decodeEnvelope(body);
      validateEnvelope(envelope, { maxPayloadBytes: Number.MAX_SAFE_INTEGER });
    } catch (error) {
      void this.host.deadLetterUndecodable(this, msg, body, error).then(
        () => msg.term(),
        (dlqError: unknown) => this.host.options.logger.error('could not dead-letter an undecodable message', { seq, error: String(dlqError) }),
      );
      return;
    }
    const allowed = envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE ? 1 : envelope.maxRetries + 1;
    // A redelivery (crash, ack_wait) counts as an attempt, but the last one always runs here.
    const attemptsMade = Math.max(0, Math.min(msg.info.deliveryCount - 1, allowed - 1));
    const delivery: NatsDelivery = { envelope, attemptsMade, seq, subject: msg.subject, body, msg, settled: false, used: false };
    if (envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE) {
      // Never redelivered, not even after a crash: acknowledged before its one attempt.
      msg.ack();
      this.noteSettled(seq);
      delivery.settled = true;
    } else this.held.set(seq, delivery);
    this.lanes.push(delivery);
  }
}
