/**
 * FirstEntryMap answers like a Map (get, has, size, delete's result, insertion order of keys,
 * values and entries) under any sequence of sets and deletes; it only stores its first entry
 * in fields while the rest is empty.
 */
import { describe, expect, it } from 'vitest';
import { FirstEntryMap } from '../src/first-entry-map.js';

describe('FirstEntryMap', () => {
  it('matches a Map through 20,000 random sets, deletes and clears over a few keys', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const map = new Map<string, number>();
    const mine = new FirstEntryMap<string, number>();
    for (let step = 0; step < 20_000; step++) {
      const key = `k${Math.floor(random() * 5)}`;
      const roll = random();
      if (roll < 0.5) {
        map.set(key, step);
        expect(mine.set(key, step)).toBe(mine);
      } else if (roll < 0.98) {
        expect(mine.delete(key)).toBe(map.delete(key));
      } else {
        map.clear();
        mine.clear();
      }
      expect(mine.size).toBe(map.size);
      expect(mine.get(key)).toBe(map.get(key));
      expect(mine.has(key)).toBe(map.has(key));
      expect([...mine.entries()]).toEqual([...map.entries()]);
    }
    expect([...mine.keys()]).toEqual([...map.keys()]);
    expect([...mine.values()]).toEqual([...map.values()]);
    expect([...mine]).toEqual([...map]);
  });

  it('keeps insertion order when the first entry is deleted while others remain', () => {
    const mine = new FirstEntryMap<string, number>();
    mine.set('a', 1).set('b', 2);
    mine.delete('a');
    mine.set('c', 3);
    expect([...mine.keys()]).toEqual(['b', 'c']);
    mine.delete('b');
    mine.delete('c');
    mine.set('d', 4);
    expect([...mine.entries()]).toEqual([['d', 4]]);
    expect(mine.get('a')).toBeUndefined();
  });
});
