/**
 * One process's membership in a shared group: it reads and replaces the group's assignment record
 * (assignment.ts) by compare-and-set (`Nats-Expected-Last-Subject-Sequence` on
 * `<p>.state.g.<consumer>`), heartbeats every sixth of the lease, and tells the group which
 * partitions it owns and may pull. A heartbeat is one write when nothing changed since this
 * process's last step: it builds on the record it last wrote or read (the compare-and-set
 * refuses it if anyone wrote in between, and the step then reads); it reads first after another
 * member's write was seen, a failure, or a reconnect. The JetStream API (the read) is what queues
 * first on a loaded server, so a beat does not wait for it; and three beats fit in the window a
 * process may run on, so two slow or lost beats in a row do not stop its partitions.
 *
 * Timing rules, all on this process's own clock (no clock is compared across processes):
 * - a member is dead when its beat stayed the same over a whole lease period of this process's
 *   reads; a gap in those reads longer than a lease (the server or this process was away)
 *   restarts every such observation, so an outage never makes live members look dead;
 * - this process pulls and starts handlers of its partitions only while its last heartbeat write
 *   was sent less than 2/3 of a lease ago (`fresh`), and its pulls expire after at most a quarter
 *   of a lease: a paused or cut-off owner stops (and its pull requests end) before anyone can have
 *   seen its beat unchanged for a whole lease and taken its partitions over.
 * Another write to the record (seen on the bus's one subscription to `<p>.state.g.>`) makes the
 * process look again at once, so joins, leaves and hand-overs take round trips, not lease periods.
 */
import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { BusLogger } from '@woodwork/bus-core';
import { formatRecord, nextAssignment, parseRecord, type AssignmentRecord } from './assignment.js';
import { isNotFound } from './consumers.js';
import type { Layout } from './subjects.js';

/** `wrong last sequence` from the server: someone else wrote the record first. */
const WRONG_LAST_SEQUENCE = 10071;
const MAX_CAS_TRIES = 8;
/** A failed step (the server away or busy) is tried again after this long. */
const STEP_RETRY_MS = 250;
/** Heartbeats per lease period (the window `fresh` allows is 2/3 of a lease: four beats). */
const BEATS_PER_LEASE = 6;

export interface LeaseHost {
  js: JetStreamClient;
  jsm: JetStreamManager;
  layout: Layout;
  logger: BusLogger;
  /** Creates the prefix's streams when missing (the state stream was deleted or lost). */
  recreateStreams(): Promise<unknown>;
}

export interface LeaseListener {
  /** The owned and draining sets changed (also called when freshness is regained). */
  changed(owned: ReadonlySet<number>, draining: ReadonlySet<number>): void;
  /** Whether this process holds nothing of `partition` (it may be freed). */
  drained(partition: number): boolean;
}

