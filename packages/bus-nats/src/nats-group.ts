/**
 * One subscriber group in this process, composed on core's `ConsumerGroup` (replicas, the subscribe
 * gate, session lanes, retries, metrics, logs, dead-letter records, health). What is NATS's own:
 * its consumers (one per partition of a shared group, one for a private group), a pull loop per
 * partition this process may run (partition-puller.ts), the group's membership and partition
 * leases when it is shared (partition-leases.ts), and the settling hooks (ack, term, working()).
 *
 * Every message the group holds (running, queued behind its session, waiting for a retry) is kept
 * alive with `working()` by the lanes' `renew` hook every third of ack_wait, so the server never
 * hands it elsewhere while it waits here; no delayed nak is ever used. The same hook drops what
 * belongs to a partition this process no longer owns (its lease was lost: another process took it
 * over), and `beginAttempt` refuses to start a handler of a partition whose lease is not fresh.
 * A message the server redelivers while still held (same stream sequence) only raises the held
 * copy's attempt count (lanes' idempotent push) and takes its new handle.
 */
import type { ConsumerInfo, JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  ConsumerGroup,
  DictionaryTable,
  MessageDeliveryMode,
  decodeEnvelope,
  type GroupHealth,
  type GroupSpec,
  type MessageEnvelope,
  type MetricsRecorder,
  type NewDeadLetterRecord,
  type ResolvedSubscription,
  type SessionLanes,
} from '@woodwork/bus-core';
import { deleteConsumer, ensureConsumer, infoOrUndefined, type ConsumerContext } from './consumers.js';
import type { ResolvedNatsBusOptions } from './options.js';
import { attemptsFrom, readDelivery, type NatsDelivery } from './deliveries.js';
import { handBackLostDeliveries } from './lost-deliveries.js';
import { withDeadline } from './deadline.js';
import { newState, recreateConsumerIfGone, type PartitionState } from './partition-state.js';

export type { NatsDelivery } from './deliveries.js';
import { PartitionLeases } from './partition-leases.js';
import { PartitionPuller, type PullerHost } from './partition-puller.js';
import type { PulledMessage } from './pulled-message.js';
import {
  assignmentSubject,
  consumerName,
  groupFilter,
  groupPartitions,
  partitionConsumerName,
} from './subjects.js';

export interface GroupHost extends ConsumerContext {
  nc: NatsConnection;
  js: JetStreamClient;
  options: ResolvedNatsBusOptions;
  metrics: MetricsRecorder;
  /** The connection is up (not reconnecting). */
  connected(): boolean;
  /** Clients with short timeouts for the assignment record. */
  leaseClients: { js: JetStreamClient; jsm: JetStreamManager };
  /** This bus instance's member id in shared groups. */
  member: string;
  /** Creates the prefix's streams when missing. */
  recreateStreams(): Promise<unknown>;
  /** Stores a dead-letter record under a write id (a repeated write is stored once). */
  storeDeadLetter(record: NewDeadLetterRecord, writeId: string): Promise<unknown>;
  /** Records in the dead-letter stream. */
  deadLetterCount(): Promise<number>;
  deadLetterUndecodable(group: NatsGroup, msg: PulledMessage, body: string, error: unknown): Promise<void>;
  /** Whether this message of the session was deleted by `deleteSessionQueue` (it arrived late). */
  sessionDeleted(sessionId: string, seq: number): boolean;
  /**
   * After a reconnect, the look-up of deletions this bus may have missed while away, until it is
   * done (never rejects); undefined otherwise. No attempt starts and no puller pulls before it ends.
   */
  missedDeletions(): Promise<void> | undefined;
}

/** Longest wait for each server step of a close (hand-back walks, flush, leaving the assignment). */
const CLOSE_STEP_MS = 5_000;

/** How long subscribe() waits for the group's first pull requests. */
const PULLS_OUT_WAIT_MS = 5_000;

