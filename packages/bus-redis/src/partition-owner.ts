/**
 * Leased ownership of a group's partitions, Kafka/Pulsar style: every process consuming the group
 * is a member (a ZSET of heartbeats, by server time); each member owns at most
 * ceil(partitions / members) partitions, each through a lease key (`SET NX PX`, renewed by a
 * compare-owner script every third of `claimIdleMs`).
 *
 * - A member that joins takes free partitions; members above their share drain the excess
 *   (stop reading it, let what they hold settle, wait for the read or claim that may still be
 *   taking entries from it to come back) and only then release it, so a session never runs on two
 *   processes at once during a move, and no entry is handed to a member after it let go.
 * - A member that dies stops renewing: after `claimIdleMs` its leases lapse and live members take
 *   them. A new owner first claims the partition's pending entries (`needsClaim`), which run
 *   before anything newer of their sessions.
 * - Each acquisition has its own lease value (`<consumer>#<n>`): an ack or attempt start made under
 *   an older value is refused by the server (fencing), and the held deliveries of a lost lease are
 *   dropped by the lanes (`holds`).
 */
import type { BusLogger } from '@woodwork/bus-core';
import { leaseKey, membersKey, type Layout } from './keys.js';
import type { Scripts } from './scripts.js';

interface Partition {
  owned: boolean;
  lease: string;
  draining: boolean;
  needsClaim: boolean;
  /** Last time the server confirmed the lease (local clock). */
  confirmedAt: number;
  /**
   * The lease lasts on the server at least until then (local clock): the renewal or acquisition
   * was sent at `validUntil - claimIdleMs`, so the server set its expiry no earlier.
   */
  validUntil: number;
}

export interface OwnerHost {
  scripts: Scripts;
  layout: Layout;
  groupKey: string;
  consumer: string;
  claimIdleMs: number;
  logger: BusLogger;
  /** Deliveries of partition n this process still holds. */
  held(n: number): number;
  /** True while a read or claim that may take entries of partition n is on its way. */
  reading(n: number): boolean;
  /** Ownership changed: the reader should look again. */
  changed(): void;
}

export class PartitionOwner {
  private readonly parts: Partition[];
  private serial = 0;
  private members = 1;
  private lastRenew = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private readonly tickMs: number;

  constructor(private readonly host: OwnerHost) {
    this.parts = Array.from({ length: host.layout.partitions }, () => ({ owned: false, lease: '', draining: false, needsClaim: false, confirmedAt: 0, validUntil: 0 }));
    this.tickMs = Math.max(20, Math.min(500, Math.floor(host.claimIdleMs / 3)));
  }

  /** Joins and takes a first share; then keeps ticking. */
  async start(): Promise<void> {
    await this.tick().catch((error: unknown) => this.host.logger.warn('partition ownership failed; retrying', { group: this.host.groupKey, error: String(error) }));
    if (this.stopped) return;
    this.timer = setInterval(() => void this.tick().catch(() => undefined), this.tickMs);
    this.timer.unref();
  }

  get memberCount(): number {
    return this.members;
  }

  /** Partitions to read now: owned, not draining, pending entries already claimed. */
  readable(): number[] {
    const out: number[] = [];
    this.parts.forEach((p, n) => {
      if (p.owned && !p.draining && !p.needsClaim) out.push(n);
    });
    return out;
  }

  /** Partitions just acquired whose previous owner's pending entries must be claimed first. */
  claimsDue(): Array<{ n: number; lease: string }> {
    const out: Array<{ n: number; lease: string }> = [];
    this.parts.forEach((p, n) => {
      if (p.owned && p.needsClaim) out.push({ n, lease: p.lease });
    });
    return out;
  }

  claimed(n: number, lease: string): void {
    const p = this.parts[n]!;
    if (p.lease === lease) p.needsClaim = false;
  }

  /** True while `lease` is this process's current lease of partition n. */
  holds(n: number, lease: string): boolean {
    const p = this.parts[n];
    return p !== undefined && p.owned && p.lease === lease;
  }

  /** Milliseconds the lease of partition n surely lasts on the server from now (0 when not owned). */
  leaseLeftMs(n: number, now = Date.now()): number {
    const p = this.parts[n]!;
    return p.owned ? Math.max(0, p.validUntil - now) : 0;
  }

  leaseOf(n: number): string | undefined {
    const p = this.parts[n]!;
    return p.owned ? p.lease : undefined;
  }

  get ownedCount(): number {
    return this.parts.filter((p) => p.owned).length;
  }

  /** Renews (and so finds lost leases) now instead of at the next third of the lease. */
  checkNow(): void {
    this.lastRenew = 0;
    void this.tick().catch(() => undefined);
  }