export class PartitionLeases {
  private owned = new Set<number>();
  private draining = new Set<number>();
  /** performance.now() when the last successful heartbeat write was sent. */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private readonly seen = new Map<string, { beat: number; at: number }>();
  private lastReadAt = Number.NEGATIVE_INFINITY;
  private lastWritten = '';
  /** The record as this process last wrote or read it, and its sequence; heartbeats build on it. */
  private known: { seq: number; record: AssignmentRecord } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private queued: { beat: boolean } | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly host: LeaseHost,
    readonly subject: string,
    private readonly partitions: readonly number[],
    readonly member: string,
    readonly leaseMs: number,
    private readonly listener: LeaseListener,
  ) {}

  /** Other members in the record after `leave()` (the group's consumers stay while any is left). */
  membersLeft = 0;

  /** Joins (one step, awaited) and heartbeats from then on. */
  async start(): Promise<void> {
    this.stopped = false;
    this.seen.clear();
    this.known = undefined;
    this.timer = setInterval(() => this.request(true), Math.max(10, Math.floor(this.leaseMs / BEATS_PER_LEASE)));
    this.timer.unref();
    this.request(true);
    await this.running;
  }

  /** Look at the record again soon (another process wrote it, or a draining partition emptied). */
  request(beat = false): void {
    if (this.stopped) return;
    if (this.queued) {
      this.queued.beat ||= beat;
      return;
    }
    this.queued = { beat };
    this.running ??= this.drainQueue();
  }

  /** Another process's write to the record (our own writes are recognised and skipped). */
  notified(body: string): void {
    if (body === this.lastWritten) return;
    this.known = undefined;
    this.request(false);
  }

  /** The connection came back: read the record afresh, and beat. */
  reconnected(): void {
    this.known = undefined;
    this.request(true);
  }

  /** Owned, not draining, and the last heartbeat recent enough: this process may pull and start. */
  mayRun(partition: number): boolean {
    return this.owned.has(partition) && !this.draining.has(partition) && this.fresh();
  }

  owns(partition: number): boolean {
    return this.owned.has(partition);
  }

  fresh(): boolean {
    return performance.now() < this.confirmedAt + (this.leaseMs * 2) / 3;
  }

  /** Longest pull request that still ends before a lapsed lease can be taken over. */
  get maxPullMs(): number {
    return Math.max(50, Math.floor(this.leaseMs / 4));
  }

  get ownedPartitions(): ReadonlySet<number> {
    return this.owned;
  }

  /** Stops heartbeating and frees every partition (call after handing back what was held). */
  async leave(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.retryTimer);
    this.membersLeft = 1;
    await this.running;
    this.owned = new Set();
    this.draining = new Set();
    for (let tries = 0; tries < MAX_CAS_TRIES; tries++) {
      try {
        if (await this.step(false, true)) return;
      } catch {
        // The server is away: the others see the beat stop and take over after one lease.
        return;
      }
    }
  }

  /** Stops heartbeating without writing (the bus is gone or the group removed). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.retryTimer);
  }

  private async drainQueue(): Promise<void> {
    try {
      while (this.queued && !this.stopped) {
        const { beat } = this.queued;
        this.queued = undefined;
        for (let tries = 0; tries < MAX_CAS_TRIES && !this.stopped; tries++) {
          try {
            if (await this.step(beat, false)) break;
          } catch (error) {
            this.known = undefined;
            this.host.logger.debug?.('partition assignment step failed', { subject: this.subject, error: String((error as Error)?.message ?? error) });
            // Soon again, not a heartbeat later: a server just back may need a moment for JetStream.
            this.retryTimer ??= setTimeout(() => {
              this.retryTimer = undefined;
              this.request(beat);
            }, STEP_RETRY_MS);
            this.retryTimer.unref();
            break;
          }
        }
      }
    } finally {
      this.running = undefined;
    }
  }

  /** One read-decide-write; false when another writer got there first (read again). */
  private async step(beat: boolean, leaving: boolean): Promise<boolean> {
    const { seq, record } = beat && !leaving && this.known ? this.known : await this.read();
    this.known = undefined;
    const dead = this.observe(record);
    const sentAt = performance.now();
    const result = nextAssignment(record, {
      me: this.member,
      partitions: this.partitions,
      dead,
      beat,
      leaving,
      drained: (p) => leaving || this.listener.drained(p),
    });
    if (result.changed) {
      const text = formatRecord(result.record);
      try {
        this.lastWritten = text;
        const ack = await this.host.js.publish(this.subject, text, { expect: { lastSubjectSequence: seq } });
        this.known = { seq: ack.seq, record: result.record };
      } catch (error) {
        if (error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) return false;
        if (/no.?responders|503/i.test(String((error as Error)?.message ?? error))) await this.host.recreateStreams().catch(() => undefined);
        throw error;
      }
      if (!leaving && this.member in result.record.members) {
        const wasFresh = this.fresh();
        this.confirmedAt = sentAt;
        // Fresh again after a lapse: the group's pullers start at once, not on their next poll.
        if (!wasFresh && sameSet(new Set(result.owned), this.owned) && sameSet(new Set(result.draining), this.draining)) this.listener.changed(this.owned, this.draining);
      }
    } else {
      this.known = { seq, record };
    }
    if (leaving) {
      this.membersLeft = Object.keys(result.record.members).length;
      return true;
    }
    const owned = new Set(result.owned);
    const draining = new Set(result.draining);
    if (!sameSet(owned, this.owned) || !sameSet(draining, this.draining)) {
      this.owned = owned;
      this.draining = draining;
      this.listener.changed(owned, draining);
    }
    return true;
  }

  private async read(): Promise<{ seq: number; record: AssignmentRecord }> {
    try {
      const msg = await this.host.jsm.streams.getMessage(this.host.layout.stateStream, { last_by_subj: this.subject });
      if (!msg) return { seq: 0, record: parseRecord(undefined) };
      return { seq: msg.seq, record: parseRecord(msg.string()) };
    } catch (error) {
      if (!isNotFound(error)) throw error;
      if (/stream not found/i.test(String((error as Error)?.message ?? error))) await this.host.recreateStreams();
      return { seq: 0, record: parseRecord(undefined) };
    }
  }

  /** Updates what this process saw of the others' beats; returns the members it deems dead. */
  private observe(record: AssignmentRecord): Set<string> {
    const now = performance.now();
    // Beats only grow, so the same beat twice means no write in between, however far apart the
    // reads; but a member cut off with this process (the server away) did not write either, and a
    // lapse that long would make every member look dead at once: start watching again instead.
    if (now - this.lastReadAt > this.leaseMs) this.seen.clear();
    this.lastReadAt = now;
    const dead = new Set<string>();
    for (const [member, beat] of Object.entries(record.members)) {
      if (member === this.member) continue;
      const seen = this.seen.get(member);
      if (!seen || seen.beat !== beat) this.seen.set(member, { beat, at: now });
      else if (now - seen.at >= this.leaseMs) dead.add(member);
    }
    for (const member of this.seen.keys()) if (!(member in record.members)) this.seen.delete(member);
    return dead;
  }
}

function sameSet(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