export class NatsGroup {
  /** Core's engine; replaced by a fresh one when the group runs again after its last replica left. */
  private engine: ConsumerGroup<NatsDelivery>;
  /** The base consumer name (redrives are addressed to it). */
  readonly consumer: string;
  /**
   * Held deliveries by stream sequence: an entry per message, so a `DictionaryTable`, not a `Map`
   * (core's dictionary-table.ts: a `Map`'s replaced tables make the young collections promote the
   * deliveries held at that moment).
   */
  private readonly held = new DictionaryTable<NatsDelivery>();
  private readonly partitions = new Map<number | null, PartitionState>();
  private readonly leases: PartitionLeases | undefined;
  private active = false;
  private stopped = false;
  private lanesStopped = false;
  /** Sequences settled here that the server's ack floor may not have passed yet (lost-delivery check). */
  private readonly recentlySettled = new Set<number>();
  private readonly pullerHost: PullerHost;

  private constructor(
    readonly spec: GroupSpec,
    readonly shared: boolean,
    states: PartitionState[],
    private readonly host: GroupHost,
  ) {
    this.consumer = consumerName(host.layout, spec.group);
    for (const state of states) this.partitions.set(state.partition, state);
    this.engine = this.makeEngine();
    if (shared) {
      const leases = new PartitionLeases({ ...host, ...host.leaseClients, logger: host.options.logger }, assignmentSubject(host.layout, this.consumer), states.map((s) => s.partition as number), host.member, host.options.leaseMs, {
        changed: (owned) => this.ownershipChanged(owned),
        // Nothing held, and no pull request left that could still bring a message of it here.
        drained: (partition) => {
          const state = this.partitions.get(partition);
          return (state?.held ?? 0) === 0 && !state?.puller?.hasLiveRequests();
        },
      });
      this.leases = leases;
    }
    this.pullerHost = {
      nc: host.nc,
      stream: host.layout.eventsStream,
      logger: host.options.logger,
      fetchBatch: host.options.fetchBatch,
      group: spec.group,
      mayRun: (partition) => this.active && !this.stopped && (this.leases === undefined || this.leases.mayRun(partition as number)),
      maxPullMs: () => (this.leases ? this.leases.maxPullMs : 5_000),
      room: (partition) => this.room(partition),
      deliver: (partition, msgs) => {
        for (const msg of msgs) this.onMessage(msg, partition);
      },
      handBack: (puller) => this.handBackLost(puller),
      connected: () => host.connected(),
      recover: (puller) => this.recover(puller),
      requestsEnded: (partition) => this.freeIfDrained(partition),
    };
  }

  /**
   * Finds or creates the group's consumers. `shareable`: processes may share the group (it has a
   * component or an explicit name), so it is partitioned, unless it already exists in the private
   * form (one consumer, as a client of PROTOCOL.md may make it).
   */
  static async open(spec: GroupSpec, host: GroupHost, shareable: boolean): Promise<NatsGroup> {
    const group = await NatsGroup.openConsumers(spec, host, shareable);
    // Which stream the consumers are on: one deleted with its stream is recreated from its start.
    const streamCreated = (await host.jsm.streams.info(host.layout.eventsStream)).created;
    for (const state of group.partitions.values()) state.streamCreated = streamCreated;
    return group;
  }

  private static async openConsumers(spec: GroupSpec, host: GroupHost, shareable: boolean): Promise<NatsGroup> {
    const base = consumerName(host.layout, spec.group);
    const single = !shareable || (await infoOrUndefined(host, base)) !== undefined;
    if (single) {
      const { stored } = await ensureConsumer(host, spec, base, null);
      return new NatsGroup(spec, false, [newState(null, base, stored)], host);
    }
    const partitions = groupPartitions(host.layout, spec);
    const firstName = partitionConsumerName(base, partitions[0]!);
    const first = await ensureConsumer(host, spec, firstName, partitions[0]!);
    const basis = first.basis;
    const rest = await Promise.all(
      partitions.slice(1).map(async (p) => {
        const name = partitionConsumerName(base, p);
        return newState(p, name, (await ensureConsumer(host, spec, name, p, { basis })).stored);
      }),
    );
    return new NatsGroup(spec, true, [newState(partitions[0]!, firstName, first.stored), ...rest], host);
  }

  get consumers(): number {
    return this.engine.consumers;
  }

  get lanes(): SessionLanes<NatsDelivery> {
    return this.engine.lanes;
  }

  /** Milliseconds since the epoch a replica last joined or left. */
  get lastActiveAt(): number {
    return this.engine.lastActiveAt;
  }