  /**
   * Renews every lease now and resolves once the server answered (a lease it no longer has is
   * lost here, and taken again with a new value). After the server lost its data: entries read
   * under a lease value the server no longer has would have their acks refused and be claimed and
   * run again under the new one.
   */
  async verify(): Promise<void> {
    await this.ticking?.catch(() => undefined);
    this.lastRenew = 0;
    await this.tick();
  }

  /** One round: heartbeat, renew, release the excess once drained, acquire up to the share. */
  tick(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.ticking ??= this.round().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async round(): Promise<void> {
    const { scripts, layout, groupKey, consumer, claimIdleMs } = this.host;
    const members = await scripts.wwHeartbeat(membersKey(layout, groupKey), layout.groupActive, consumer, claimIdleMs, groupKey, 'join');
    if (this.stopped) return;
    const sorted = [...new Set(members)].sort();
    this.members = Math.max(1, sorted.length);
    const me = Math.max(0, sorted.indexOf(consumer));
    const share = Math.ceil(layout.partitions / this.members);
    let changed = false;

    const now = Date.now();
    if (now - this.lastRenew >= claimIdleMs / 3) {
      this.lastRenew = now;
      await Promise.all(
        this.parts.map(async (p, n) => {
          if (!p.owned) return;
          const sentAt = Date.now();
          try {
            if ((await scripts.wwLease(leaseKey(layout, n, groupKey), p.lease, claimIdleMs, 'renew')) === 1) {
              p.confirmedAt = Date.now();
              p.validUntil = sentAt + claimIdleMs;
            } else changed = this.lose(n, 'taken over') || changed;
          } catch {
            // Unknown: keep it until the lease would have lapsed anyway.
          }
        }),
      );
    }
    for (const [n, p] of this.parts.entries()) {
      if (p.owned && Date.now() - p.confirmedAt > claimIdleMs) changed = this.lose(n, 'not renewed within claimIdleMs') || changed;
    }

    // Release the excess (least busy first), each once nothing of it is held here any more.
    const owned = this.parts.map((p, n) => ({ p, n })).filter(({ p }) => p.owned);
    let keep = owned.filter(({ p }) => !p.draining).length;
    if (keep > share) {
      const candidates = owned.filter(({ p }) => !p.draining).sort((a, b) => pref(b.n) - pref(a.n) || this.host.held(a.n) - this.host.held(b.n));
      for (const { p } of candidates) {
        if (keep <= share) break;
        p.draining = true;
        keep--;
        changed = true;
      }
    }
    for (const { p, n } of owned) {
      // Not while a read or claim that included it is on its way back: the server may have handed
      // it entries that are not counted as held yet, and the next owner would run them too.
      if (!p.draining || this.host.held(n) > 0 || this.host.reading(n)) continue;
      // Let go here first: from now on nothing read from it is taken in (the reader skips entries
      // of partitions not owned, and they stay pending for the next owner's claim).
      const lease = p.lease;
      p.owned = false;
      p.draining = false;
      changed = true;
      await scripts.wwLease(leaseKey(layout, n, groupKey), lease, claimIdleMs, 'release');
    }

    // Acquire free partitions, preferred ones (n mod members = my index) first.
    let have = this.parts.filter((p) => p.owned && !p.draining).length;
    if (have < share) {
      const order = this.parts.map((_, n) => n).filter((n) => !this.parts[n]!.owned).sort((a, b) => pref(a) - pref(b) || a - b);
      for (const n of order) {
        if (have >= share || this.stopped) break;
        const value = `${consumer}#${++this.serial}`;
        const sentAt = Date.now();
        if ((await scripts.wwLease(leaseKey(layout, n, groupKey), value, claimIdleMs, 'acquire')) !== 1) continue;
        this.parts[n] = { owned: true, lease: value, draining: false, needsClaim: true, confirmedAt: Date.now(), validUntil: sentAt + claimIdleMs };
        have++;
        changed = true;
      }
    }
    if (changed) this.host.changed();

    function pref(n: number): number {
      return n % Math.max(1, sorted.length) === me ? 0 : 1;
    }
  }

  private lose(n: number, why: string): boolean {
    const p = this.parts[n]!;
    if (!p.owned) return false;
    this.host.logger.warn('partition lease lost', { group: this.host.groupKey, partition: n, why });
    p.owned = false;
    p.draining = false;
    p.needsClaim = false;
    return true;
  }

  /** Stops ticking, releases every lease and leaves the membership (best effort: they lapse anyway). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.ticking?.catch(() => undefined);
    const { scripts, layout, groupKey, consumer, claimIdleMs } = this.host;
    await Promise.allSettled(
      this.parts.map(async (p, n) => {
        if (!p.owned) return;
        p.owned = false;
        await scripts.wwLease(leaseKey(layout, n, groupKey), p.lease, claimIdleMs, 'release');
      }),
    );
    await scripts.wwHeartbeat(membersKey(layout, groupKey), layout.groupActive, consumer, claimIdleMs, groupKey, 'leave').catch(() => undefined);
  }
}
