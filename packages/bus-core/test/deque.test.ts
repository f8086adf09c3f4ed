/**
 * Deque: FIFO order through growth and wrap-around, unshift at the head, retain and drain, checked
 * against a plain array doing the same operations.
 */
import { describe, expect, it } from 'vitest';
import { Deque } from '../src/index.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Deque', () => {
  it('is first in, first out', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 5; i++) d.push(i);
    expect(d.length).toBe(5);
    expect(d.peek()).toBe(0);
    expect([d.shift(), d.shift(), d.shift()]).toEqual([0, 1, 2]);
    expect(d.length).toBe(2);
    expect([...d]).toEqual([3, 4]);
  });

  it('at reads any index in O(1), also wrapped around its ring, undefined outside', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 12; i++) d.push(i);
    for (let i = 0; i < 10; i++) d.shift();
    for (let i = 12; i < 20; i++) d.push(i);
    expect(Array.from({ length: d.length }, (_, i) => d.at(i))).toEqual([...d]);
    expect([d.at(-1), d.at(d.length)]).toEqual([undefined, undefined]);
  });

  it('an empty deque shifts and peeks undefined and stays usable', () => {
    const d = new Deque<string>();
    expect(d.shift()).toBeUndefined();
    expect(d.peek()).toBeUndefined();
    expect(d.length).toBe(0);
    d.push('a');
    expect(d.shift()).toBe('a');
    expect(d.shift()).toBeUndefined();
    expect(d.length).toBe(0);
  });

  it('keeps order when it grows while wrapped around its ring', () => {
    const d = new Deque<number>();
    let next = 0;
    let expected = 0;
    // Move the head to the middle of the 16-slot ring, then fill past it several times.
    for (let i = 0; i < 10; i++) d.push(next++);
    for (let i = 0; i < 10; i++) expect(d.shift()).toBe(expected++);
    for (let i = 0; i < 1000; i++) d.push(next++);
    expect(d.length).toBe(1000);
    expect([...d]).toEqual(Array.from({ length: 1000 }, (_, i) => i + 10));
    while (d.length > 0) expect(d.shift()).toBe(expected++);
    expect(expected).toBe(next);
  });

  it('unshift puts an item at the head, also when full and wrapped', () => {
    const d = new Deque<number>();
    for (let i = 1; i <= 16; i++) d.push(i);
    d.shift();
    d.push(17);
    d.unshift(1);
    d.unshift(0);
    expect(d.length).toBe(18);
    expect([...d]).toEqual(Array.from({ length: 18 }, (_, i) => i));
    expect(d.peek()).toBe(0);
  });

  it('retain keeps matching items in order and returns the removed ones in order', () => {
    const d = new Deque<number>();
    for (let i = 0; i < 40; i++) d.push(i);
    for (let i = 0; i < 7; i++) d.shift();
    const removed = d.retain((n) => n % 3 !== 0);
    expect(removed).toEqual([9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39]);
    expect([...d]).toEqual(Array.from({ length: 33 }, (_, i) => i + 7).filter((n) => n % 3 !== 0));
    expect(d.length).toBe(22);
  });

  it('drain empties it and returns everything in order', () => {
    const d = new Deque<string>();
    d.push('b');
    d.unshift('a');
    d.push('c');
    expect(d.drain()).toEqual(['a', 'b', 'c']);
    expect(d.length).toBe(0);
    expect([...d]).toEqual([]);
  });

  it.each([1, 2, 3, 4, 5])('matches an array over 5000 random operations (seed %i)', (seed) => {
    const random = prng(seed);
    const d = new Deque<number>();
    const model: number[] = [];
    let next = 0;
    for (let step = 0; step < 5000; step++) {
      const r = random();
      if (r < 0.45) {
        d.push(next);
        model.push(next++);
      } else if (r < 0.55) {
        d.unshift(next);
        model.unshift(next++);
      } else if (r < 0.97) {
        expect(d.shift()).toBe(model.shift());
      } else {
        const mod = 2 + Math.floor(random() * 4);
        const removed = d.retain((n) => n % mod !== 0);
        expect(removed).toEqual(model.filter((n) => n % mod === 0));
        model.splice(0, model.length, ...model.filter((n) => n % mod !== 0));
      }
      expect(d.length).toBe(model.length);
      expect(d.peek()).toBe(model[0]);
    }
    expect([...d]).toEqual(model);
    expect(d.drain()).toEqual(model);
  });
});
