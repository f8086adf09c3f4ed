import { DictionaryTable } from './dictionary-table.js';

/**
 * A map by string key that keeps its entry in two fields while it holds one (and no table is
 * needed), with the same answers as a `Map` (and its insertion order, integer-like keys aside).
 * Made for tables that are almost always empty or hold one entry and change on every message: a
 * group's lanes by session (one session running at a time), a group's unfinished deliveries by
 * session. V8 gives a `Map` a new table when its last entry is deleted, so a `Map` there allocated
 * a table per message; with 1,000 groups those tables were a large part of the memory a fan-out
 * publish walked through (issue 11).
 *
 * The first entry sits in the fields only while the rest is empty; anything set while it is taken
 * goes to the rest, so the field entry is always the oldest. The rest is a `DictionaryTable`, not a
 * `Map`: its keys come and go with the messages (dictionary-table.ts says what a `Map`'s replaced
 * tables cost the collector), so iteration is the field entry, then the table's order.
 */
export class FirstEntryMap<K extends string, V> {
  private firstKey: K | undefined;
  private firstValue: V | undefined;
  private hasFirst = false;
  private rest: DictionaryTable<V> | undefined;

  get size(): number {
    return (this.hasFirst ? 1 : 0) + (this.rest?.size ?? 0);
  }

  get(key: K): V | undefined {
    if (this.hasFirst && this.firstKey === key) return this.firstValue;
    return this.rest?.get(key);
  }

  has(key: K): boolean {
    return (this.hasFirst && this.firstKey === key) || (this.rest?.has(key) ?? false);
  }

  set(key: K, value: V): this {
    if (this.hasFirst && this.firstKey === key) {
      this.firstValue = value;
    } else if (!this.hasFirst && (this.rest === undefined || this.rest.size === 0)) {
      this.firstKey = key;
      this.firstValue = value;
      this.hasFirst = true;
    } else {
      (this.rest ??= new DictionaryTable()).set(key, value);
    }
    return this;
  }

  delete(key: K): boolean {
    if (this.hasFirst && this.firstKey === key) {
      this.firstKey = undefined;
      this.firstValue = undefined;
      this.hasFirst = false;
      return true;
    }
    return this.rest?.delete(key) ?? false;
  }

  clear(): void {
    this.firstKey = undefined;
    this.firstValue = undefined;
    this.hasFirst = false;
    this.rest?.clear();
  }

  *entries(): IterableIterator<[K, V]> {
    if (this.hasFirst) yield [this.firstKey as K, this.firstValue as V];
    if (this.rest) yield* this.rest.entries() as IterableIterator<[K, V]>;
  }

  *keys(): IterableIterator<K> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): IterableIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}