  /** Messages held in this process. */
  get heldCount(): number {
    return this.held.size;
  }

  /** Every consumer name of the group. */
  get consumerNames(): string[] {
    return [...this.partitions.values()].map((s) => s.name);
  }

  /** Joins the group's assignment (shared groups) before the first replica runs anything. */
  async addReplica(subscription: ResolvedSubscription): Promise<void> {
    if (!this.active) await this.activate();
    await this.pullsOut();
    if (this.stopped) return;
    // The engine's subscribe gate: no handler runs before subscribe() has returned the id.
    this.engine.addReplica(subscription);
  }

  /**
   * Waits (at most PULLS_OUT_WAIT_MS) until every partition this process runs has a pull request
   * out, so a message published once subscribe() has resolved is on its way at once.
   */
  private async pullsOut(): Promise<void> {
    const waits = [...this.partitions.values()].flatMap((s) => (s.puller ? [s.puller.firstPull] : []));
    await withDeadline(Promise.all(waits), PULLS_OUT_WAIT_MS, 'ignore');
  }

  /** Takes a replica out; the last one out hands back what the group held and leaves the assignment. */
  async removeReplica(subscriptionId: string): Promise<void> {
    this.engine.removeReplica(subscriptionId);
    if (this.engine.consumers === 0 && this.active) await this.deactivate(0, false);
  }

  /** The state stream saw a write to this group's assignment. */
  assignmentWritten(body: string): void {
    this.leases?.notified(body);
  }

  /** The connection was re-established: hand back lost deliveries before pulling again. */
  reconnected(): void {
    for (const state of this.partitions.values()) state.puller?.reconnected();
    this.leases?.reconnected();
  }

  /** The messages this group holds. */
  heldDeliveries(): Iterable<NatsDelivery> {
    return this.held.values();
  }

  /**
   * Drops a deleted session's held messages (their stream entries are purged by the bus that
   * deleted it, here or in another process); returns how many.
   */
  abortSession(sessionId: string): number {
    const dropped = this.engine.lanes.abortSession(sessionId);
    for (const delivery of dropped) this.settle(delivery, 'ack');
    return dropped.length;
  }

  /**
   * Stops pulling and running. With `abort`, running handlers are aborted and waited for up to
   * `timeoutMs`; what was not finished is handed back to the server in stream order (nak), so
   * another replica continues it without waiting for ack_wait; then the assignment is left.
   */
  async stop(timeoutMs: number, abort: boolean): Promise<void> {
    this.stopped = true;
    if (this.active) await this.deactivate(timeoutMs, abort);
    this.leases?.stop();
  }

  /**
   * Stops and removes the consumers (private groups, expiry), unless other processes still run the
   * shared group. Running attempts finish on their own.
   */
  async remove(): Promise<void> {
    await this.stop(0, false);
    await this.deleteConsumers();
  }

  /** Deletes the consumers and the assignment, unless other members are left in it. */
  async deleteConsumers(): Promise<void> {
    if (this.leases && this.leases.membersLeft > 0) return;
    for (const state of this.partitions.values()) await deleteConsumer(this.host, state.name);
    if (this.leases) await this.host.jsm.streams.purge(this.host.layout.stateStream, { filter: this.leases.subject }).catch(() => undefined);
  }

  /** With the server's counts of every consumer of the group, else what this process holds. */
  health(infos: ReadonlyArray<{ num_ack_pending: number; num_pending: number }> | undefined): GroupHealth {
    if (!infos) return this.engine.health();
    return this.engine.health({ pending: infos.reduce((n, i) => n + i.num_ack_pending, 0), lag: infos.reduce((n, i) => n + i.num_pending, 0) });
  }

  // ---- membership ----

  private async activate(): Promise<void> {
    this.active = true;
    // An engine stopped by an earlier deactivation cannot run again: a fresh one takes over.
    if (this.lanesStopped) this.engine = this.makeEngine();
    this.lanesStopped = false;
    if (this.leases) await this.leases.start();
    else this.ownershipChanged(new Set([null]));
  }

