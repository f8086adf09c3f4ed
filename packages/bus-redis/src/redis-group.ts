/**
 * One subscriber group in this process: the partitions it owns (partition-owner.ts), what it reads
 * of them (partition-reader.ts, read through the bus's one read loop, read-loop.ts), and core's `ConsumerGroup` engine (replicas, the
 * subscribe gate, metrics, dead-letter records) on `SessionLanes` running the handlers:
 * one session at a time in stream order, retries waiting here, acks batched and fenced by the
 * partition's lease. Attempt counts come from the server's delivery count: a claimed entry starts
 * at its `times_delivered - 1`, and each retry records its number there (`XCLAIM RETRYCOUNT`).
 */
import {
  ConsumerGroup,
  InvalidMessageError,
  LeaseLostError,
  MessageDeliveryMode,
  decodeEnvelope,
  groupReceives,
  isTargeted,
  nowSeconds,
  placeholderEnvelope,
  type LaneDelivery,
  type MessageEnvelope,
  type MetricsRecorder,
  type ResolvedSubscription,
} from '@woodwork/bus-core';
import { AckBatcher } from './ack-batcher.js';
import type { RedisClient } from './connection.js';
import type { DeadLetterStore } from './dead-letter-store.js';
import { compareEntryIds, eventsKey, leaseKey, type Layout } from './keys.js';
import type { ResolvedRedisBusOptions } from './options.js';
import { PartitionOwner } from './partition-owner.js';
import { PartitionReader } from './partition-reader.js';
import type { ReadLoop } from './read-loop.js';
import type { Scripts } from './scripts.js';
import type { StoredGroup } from './group-registry.js';
import { fieldsOf, type StreamEntry } from './stream-replies.js';

/**
 * A first attempt starts without asking the server only while its lease lasts at least this long
 * (a quarter of claimIdleMs when that is shorter, so that a just-renewed lease always qualifies).
 */
const START_LEASE_MARGIN_MS = 100;

export interface RedisDelivery extends LaneDelivery {
  readonly deliveryId: string;
  /** Entry id in its partition stream. */
  readonly id: string;
  readonly n: number;
  /** The lease it was read (or last claimed) under: its ack is refused once that lease is gone. */
  lease: string;
  readonly body: string;
  used: boolean;
}

export interface GroupHost {
  client: RedisClient;
  scripts: Scripts;
  /** The acknowledgement connection and its scripts (acks never wait behind publishes). */
  ackClient: RedisClient;
  ackScripts: Scripts;
  layout: Layout;
  options: ResolvedRedisBusOptions;
  metrics: MetricsRecorder;
  deadLetters: DeadLetterStore;
  deadLetterUndecodable(group: RedisGroup, n: number, entry: StreamEntry, reason: unknown): Promise<void>;
  /** The bus's one read loop, which reads for every group of this process. */
  readLoop: ReadLoop;
  /** Recreates the group's consumer group on partition n after NOGROUP. */
  recreate(stored: StoredGroup, n: number, start: string | undefined): Promise<void>;
}

