/**
 * The read loop of one group in this process, on a connection of its own (a blocking XREADGROUP
 * holds its connection): first the pending entries of partitions it just took over (XAUTOCLAIM,
 * which also drops ids whose entries were trimmed or deleted), then new entries (`>`) of every
 * partition it owns, in one blocking read, no more than the group has room for. A change of
 * ownership interrupts the read (CLIENT UNBLOCK). After a read error the group re-claims its own
 * pending entries (a reply lost with the connection must not strand them), and after NOGROUP (the
 * server lost its data) it recreates what it needs and goes on.
 *
 * A read must never take entries of a partition this process no longer holds on the server: they
 * would land in its pending list after the next owner claimed that list, and wait there. So the
 * owner releases a partition only when no read or claim that includes it is on its way
 * (`reading`), and a blocking read waits no longer than the shortest lease it reads under surely
 * lasts on the server (`leaseLeftMs`, less a margin).
 */
import { WakeableDelay } from '@woodwork/bus-core';
import { compareEntryIds, eventsKey, partitionOfKey } from './keys.js';
import { connectClient, createClient, type RedisClient } from './connection.js';
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

const CLAIM_PAGE = 256;
const IDLE_WAIT_MS = 200;
/** Below this much lease left, a partition is not read until its lease is renewed. */
const MIN_LEASE_LEFT_MS = 100;

export class PartitionReader {
  private conn: RedisClient | undefined;
  private connId: number | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private blocked = false;
  private readonly delay = new WakeableDelay();
  /** Re-claim every owned partition before the next read (after an error or reconnect). */
  private reclaim = false;
  /** Highest id read per partition: where a lost consumer group is recreated. */
  private readonly lastRead: Array<string | undefined>;
  /** Partitions of the read or claim on its way (entries the server may hand over, not yet held). */
  private busy: ReadonlySet<number> = new Set();

  constructor(private readonly p: ReaderParams) {
    this.lastRead = new Array<string | undefined>(p.host.layout.partitions).fill(undefined);
  }

  start(): void {
    if (this.running || this.stopped) return;
    this.running = this.loop().catch((error: unknown) => this.p.host.options.logger.error('group reader stopped', { group: this.p.stored.group, error: String(error) }));
  }

  skip(n: number, lease: string, id: string): void {
    this.p.skip(n, lease, id);
  }

  /** True while a read or claim that may take entries of partition n is on its way. */
  reading(n: number): boolean {
    return this.busy.has(n);
  }

  /** Look again now: room changed (ends an idle wait, never a blocking read). */
  wake(): void {
    this.delay.wake();
  }

