/**
 * A FIFO queue with O(1) push and shift: its front item in a field, the rest in a growable ring
 * buffer (a power of two long). An empty new queue holds no buffer: groups and lanes make many that
 * stay empty. A queue of one item (a lane holding one delivery, a group's ready queue holding one
 * lane: every group of a fan-out, on every publish) keeps it in the field and never reads its buffer:
 * a cache line less per queue (issue 11).
 */
/** The buffer of every queue that has not needed one: never written (the first use makes its own). */
const NO_ITEMS: readonly never[] = Object.freeze([]);

export class Deque<T> {
  /** The front item, while `count` > 0. */
  private front: T | undefined = undefined;
  /** Items behind the front, in a ring: `rest` of them from `head`. */
  private items: (T | undefined)[] = NO_ITEMS as never[];
  private head = 0;
  private rest = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === 0) this.front = item;
    else this.pushRest(item);
    this.count++;
  }

  unshift(item: T): void {
    if (this.count > 0) {
      // The front moves to the head of the ring.
      if (this.rest === this.items.length) this.grow();
      this.head = (this.head - 1 + this.items.length) & (this.items.length - 1);
      this.items[this.head] = this.front;
      this.rest++;
    }
    this.front = item;
    this.count++;
  }

  /** The item at `index` (0 = the front), or undefined outside the queue. O(1). */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    if (index === 0) return this.front;
    return this.items[(this.head + index - 1) & (this.items.length - 1)];
  }

  peek(): T | undefined {
    return this.count === 0 ? undefined : this.front;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.front;
    if (this.rest > 0) {
      this.front = this.items[this.head];
      this.items[this.head] = undefined;
      this.head = (this.head + 1) & (this.items.length - 1);
      this.rest--;
    } else {
      this.front = undefined;
    }
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
    for (let i = 0; i < this.count; i++) yield (i === 0 ? this.front : this.items[(this.head + i - 1) & (this.items.length - 1)]) as T;
  }

  private pushRest(item: T): void {
    if (this.rest === this.items.length) this.grow();
    this.items[(this.head + this.rest) & (this.items.length - 1)] = item;
    this.rest++;
  }

  private grow(): void {
    const next: (T | undefined)[] = new Array(Math.max(4, this.items.length * 2));
    for (let i = 0; i < this.rest; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
