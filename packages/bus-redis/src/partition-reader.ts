/**
 * What one group reads in this process (the bus's read loop, read-loop.ts, does the reading for
 * every group on one connection): first the pending entries of partitions it just took over
 * (XAUTOCLAIM, which also drops ids whose entries were trimmed or deleted), then new entries (`>`)
 * of every partition it owns, no more than the group has room for. After a read error the group
 * re-claims its own pending entries (a reply lost with the connection must not strand them), and
 * after NOGROUP (the server lost its data) it recreates what it needs and goes on.
 *
 * A read must never take entries of a partition this process no longer holds on the server: they
 * would land in its pending list after the next owner claimed that list, and wait there. So the
 * owner releases a partition only when no read or claim that includes it is on its way
 * (`reading`), entries read for a partition no longer owned are left pending for the next owner,
 * and a partition whose lease may lapse before the read reaches the server is not read.
 */
import { compareEntryIds, eventsKey, partitionOfKey } from './keys.js';
import type { GroupHost } from './redis-group.js';
import type { PartitionOwner } from './partition-owner.js';
import type { StoredGroup } from './group-registry.js';
import { autoClaimReply, isNoGroup, pendingCounts, readGroupReply, type StreamEntry } from './stream-replies.js';

export interface ReaderParams {
  host: GroupHost;
  stored: StoredGroup;
  consumer: string;
  owner: PartitionOwner;
  /** How many more entries the group may hold now. */
  room(): number;
  onEntry(n: number, lease: string, entry: StreamEntry, delivered: number): void;
  skip(n: number, lease: string, id: string): void;
}

/** One group's read: the partitions, how many entries at most, how long a blocking read may wait. */
export interface ReadSpec {
  parts: number[];
  /**
   * The `COUNT` of the read, which Redis applies to each stream: the group's batch (`readBatchSize`,
   * or the room left when less) shared among the partitions read, so that one read takes about a
   * batch, not a batch per partition (8 partitions made one read take up to 2,048 entries, handed
   * over in one turn of the event loop: a stall of tens of ms that every message behind it waited
   * out, and that grew the backlog it came from). At least `MIN_PER_STREAM` (or the whole batch
   * when smaller), so that one busy partition among many idle ones is not read a few entries at a time.
   */
  count: number;
  /** Shorter than the shortest lease of `parts` surely lasts on the server. */
  blockMs: number;
}

const CLAIM_PAGE = 256;
/** The smallest per-stream COUNT of a read over several partitions (see ReadSpec.count). */
const MIN_PER_STREAM = 16;
/** Below this much lease left, a partition is not read until its lease is renewed. */
const MIN_LEASE_LEFT_MS = 100;

export class PartitionReader {
  private stopped = false;
  /** Re-claim every owned partition before the next read (after an error or reconnect). */
  private reclaim = false;
  /** Highest id read per partition: where a lost consumer group is recreated. */
  private readonly lastRead: Array<string | undefined>;
  /** Partitions of the read or claim on its way (entries the server may hand over, not yet held). */
  private busy: ReadonlySet<number> = new Set();

  constructor(private readonly p: ReaderParams) {
    this.lastRead = new Array<string | undefined>(p.host.layout.partitions).fill(undefined);
  }

  get groupKey(): string {
    return this.p.stored.key;
  }

  get consumer(): string {
    return this.p.consumer;
  }

  skip(n: number, lease: string, id: string): void {
    this.p.skip(n, lease, id);
  }

  /** True while a read or claim that may take entries of partition n is on its way. */
  reading(n: number): boolean {
    return this.busy.has(n);
  }

  busyAny(): boolean {
    return this.busy.size > 0;
  }

  markBusy(parts: readonly number[]): void {
    this.busy = new Set(parts);
  }

  /** The group's reads end (it is stopping). */
  stop(): void {
    this.stopped = true;
  }

  /** A read failed (connection lost): re-claim what is ours before reading again. */
  readFailed(): void {
    this.reclaim = true;
  }

  /** Claims what must run before anything new: partitions just taken over, or all after an error. */
  async prepare(): Promise<void> {
    const { owner } = this.p;
    try {
      if (this.reclaim) {
        for (const n of owner.readable()) await this.claim(n, owner.leaseOf(n) as string);
        this.reclaim = false;
      }
      for (const { n, lease } of owner.claimsDue()) await this.claim(n, lease);
    } catch (error) {
      if (!isNoGroup(error)) throw error;
      await this.recreate();
    }
  }

