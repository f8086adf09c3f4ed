/**
 * DictionaryTable answers like a Map (get, has, size, delete's result, the values and entries it
 * holds) under any sequence of sets, deletes and clears, keys an object would treat specially
 * included; deleting while iterating is allowed, as on a Map.
 */
import { describe, expect, it } from 'vitest';
import { DictionaryTable } from '../src/dictionary-table.js';
import { matchesMap } from './support/map-model.js';

const KEYS = ['a', 'b', '__proto__', 'constructor', 'hasOwnProperty', 'toString', '0', '17', '-1', '1.5', '', '3/1733000000000-0'];

describe('DictionaryTable', () => {
  it('matches a Map through 20,000 random sets, deletes and clears', () => {
    const mine = new DictionaryTable<number>();
    const map = matchesMap(mine, { seed: 11, keys: KEYS, deleteBelow: 0.99 });
    const byKey = (a: [string, number], b: [string, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    expect([...mine.entries()].sort(byKey)).toEqual([...map.entries()].sort(byKey));
    expect([...mine.values()].sort()).toEqual([...map.values()].sort());
  });

  it('holds undefined as a value, and an object\'s own names as keys', () => {
    const mine = new DictionaryTable<number | undefined>();
    mine.set('x', undefined);
    expect(mine.has('x')).toBe(true);
    expect(mine.size).toBe(1);
    expect(mine.get('toString')).toBeUndefined();
    expect(mine.has('__proto__')).toBe(false);
    mine.set('__proto__', 1);
    expect(mine.get('__proto__')).toBe(1);
    expect(mine.size).toBe(2);
  });

  it('takes integer keys as their text, and keeps many sparse ones', () => {
    const mine = new DictionaryTable<number>();
    for (let seq = 1; seq <= 100_000; seq++) {
      mine.set(seq, seq);
      if (seq > 50) expect(mine.delete(seq - 50)).toBe(true);
    }
    expect(mine.size).toBe(50);
    expect(mine.get(100_000)).toBe(100_000);
    expect(mine.get('100000')).toBe(100_000);
    expect(mine.has(50_000)).toBe(false);
    expect([...mine.values()]).toEqual(Array.from({ length: 50 }, (_, i) => 99_951 + i));
  });

  it('keeps insertion order for keys that are not integer-like, and allows deletes while iterating', () => {
    const mine = new DictionaryTable<number>();
    for (const [i, key] of ['s9', 's1', 's5', 'a'].entries()) mine.set(key, i);
    mine.delete('s1');
    mine.set('s1', 9);
    const seen: string[] = [];
    for (const [key] of mine.entries()) {
      seen.push(key);
      mine.delete('s5');
    }
    expect(seen).toEqual(['s9', 'a', 's1']);
    expect(mine.size).toBe(3);
  });
});