  private async deactivate(timeoutMs: number, abort: boolean): Promise<void> {
    this.active = false;
    const owned = [...this.partitions.values()].filter((s) => s.puller);
    for (const state of owned) {
      state.puller?.stop();
      state.puller = undefined;
    }
    this.lanesStopped = true;
    await this.engine.stop(timeoutMs, { abort });
    // What was held, and what was on its way, goes back in stream order, partition by partition,
    // so whoever runs a partition next starts with it. Bounded: a server that vanished a moment ago
    // (not noticed yet) would make every request wait for its timeout.
    if (this.host.connected()) {
      const walks = owned.map((state) =>
        handBackLostDeliveries({
          ...this.gapCheck(state),
          known: (seq) => this.recentlySettled.has(seq),
          handBackHeld: (seq) => {
            const delivery = this.held.get(seq);
            if (!delivery || delivery.settled) return false;
            this.handBack(delivery);
            return true;
          },
        }).catch(() => undefined),
      );
      await withDeadline(Promise.all(walks), CLOSE_STEP_MS, 'ignore');
    }
    // Whatever the walks did not reach (the server is away: ack_wait hands it back anyway).
    for (const delivery of [...this.held.values()].sort((a, b) => a.seq - b.seq)) this.handBack(delivery);
    if (!this.host.connected()) {
      // The others see the beats stop and take over after one lease.
      this.leases?.stop();
      return;
    }
    await withDeadline(this.host.nc.flush().catch(() => undefined), CLOSE_STEP_MS, 'ignore');
    if (this.leases) await withDeadline(this.leases.leave(), CLOSE_STEP_MS, 'ignore');
  }

  private gapCheck(state: PartitionState) {
    const { host } = this;
    return { nc: host.nc, jsm: host.jsm, stream: host.layout.eventsStream, consumer: state.name, filter: groupFilter(host.layout, this.spec, state.partition) };
  }

  /** The lease module's view changed: pull what this process owns, stop the rest. */
  private ownershipChanged(owned: ReadonlySet<number | null>): void {
    for (const state of this.partitions.values()) {
      const mine = owned.has(state.partition);
      if (mine && !state.puller && this.active && !this.stopped) {
        state.puller = new PartitionPuller(state.partition, state.name, this.pullerHost);
        state.puller.start();
      } else if (!mine && state.puller) {
        state.puller.stop();
        state.puller = undefined;
      }
      if (!mine && state.partition !== null) this.dropPartition(state.partition);
      // A partition to drain stops pulling at once (its puller closes its inbox).
      state.puller?.wake();
    }
  }

  /** Held deliveries of a partition now owned elsewhere: no ack, no nak (the new owner has them). */
  private dropPartition(partition: number): void {
    const lost: NatsDelivery[] = [];
    for (const delivery of this.held.values()) if (delivery.partition === partition) lost.push(delivery);
    if (lost.length === 0) return;
    this.host.options.logger.warn('partition taken over by another process; dropping what was held of it', { group: this.spec.group, partition, held: lost.length });
    // The lanes drop them on their next renewal (renew returns them as lost); none starts before.
  }

  // ---- the engine ----

  private makeEngine(): ConsumerGroup<NatsDelivery> {
    const { options } = this.host;
    const spec = this.spec;
    return new ConsumerGroup<NatsDelivery>({
      spec,
      metrics: this.host.metrics,
      logger: options.logger,
      retry: options.retry,
      // working() for every held message every third of ack_wait (the `renew` hook).
      leaseMs: options.ackWaitMs,
      hooks: {
        envelopeFor: (delivery, attempt) => this.envelopeFor(delivery, attempt),
        // An at_most_once delivery was acknowledged when it arrived (settled: these return at once).
        acknowledge: (delivery, reason) => this.settle(delivery, reason === 'dead-lettered' ? 'term' : 'ack'),
        storeDeadLetter: async (record, delivery) => void (await this.host.storeDeadLetter(record, `dl-${delivery.seq}-${this.consumer}`)),
        deadLetterCount: () => this.host.deadLetterCount(),
        sourceOf: (delivery) => ({ stream: this.host.layout.eventsStream, id: String(delivery.seq) }),
        // Decoded again from the body: the handler may have changed the envelope it was given.
        deadLetterEnvelope: (delivery, retryCount) => ({ ...decodeEnvelope(delivery.body), retryCount }),
        beginAttempt: (delivery) => {
          // Back from a disconnect: a deletion missed meanwhile may have removed this message.
          const check = this.host.missedDeletions();
          if (check) return check.then(() => this.assertMayStart(delivery));
          this.assertMayStart(delivery);
        },
        renew: (deliveries) => this.renew(deliveries),
        comparePositions: (a, b) => a.seq - b.seq,
      },
      observer: {
        leaseLost: (delivery) => {
          delivery.settled = true;
        },
        left: (delivery) => {
          // The aborted attempt of a deleted session: its messages are purged, nothing to redeliver.
          if (!delivery.settled) this.settle(delivery, 'ack');
          else this.forget(delivery);
        },
      },
    });
  }

