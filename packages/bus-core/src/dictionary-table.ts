/**
 * A table by string key on a dictionary-mode object, for tables whose keys come and go with every
 * message (held deliveries by id, lanes by session).
 *
 * Not a `Map` there, for the collector's sake: V8 gives a `Map` a new table when it grows, shrinks
 * or sweeps out deleted entries, and leaves the old one pointing at the new. Once an old table has
 * been moved to the old generation (by any full collection), every young collection takes that
 * pointer as a root: the new table, and everything its entries refer to at that moment (deliveries,
 * their entry texts and envelopes, alive for a millisecond more), is promoted; then the new table
 * is replaced in turn, and so on, a chain that promotes at the rate of the churn until the next full
 * collection, which it brings sooner. A dictionary object's backing store is replaced without such
 * a link. `node bench/table-churn.mjs` (after one full collection, node 20, 5 Dec 2026), KB promoted
 * per young collection: a window of 30 ids set and deleted in turn with 1 KB values, 253 with a
 * `Map`, 66 with a `Map` of boxes emptied on delete, 9 with this table (6 with no table); 100
 * session keys set and deleted in turn, 142 with a `Map` and 11 with this table. Through the Redis
 * bus at 14,000 messages a second (`npm run bench -- promotion`) the bus promoted 157 KB per young
 * collection before, 26 KB after (bare ioredis 32-34 KB). A set, a get and a delete take 115 ns
 * against a `Map`'s 78 (the same bench): a few dozen ns per message.
 *
 * Keys are strings or non-negative integers (a number key is the same entry as its decimal text;
 * `entries` gives keys as text). Iteration order is the object's: integer-like keys first,
 * ascending, then the others in insertion order. An integer-like key is not a risk to memory: past
 * a few hundred slots V8 keeps sparse integer keys in a dictionary too.
 */
export class DictionaryTable<V> {
  private slots: Record<string, V> = Object.create(null) as Record<string, V>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string | number): V | undefined {
    return this.slots[key];
  }

  has(key: string | number): boolean {
    return key in this.slots;
  }

  set(key: string | number, value: V): void {
    if (!(key in this.slots)) this.count++;
    this.slots[key] = value;
  }

  delete(key: string | number): boolean {
    if (!(key in this.slots)) return false;
    delete this.slots[key];
    this.count--;
    return true;
  }

  clear(): void {
    this.slots = Object.create(null) as Record<string, V>;
    this.count = 0;
  }

  *values(): IterableIterator<V> {
    // A snapshot of the keys: deleting while iterating is allowed, as on a Map.
    for (const key of Object.keys(this.slots)) {
      if (key in this.slots) yield this.slots[key] as V;
    }
  }

  *entries(): IterableIterator<[string, V]> {
    for (const key of Object.keys(this.slots)) {
      if (key in this.slots) yield [key, this.slots[key] as V];
    }
  }
}