  /** What to read now: undefined when nothing is readable, 'no-room' when the group is full. */
  readSpec(now: number): ReadSpec | 'no-room' | undefined {
    if (this.stopped) return undefined;
    const { owner } = this.p;
    const parts = owner.readable().filter((n) => owner.leaseLeftMs(n, now) > MIN_LEASE_LEFT_MS);
    if (parts.length === 0) return undefined;
    const room = this.p.room();
    if (room <= 0) return 'no-room';
    const blockMs = Math.min(this.p.host.options.blockMs, ...parts.map((n) => owner.leaseLeftMs(n, now) - MIN_LEASE_LEFT_MS));
    const batch = Math.min(this.p.host.options.readBatchSize, room);
    const count = Math.max(Math.min(batch, MIN_PER_STREAM), Math.ceil(batch / parts.length));
    return { parts, count, blockMs: Math.max(1, Math.floor(blockMs)) };
  }

  /** Hands the entries of an XREADGROUP reply (or several, merged) to the group; how many. */
  deliver(reply: unknown): number {
    const streams = readGroupReply(reply);
    let withEntries = 0;
    for (const s of streams) if (s.entries.length > 0) withEntries++;
    if (withEntries <= 1) {
      // The common case (one partition with entries): handed over as they came, no merge.
      let count = 0;
      for (const { key, entries } of streams) if (entries.length > 0) count += this.deliverFrom(key, entries);
      return count;
    }
    const all: Array<{ n: number; lease: string; entry: StreamEntry }> = [];
    for (const { key, entries } of streams) {
      const n = partitionOfKey(this.p.host.layout, key);
      if (n === undefined) continue;
      const lease = this.p.owner.leaseOf(n);
      // Read after the lease was lost: the entries stay pending for the new owner's claim.
      if (lease === undefined) continue;
      for (const entry of entries) all.push({ n, lease, entry });
    }
    // Across partitions, in the order the server stored them (ids are times): the oldest first.
    all.sort((a, b) => compareEntryIds(a.entry.id, b.entry.id));
    for (const { n, lease, entry } of all) this.hand(n, lease, entry);
    return all.length;
  }

  /** One stream's entries, in their order (see `deliver`); how many were handed over. */
  private deliverFrom(key: string, entries: readonly StreamEntry[]): number {
    const n = partitionOfKey(this.p.host.layout, key);
    if (n === undefined) return 0;
    const lease = this.p.owner.leaseOf(n);
    // Read after the lease was lost: the entries stay pending for the new owner's claim.
    if (lease === undefined) return 0;
    for (const entry of entries) this.hand(n, lease, entry);
    return entries.length;
  }

  private hand(n: number, lease: string, entry: StreamEntry): void {
    this.note(n, entry.id);
    if (entry.deleted) this.p.skip(n, lease, entry.id);
    else this.p.onEntry(n, lease, entry, 1);
  }

  /** Takes over partition n's pending entries (any consumer's) in id order, before reading it. */
  private async claim(n: number, lease: string): Promise<void> {
    this.busy = new Set([n]);
    try {
      await this.claimPages(n, lease);
    } finally {
      this.busy = new Set();
    }
  }

  private async claimPages(n: number, lease: string): Promise<void> {
    const { client, layout } = this.p.host;
    const key = eventsKey(layout, n);
    let cursor = '0-0';
    do {
      const page = autoClaimReply(await client.xautoclaim(key, this.p.stored.key, this.p.consumer, 0, cursor, 'COUNT', CLAIM_PAGE));
      cursor = page.cursor;
      if (!this.p.owner.holds(n, lease)) return;
      const live = page.entries.filter((e) => !e.deleted);
      const counts =
        live.length > 0 ? pendingCounts(await client.xpending(key, this.p.stored.key, live[0]!.id, live[live.length - 1]!.id, live.length, this.p.consumer)) : new Map<string, number>();
      for (const entry of page.entries) {
        this.note(n, entry.id);
        if (entry.deleted) this.p.skip(n, lease, entry.id);
        else this.p.onEntry(n, lease, entry, counts.get(entry.id) ?? 2);
      }
    } while (cursor !== '0-0' && !this.stopped);
    this.p.owner.claimed(n, lease);
  }

  private note(n: number, id: string): void {
    const last = this.lastRead[n];
    if (last === undefined || compareEntryIds(id, last) > 0) this.lastRead[n] = id;
  }

  /** After NOGROUP: recreates the group on every partition (after the last id read) and re-claims. */
  async recreate(): Promise<void> {
    const { host, stored } = this.p;
    host.options.logger.warn('consumer group missing (NOGROUP): recreating it', { group: stored.group });
    for (let n = 0; n < host.layout.partitions; n++) await host.recreate(stored, n, this.lastRead[n]);
    // A server that lost its groups lost the leases too: find out before reading under them.
    await this.p.owner.verify();
    this.reclaim = true;
  }
}