  /** working() for what is still ours; the rest (its partition taken over) is lost. */
  private renew(deliveries: readonly NatsDelivery[]): NatsDelivery[] {
    const lost: NatsDelivery[] = [];
    const connected = !this.host.nc.isClosed();
    for (const delivery of deliveries) {
      if (delivery.settled) continue;
      if (this.leases && !this.leases.owns(delivery.partition as number)) lost.push(delivery);
      else if (connected) delivery.msg.working();
    }
    return lost;
  }

  private assertMayStart(delivery: NatsDelivery): void {
    if (!this.mayStart(delivery)) throw new Error(`the lease of partition ${delivery.partition} of ${this.spec.group} is not confirmed; not starting`);
  }

  private mayStart(delivery: NatsDelivery): boolean {
    if (!this.leases || delivery.settled) return true;
    return this.leases.owns(delivery.partition as number) && this.leases.fresh();
  }

  private envelopeFor(delivery: NatsDelivery, attempt: number): MessageEnvelope {
    if (!delivery.used) {
      delivery.used = true;
      return delivery.envelope.retryCount === attempt - 1 ? delivery.envelope : { ...delivery.envelope, retryCount: attempt - 1 };
    }
    // A handler may have changed the first copy's objects: each later attempt decodes its own.
    return { ...decodeEnvelope(delivery.body), retryCount: attempt - 1 };
  }

  private settle(delivery: NatsDelivery, how: 'ack' | 'term'): void {
    if (delivery.settled) return;
    delivery.settled = true;
    this.forget(delivery);
    this.noteSettled(delivery);
    // A plain ack, not awaited: the session's next message starts at once (waiting for a reply
    // or a PING per ack capped the bus at lanes / round trip). healthCheck flushes first, so it
    // never counts an ack already sent as pending. A lost ack only means a redelivery.
    if (how === 'term') delivery.msg.term();
    else delivery.msg.ack();
  }

  /** The delivery is no longer held here. */
  private forget(delivery: NatsDelivery): void {
    if (this.held.get(delivery.seq) !== delivery) return;
    this.held.delete(delivery.seq);
    const state = this.partitions.get(delivery.partition);
    if (!state) return;
    state.held--;
    if (state.held === 0) this.freeIfDrained(delivery.partition);
    state.puller?.wake();
  }

  /** A draining partition emptied (nothing held, no pull request open): free it now. */
  private freeIfDrained(partition: number | null): void {
    const state = this.partitions.get(partition);
    if (!state || state.held > 0 || !this.leases || partition === null) return;
    if (this.leases.owns(partition) && !this.leases.mayRun(partition) && !state.puller?.hasLiveRequests()) this.leases.request(false);
  }

  private handBack(delivery: NatsDelivery): void {
    if (delivery.settled) return;
    delivery.settled = true;
    this.forget(delivery);
    delivery.msg.nak();
  }

  private noteSettled(delivery: NatsDelivery): void {
    const state = this.partitions.get(delivery.partition);
    if (state && delivery.seq > state.lastSettledSeq) state.lastSettledSeq = delivery.seq;
    this.recentlySettled.add(delivery.seq);
    // Bounded: the oldest entries are far below any ack floor by then.
    if (this.recentlySettled.size > 50_000) {
      for (const old of this.recentlySettled) {
        this.recentlySettled.delete(old);
        if (this.recentlySettled.size <= 25_000) break;
      }
    }
  }

  // ---- pulling ----

