/**
 * FirstEntryMap answers like a Map (get, has, size, delete's result, insertion order of keys,
 * values and entries) under any sequence of sets and deletes; it only stores its first entry
 * in fields while the rest is empty.
 */
import { describe, expect, it } from 'vitest';
import { FirstEntryMap } from '../src/first-entry-map.js';
import { matchesMap } from './support/map-model.js';

describe('FirstEntryMap', () => {
  it('matches a Map through 20,000 random sets, deletes and clears over a few keys', () => {
    const mine = new FirstEntryMap<string, number>();
    expect(mine.set('k0', 0)).toBe(mine);
    mine.clear();
    const map = matchesMap(mine, { seed: 7, keys: ['k0', 'k1', 'k2', 'k3', 'k4'], check: (m, model) => expect([...m.entries()]).toEqual([...model.entries()]) });
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
