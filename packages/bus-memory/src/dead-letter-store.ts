/**
 * The in-memory dead-letter store: records oldest first, bounded by `deadLetterMaxSize` (the oldest
 * are dropped past it and counted). Indexed by session, so deleting a session costs its own records.
 */
import { matchesDeadLetterFilter, type DeadLetterFilter, type DeadLetterRecord } from '@woodwork/bus-core';

export class DeadLetterStore {
  private readonly records = new Map<string, DeadLetterRecord>();
  private readonly bySession = new Map<string, Set<string>>();
  private nextId = 1;
  /** Records dropped by the retention bound. */
  dropped = 0;

  constructor(private readonly maxSize: number) {}

  get size(): number {
    return this.records.size;
  }

  add(record: Omit<DeadLetterRecord, 'id'>): DeadLetterRecord {
    const stored: DeadLetterRecord = { id: `dl-${this.nextId++}`, ...record };
    this.records.set(stored.id, stored);
    let ids = this.bySession.get(stored.envelope.sessionId);
    if (!ids) this.bySession.set(stored.envelope.sessionId, (ids = new Set()));
    ids.add(stored.id);
    while (this.records.size > this.maxSize) {
      this.remove(this.records.keys().next().value as string);
      this.dropped++;
    }
    return stored;
  }

  /** Matching records, oldest first. */
  list(filter?: DeadLetterFilter): DeadLetterRecord[] {
    const limit = filter?.limit ?? Number.POSITIVE_INFINITY;
    const out: DeadLetterRecord[] = [];
    if (limit <= 0) return out;
    for (const record of this.records.values()) {
      if (!matchesDeadLetterFilter(record, filter)) continue;
      out.push(record);
      if (out.length >= limit) break;
    }
    return out;
  }

  remove(id: string): boolean {
    const record = this.records.get(id);
    if (!record) return false;
    this.records.delete(id);
    const ids = this.bySession.get(record.envelope.sessionId);
    ids?.delete(id);
    if (ids?.size === 0) this.bySession.delete(record.envelope.sessionId);
    return true;
  }

  removeMatching(filter?: DeadLetterFilter): number {
    const matching = this.list(filter);
    for (const record of matching) this.remove(record.id);
    return matching.length;
  }

  /** Removes every record of the session; returns how many. */
  removeSession(sessionId: string): number {
    const ids = this.bySession.get(sessionId);
    if (!ids) return 0;
    const n = ids.size;
    for (const id of [...ids]) this.remove(id);
    return n;
  }
}
