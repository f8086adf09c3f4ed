/**
 * The in-memory dead-letter store: records oldest first, bounded by `deadLetterMaxSize` (the oldest
 * are dropped past it and counted).
 */
import { matchesDeadLetterFilter, type DeadLetterFilter, type DeadLetterRecord } from '@woodwork/bus-core';

export class DeadLetterStore {
  private readonly records = new Map<string, DeadLetterRecord>();
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
    while (this.records.size > this.maxSize) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
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
    return this.records.delete(id);
  }

  removeMatching(filter?: DeadLetterFilter): number {
    const matching = this.list(filter);
    for (const record of matching) this.records.delete(record.id);
    return matching.length;
  }
}