export class RedisGroup {
  /** Core's consumer-group engine: replicas, the subscribe gate, lanes, metrics, dead-letter records. */
  readonly engine: ConsumerGroup<RedisDelivery>;
  readonly owner: PartitionOwner;
  private readonly reader: PartitionReader;
  private readonly acks: AckBatcher;
  private readonly heldIn: number[];
  private readonly startMarginMs: number;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly stored: StoredGroup,
    private readonly host: GroupHost,
    readonly consumer: string,
  ) {
    const { options, metrics, layout, scripts } = host;
    this.heldIn = new Array<number>(layout.partitions).fill(0);
    this.startMarginMs = Math.min(START_LEASE_MARGIN_MS, Math.floor(options.claimIdleMs / 4));
    this.acks = new AckBatcher({
      client: host.ackClient,
      cluster: options.cluster,
      scripts: host.ackScripts,
      layout,
      groupKey: stored.key,
      holds: (n, lease) => this.owner.holds(n, lease),
      // A fenced ack means the lease is gone: look at the leases now, not at the next renewal.
      fenced: () => this.owner.checkNow(),
      logger: options.logger,
    });
    this.owner = new PartitionOwner({
      scripts,
      layout,
      groupKey: stored.key,
      consumer,
      claimIdleMs: options.claimIdleMs,
      logger: options.logger,
      // An entry whose ack is not answered yet is still held: its partition is not released before.
      held: (n) => (this.heldIn[n] ?? 0) + this.acks.pending(n),
      reading: (n) => this.reader.reading(n),
      changed: () => host.readLoop.interrupt(),
    });
    this.reader = new PartitionReader({
      host,
      stored,
      consumer,
      owner: this.owner,
      room: () => (this.engine.lanes.consumerCount === 0 ? 0 : options.maxBufferedPerGroup - this.engine.size),
      onEntry: (n, lease, entry, delivered) => this.onEntry(n, lease, entry, delivered),
      skip: (n, lease, id) => this.acks.post(n, lease, id),
    });
    this.engine = new ConsumerGroup<RedisDelivery>({
      spec: stored,
      metrics,
      logger: options.logger,
      retry: options.retry,
      // The lanes' renew hook below only asks the partition owner (no server call: the owner renews
      // the leases itself), so it can run often: every 250 ms at most, so that deliveries of a lease
      // lost (a wiped or paused server) leave their sessions' lanes at once instead of after a
      // third of claimIdleMs.
      leaseMs: Math.min(options.claimIdleMs, 750),
      hooks: {
        envelopeFor: (delivery, attempt) => this.envelopeFor(delivery, attempt),
        // A handled message's ack is posted (the session goes on at once, ack-batcher.ts); an
        // at_most_once one before its handler, and a dead-lettered one, wait for the server's answer.
        acknowledge: (delivery, reason) => (reason === 'handled' ? this.acks.post(delivery.n, delivery.lease, delivery.id) : this.acks.ack(delivery.n, delivery.lease, delivery.id)),
        storeDeadLetter: async (record) => void (await host.deadLetters.add(record)),
        deadLetterCount: () => host.deadLetters.size(),
        sourceOf: (delivery) => ({ stream: eventsKey(layout, delivery.n), id: delivery.id }),
        // Decoded again from the entry: the handler may have changed the envelope it was given.
        deadLetterEnvelope: (delivery, retryCount) => ({ ...decodeEnvelope(delivery.body), retryCount }),
        beginAttempt: (delivery, attempt) => (attempt > 1 ? this.recordAttempt(delivery, attempt) : this.leaseFresh(delivery) ? undefined : this.confirmLease(delivery)),
        renew: (deliveries) => deliveries.filter((d) => !this.owner.holds(d.n, d.lease)),
        comparePositions: (a, b) => compareEntryIds(a.id, b.id),
      },
      observer: { left: (delivery) => this.release(delivery) },
      attached: () => {
        if (this.stopping) return;
        host.readLoop.add(this.reader);
      },
    });
  }

  get lanes() {
    return this.engine.lanes;
  }

  /** Joins the group's members and takes a first share of its partitions (waiting briefly for peers to hand some over). */
  async start(): Promise<void> {
    await this.owner.start();
    const deadline = Date.now() + Math.min(5_000, this.host.options.claimIdleMs * 2);
    while (this.owner.ownedCount === 0 && this.owner.memberCount > 1 && Date.now() < deadline && !this.stopping) {
      await new Promise((r) => setTimeout(r, 50));
      await this.owner.tick().catch(() => undefined);
    }
  }

  get consumers(): number {
    return this.engine.consumers;
  }

  get lastActiveAt(): number {
    return this.engine.lastActiveAt;
  }

  get heldCount(): number {
    return this.engine.size;
  }

  addReplica(subscription: ResolvedSubscription): void {
    this.engine.addReplica(subscription);
  }

  removeReplica(subscriptionId: string): void {
    this.engine.removeReplica(subscriptionId);
  }

  /** Drops a deleted session's held messages (their entries are deleted by the bus). */
  abortSession(sessionId: string): void {
    for (const delivery of this.lanes.abortSession(sessionId)) {
      this.release(delivery);
      this.acks.post(delivery.n, delivery.lease, delivery.id);
    }
  }

  /**
   * Stops reading and running. With `abort`, running handlers are aborted and waited for up to
   * `timeoutMs` (one that succeeds is acknowledged). Without it, running attempts are waited for
   * up to `timeoutMs` on their own. What was not finished stays pending on the server; the leases
   * are released so that the next owner claims it at once.
   */
  stop(timeoutMs: number, abort: boolean): Promise<void> {
    this.stopping ??= this.shutdown(timeoutMs, abort);
    return this.stopping;
  }

  private async shutdown(timeoutMs: number, abort: boolean): Promise<void> {
    this.reader.stop();
    await this.host.readLoop.remove(this.reader);
    if (!abort) {
      const deadline = Date.now() + timeoutMs;
      while (this.lanes.stats.running + this.lanes.stats.settling > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
    await this.engine.stop(abort ? timeoutMs : 0, { abort });
    // The acks on their way land before the leases go (another owner would run those entries again).
    await this.acksAnswered(timeoutMs);
    this.acks.stop();
    await this.owner.stop();
  }

  /** Resolves once the acks asked for so far were answered, or after `maxMs`. */
  async acksAnswered(maxMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.acks.drain(), new Promise<void>((resolve) => (timer = setTimeout(resolve, maxMs)))]);
    clearTimeout(timer);
  }

  private release(delivery: RedisDelivery): void {
    const n = delivery.n;
    if ((this.heldIn[n] ?? 0) > 0) this.heldIn[n]!--;
    this.host.readLoop.roomFreed(this.reader);
  }

  /**
   * A first attempt starts only while its lease surely lasts on the server (local clock, from when
   * the last renewal was sent): a process that stalled longer than the lease (a paused VM, a loaded
   * machine) may have lost the partition to another member, which claims the entry and runs it.
   * Cheap: no server call while the lease is fresh.
   */
  private leaseFresh(delivery: RedisDelivery): boolean {
    return this.owner.holds(delivery.n, delivery.lease) && this.owner.leaseLeftMs(delivery.n) > this.startMarginMs;
  }

  /** The lease looked stale: renew it and start only if the server still gives it to us. */
  private async confirmLease(delivery: RedisDelivery): Promise<void> {
    await this.owner.verify();
    if (!this.leaseFresh(delivery)) throw new LeaseLostError(delivery.deliveryId);
  }

  private async recordAttempt(delivery: RedisDelivery, attempt: number): Promise<void> {
    const { scripts, layout } = this.host;
    const result = await scripts.wwBegin(eventsKey(layout, delivery.n), leaseKey(layout, delivery.n, this.stored.key), this.stored.key, this.consumer, delivery.lease, delivery.id, attempt);
    if (result < 0) throw new LeaseLostError(delivery.deliveryId);
  }

  private envelopeFor(delivery: RedisDelivery, attempt: number): MessageEnvelope {
    if (!delivery.used) {
      delivery.used = true;
      return delivery.envelope.retryCount === attempt - 1 ? delivery.envelope : { ...delivery.envelope, retryCount: attempt - 1 };
    }
    // A handler may have changed the first copy's objects: each later attempt decodes its own.
    return { ...decodeEnvelope(delivery.body), retryCount: attempt - 1 };
  }

  /** An entry read (`delivered` 1) or claimed (its times delivered) from partition n under `lease`. */
  private onEntry(n: number, lease: string, entry: StreamEntry, delivered: number): void {
    const { stored } = this;
    const text = entry.envelope;
    const only = entry.group;
    if (only !== undefined && only !== stored.group) return this.reader.skip(n, lease, entry.id);
    let envelope: MessageEnvelope;
    try {
      if (text === undefined) throw new InvalidMessageError('envelope', 'is missing from the stream entry (field "envelope")');
      envelope = decodeEnvelope(text);
    } catch (reason) {
      const raw = text ?? JSON.stringify(fieldsOf(entry));
      if (only === undefined && !groupReceives(stored, placeholderEnvelope(raw, nowSeconds()))) {
        // Not this group's to dead-letter (no readable event type of its pattern: groups on '*'
        // dead-letter it); said here so that it never goes unnoticed.
        this.host.options.logger.warn('undecodable entry skipped (dead-lettered by the groups it may be for)', { group: stored.group, id: entry.id, error: String((reason as Error)?.message ?? reason) });
        return this.reader.skip(n, lease, entry.id);
      }
      // Never retried: one dead letter, then the entry is acknowledged and its session goes on.
      void this.host.deadLetterUndecodable(this, n, entry, reason).then(
        () => this.reader.skip(n, lease, entry.id),
        (error: unknown) => this.host.options.logger.error('could not dead-letter an undecodable entry; it stays pending', { group: stored.group, id: entry.id, error: String(error) }),
      );
      return;
    }
    if (only === undefined) {
      if (!groupReceives(stored, envelope)) return this.reader.skip(n, lease, entry.id);
      const ours = isTargeted(envelope) && envelope.componentTarget === stored.componentId;
      const since = stored.since[n];
      if (!ours && since !== undefined && compareEntryIds(entry.id, since) <= 0) return this.reader.skip(n, lease, entry.id);
    }
    // Claimed again while its ack is on its way (a re-claim after a read error): handled already.
    if (delivered !== 1 && this.acks.isPending(n, entry.id)) return;
    const deliveryId = `${n}/${entry.id}`;
    const holding = this.lanes.holding(deliveryId);
    if (holding) {
      // Held here already (a claim after this process took the partition again): it is ours under
      // the new lease, and its attempt goes on.
      holding.lease = lease;
      return;
    }
    const allowed = envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE ? 1 : envelope.maxRetries + 1;
    // A crash counts as an attempt, but the last one always runs here.
    const attemptsMade = Math.max(0, Math.min(delivered - 1, allowed - 1));
    const delivery: RedisDelivery = { envelope, attemptsMade, deliveryId, id: entry.id, n, lease, body: text as string, used: false };
    if (this.engine.push(delivery)) this.heldIn[n]!++;
  }
}