  /** Look again now: ownership changed (also ends a blocking read). */
  interrupt(): void {
    this.wake();
    if (this.blocked && this.connId !== undefined && !this.p.host.options.cluster) {
      this.blocked = false;
      void this.p.host.client.client('UNBLOCK', this.connId).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    // The server ends a blocked read before the leases are released (the next command on the same
    // connection as the releases): a read it still served afterwards would hand this consumer new
    // entries after the next owner claimed its pending list.
    if (this.blocked && this.connId !== undefined && !this.p.host.options.cluster) {
      this.blocked = false;
      await this.p.host.client.client('UNBLOCK', this.connId).catch(() => undefined);
    }
    this.conn?.disconnect();
    await this.running;
  }

  private async connection(): Promise<RedisClient> {
    if (this.conn) return this.conn;
    const conn = createClient(this.p.host.options, `woodwork-reader ${this.p.consumer}`);
    conn.on('error', () => undefined);
    if (!this.p.host.options.cluster) {
      conn.on('ready', () => {
        void (conn as unknown as { client(sub: 'ID'): Promise<number> }).client('ID').then((id) => (this.connId = Number(id)), () => undefined);
      });
    }
    this.conn = conn;
    await connectClient(conn, this.p.host.options);
    return conn;
  }

  private async loop(): Promise<void> {
    const { host, owner } = this.p;
    let failures = 0;
    while (!this.stopped) {
      try {
        const conn = await this.connection();
        if (this.reclaim) {
          for (const n of owner.readable()) await this.claim(n, owner.leaseOf(n) as string);
          this.reclaim = false;
        }
        for (const { n, lease } of owner.claimsDue()) await this.claim(n, lease);
        const now = Date.now();
        const parts = owner.readable().filter((n) => owner.leaseLeftMs(n, now) > MIN_LEASE_LEFT_MS);
        const room = this.p.room();
        if (parts.length === 0 || room <= 0) {
          await this.delay.sleep(parts.length === 0 && owner.readable().length > 0 ? 20 : IDLE_WAIT_MS);
          continue;
        }
        const count = Math.min(host.options.readBatchSize, room);
        // A blocked read ends before the shortest of its leases may lapse on the server.
        const blockMs = Math.min(host.options.blockMs, ...parts.map((n) => owner.leaseLeftMs(n, now) - MIN_LEASE_LEFT_MS));
        let got: number;
        this.busy = new Set(parts);
        try {
          got = host.options.cluster ? await this.readEach(conn, parts, count) : await this.readAll(conn, parts, count, Math.max(1, Math.floor(blockMs)));
        } finally {
          this.busy = new Set();
        }
        if (got === 0 && host.options.cluster) await this.delay.sleep(50);
        failures = 0;
      } catch (error) {
        this.blocked = false;
        if (this.stopped) return;
        if (isNoGroup(error)) {
          await this.recreate().catch(() => undefined);
          continue;
        }
        failures++;
        this.reclaim = true;
        if (failures === 1 || failures % 20 === 0) host.options.logger.warn('read failed; retrying', { group: this.p.stored.group, error: String((error as Error)?.message ?? error) });
        await this.delay.sleep(Math.min(1_000, 25 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private async readAll(conn: RedisClient, parts: number[], count: number, blockMs: number): Promise<number> {
    const { layout } = this.p.host;
    const keys = parts.map((n) => eventsKey(layout, n));
    this.blocked = true;
    let reply: unknown;
    try {
      reply = await conn.xreadgroup('GROUP', this.p.stored.key, this.p.consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...keys, ...keys.map(() => '>'));
    } finally {
      this.blocked = false;
    }
    return this.deliver(reply);
  }

  /** Cluster: partitions live on different nodes, one non-blocking read each. */
  private async readEach(conn: RedisClient, parts: number[], count: number): Promise<number> {
    const { layout } = this.p.host;
    const replies = await Promise.all(parts.map((n) => conn.xreadgroup('GROUP', this.p.stored.key, this.p.consumer, 'COUNT', count, 'STREAMS', eventsKey(layout, n), '>')));
    // One delivery for all of them: entries go to the lanes oldest first across partitions.
    return this.deliver(replies.flatMap((reply) => (Array.isArray(reply) ? reply : [])));
  }

  private deliver(reply: unknown): number {
    const all: Array<{ n: number; lease: string; entry: StreamEntry }> = [];
    const streams = readGroupReply(reply);
    const multiple = streams.filter((s) => s.entries.length > 0).length > 1;
    for (const { key, entries } of streams) {
      const n = partitionOfKey(this.p.host.layout, key);
      if (n === undefined) continue;
      const lease = this.p.owner.leaseOf(n);
      // Read after the lease was lost: the entries stay pending for the new owner's claim.
      if (lease === undefined) continue;
      for (const entry of entries) all.push({ n, lease, entry });
    }
    // Across partitions, in the order the server stored them (ids are times): the oldest first.
    if (multiple) all.sort((a, b) => compareEntryIds(a.entry.id, b.entry.id));
    for (const { n, lease, entry } of all) {
      this.note(n, entry.id);
      if (entry.deleted) this.p.skip(n, lease, entry.id);
      else this.p.onEntry(n, lease, entry, 1);
    }
    return all.length;
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

  private async recreate(): Promise<void> {
    const { host, stored } = this.p;
    host.options.logger.warn('consumer group missing (NOGROUP): recreating it', { group: stored.group });
    for (let n = 0; n < host.layout.partitions; n++) await host.recreate(stored, n, this.lastRead[n]);
    this.reclaim = true;
  }
}
