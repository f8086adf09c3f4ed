/**
 * A simulated server for the lanes' server hooks, shaped like a Redis Streams consumer group: a log
 * of entries, a pending list with an owner, a delivery count raised on each read or claim and an idle
 * time measured on an injected clock, a count of handler starts kept on the server (what a backend
 * records in `beginAttempt`), claims of entries idle longer than the lease, and acknowledgement
 * failures on demand. It hands out a session's entry only when no earlier entry of that session is
 * pending with another consumer (per-session gating), so order can hold across consumers.
 * Every claim is written down with the previous owner, so a test can prove nothing held was claimed.
 */
import type { JsonObject } from '../../src/index.js';

export interface ServerEntry {
  readonly id: number;
  readonly sessionId: string;
  readonly payload: JsonObject;
}

interface Pending {
  owner: string;
  deliveryCount: number;
  lastDeliveredAt: number;
}

export interface ClaimRecord {
  id: number;
  from: string;
  to: string;
  idleMs: number;
}

export class SimulatedServer {
  readonly entries: ServerEntry[] = [];
  private readonly undelivered: ServerEntry[] = [];
  readonly pending = new Map<number, Pending>();
  /** Handler starts recorded per entry (by `beginAttempt`). */
  readonly starts = new Map<number, number>();
  readonly acked = new Set<number>();
  readonly claims: ClaimRecord[] = [];
  readonly deadLetters: Array<{ id: number; attempts: number; reason: string }> = [];
  /** Acknowledgements of these ids fail this many more times. */
  readonly ackFailures = new Map<number, number>();
  private nextId = 1;

  constructor(private readonly now: () => number) {}

  add(sessionId: string, payload: JsonObject): number {
    const entry = { id: this.nextId++, sessionId, payload };
    this.entries.push(entry);
    this.undelivered.push(entry);
    return entry.id;
  }

  entry(id: number): ServerEntry {
    return this.entries[id - 1] as ServerEntry;
  }

  /** New entries for `consumer`, oldest first, skipping sessions held by another consumer. */
  read(consumer: string, max: number): ServerEntry[] {
    const blocked = new Set<string>();
    for (const [id, p] of this.pending) if (p.owner !== consumer) blocked.add(this.entry(id).sessionId);
    const out: ServerEntry[] = [];
    for (let i = 0; i < this.undelivered.length && out.length < max; ) {
      const entry = this.undelivered[i] as ServerEntry;
      if (blocked.has(entry.sessionId)) {
        i++;
        continue;
      }
      this.undelivered.splice(i, 1);
      this.pending.set(entry.id, { owner: consumer, deliveryCount: 1, lastDeliveredAt: this.now() });
      out.push(entry);
    }
    return out;
  }

  /**
   * Entries idle at least `minIdleMs`, now owned by `consumer` (returned in no particular order).
   * Gated by session like `read`: an entry is not claimed while an older entry of its session is
   * pending with another consumer and not claimed in the same call, or the claimer could run the
   * newer one first.
   */
  claim(consumer: string, minIdleMs: number): ServerEntry[] {
    const out: ServerEntry[] = [];
    const blocked = new Set<string>();
    for (const [id, p] of [...this.pending].sort((a, b) => a[0] - b[0])) {
      const session = this.entry(id).sessionId;
      if (p.owner === consumer) continue;
      const idleMs = this.now() - p.lastDeliveredAt;
      if (blocked.has(session) || idleMs < minIdleMs) {
        blocked.add(session);
        continue;
      }
      this.claims.push({ id, from: p.owner, to: consumer, idleMs });
      p.owner = consumer;
      p.deliveryCount++;
      p.lastDeliveredAt = this.now();
      out.push(this.entry(id));
    }
    // Claims come back in the server's order, not the stream's: the lanes must put them in place.
    return out.reverse();
  }

  /** Resets the idle time of entries `consumer` still owns; returns the ids it no longer owns. */
  renew(consumer: string, ids: readonly number[]): number[] {
    const lost: number[] = [];
    for (const id of ids) {
      const p = this.pending.get(id);
      if (!p || p.owner !== consumer) lost.push(id);
      else p.lastDeliveredAt = this.now();
    }
    return lost;
  }

  recordStart(id: number): number {
    const n = (this.starts.get(id) ?? 0) + 1;
    this.starts.set(id, n);
    return n;
  }

  ack(id: number): void {
    const failures = this.ackFailures.get(id) ?? 0;
    if (failures > 0) {
      this.ackFailures.set(id, failures - 1);
      throw new Error(`ack of ${id} failed (simulated)`);
    }
    this.pending.delete(id);
    this.acked.add(id);
  }

  deadLetter(id: number, attempts: number, reason: string): void {
    this.deadLetters.push({ id, attempts, reason });
  }

  get done(): boolean {
    return this.undelivered.length === 0 && this.pending.size === 0;
  }
}
