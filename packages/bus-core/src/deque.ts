/**
 * A FIFO queue with O(1) push and shift (a growable ring buffer, a power of two long). An empty new
 * queue holds no buffer: groups and lanes make many that stay empty.
 */
/** The buffer of every empty new queue: never written (the first push makes a buffer of its own). */
const NO_ITEMS: readonly never[] = Object.freeze([]);

export class Deque<T> {
  private items: (T | undefined)[] = NO_ITEMS as never[];
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  unshift(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1 + this.items.length) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  /** The item at `index` (0 = the front), or undefined outside the queue. O(1). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.items[(this.head + index) & (this.items.length - 1)];
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  /** Puts `item` at `index` (0 = the front); O(length), for the rare out-of-order insert. */
  insertAt(index: number, item: T): void {
    if (index <= 0) return this.unshift(item);
    if (index >= this.count) return this.push(item);
    const items = this.drain();
    items.splice(index, 0, item);
    for (const each of items) this.push(each);
  }

  /** Keeps the items for which `keep` is true, in order; returns the removed ones. */
  retain(keep: (item: T) => boolean): T[] {
    const removed: T[] = [];
    const kept: T[] = [];
    for (const item of this.drain()) (keep(item) ? kept : removed).push(item);
    for (const item of kept) this.push(item);
    return removed;
  }

  /** Empties the queue, returning its items in order. */
  drain(): T[] {
    const out: T[] = [];
    while (this.count > 0) out.push(this.shift() as T);
    return out;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) & (this.items.length - 1)] as T;
  }

  private grow(): void {
    const next: (T | undefined)[] = new Array(Math.max(4, this.items.length * 2));
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