  private room(partition: number | null): { free: number; share: number } {
    const { options } = this.host;
    let pulling = 0;
    for (const s of this.partitions.values()) if (s.puller) pulling++;
    const share = Math.max(1, Math.floor(options.maxHeldPerGroup / Math.max(1, pulling)));
    const state = this.partitions.get(partition);
    return { free: Math.min(share - (state?.held ?? 0), options.maxHeldPerGroup - this.held.size), share };
  }

  private async handBackLost(puller: PartitionPuller): Promise<ConsumerInfo> {
    const { host } = this;
    // Nothing new comes in before the missed deletions are dropped: what is held then is all from
    // before the disconnect, so a deleted session's held messages are all at or below its purge.
    await host.missedDeletions();
    const { lost, info } = await handBackLostDeliveries({
      ...this.gapCheck(this.partitions.get(puller.partition)!),
      known: (seq) => this.held.has(seq) || this.recentlySettled.has(seq),
    });
    if (lost.length > 0) host.options.logger.info('pending deliveries handed back for redelivery', { group: this.spec.group, consumer: puller.consumer, seqs: lost.slice(0, 20), count: lost.length });
    return info;
  }

  /** Recreates a consumer that is gone, starting after what this process settled or holds of it. */
  private async recover(puller: PartitionPuller): Promise<void> {
    const state = this.partitions.get(puller.partition)!;
    const heldSeqs = () => [...this.held.values()].filter((d) => d.partition === puller.partition).map((d) => d.seq);
    if (!(await recreateConsumerIfGone(this.host, this.spec, puller, state, heldSeqs))) return;
    // Sequences of a reset stream start again at 1: what was settled before says nothing now, and
    // what is still held of the old stream is no longer the partition's (its handler may still
    // run; nothing is acknowledged or handed back for it), so the new stream's messages with the
    // same sequences are taken in as the new deliveries they are.
    if (state.stored.since === 0) {
      for (const delivery of [...this.held.values()]) {
        if (delivery.partition !== puller.partition) continue;
        this.forget(delivery);
        delivery.settled = true;
      }
      this.recentlySettled.clear();
      for (const s of this.partitions.values()) s.lastSettledSeq = 0;
    }
  }

  private onMessage(msg: PulledMessage, partition: number | null): void {
    const seq = msg.seq;
    const state = this.partitions.get(partition);
    if (!state || this.stopped || !this.active || (this.leases && !this.leases.mayRun(partition as number))) {
      // Pulled just before this process stopped running the partition (its lease not fresh, or
      // the partition to be handed over: draining takes nothing new, or the partition could be
      // freed while this message is still taken in and run, and the next owner, handing back what
      // it does not hold, would run it a second time). Whoever runs it next hands it back first:
      // this process too, should its lease turn fresh again before its puller noticed the lapse
      // (without that, a later message of the session could run before this one came back).
      state?.puller?.droppedArrival();
      return;
    }
    const held = this.held.get(seq);
    if (held) {
      // Redelivered while held here (ack_wait passed while renewals could not reach the server).
      held.msg = msg;
      this.engine.push({ ...held, attemptsMade: attemptsFrom(held.envelope, msg) });
      return;
    }
    const read = readDelivery(msg, partition, { layout: this.host.layout, spec: this.spec, consumer: this.consumer, since: state.stored.since, streamCreated: state.streamCreated });
    if (read.kind === 'foreign') {
      // Not this group's (a wider filter than its routing, on servers without filter_subjects).
      msg.ack();
      this.recentlySettled.add(seq);
      return;
    }
    if (read.kind === 'undecodable') {
      void this.host.deadLetterUndecodable(this, msg, read.body, read.error).then(
        () => msg.term(),
        (dlqError: unknown) => this.host.options.logger.error('could not dead-letter an undecodable message', { seq, error: String(dlqError) }),
      );
      return;
    }
    const { delivery } = read;
    const envelope = delivery.envelope;
    if (this.host.sessionDeleted(envelope.sessionId, seq)) {
      // On its way here when its session was deleted: gone, not run.
      msg.ack();
      this.recentlySettled.add(seq);
      return;
    }
    if (envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE) {
      // Never redelivered, not even after a crash: acknowledged before its one attempt.
      msg.ack();
      this.recentlySettled.add(seq);
      delivery.settled = true;
    } else {
      this.held.set(seq, delivery);
      state.held++;
    }
    this.engine.push(delivery);
  }
}
