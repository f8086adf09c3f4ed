/**
 * Drives a string-keyed table and a `Map` (the model) through the same seeded random sets, deletes
 * and clears, and checks after each step that they answer alike (size, get, has; `check` adds a
 * table's own comparisons). For the tables that stand in for a `Map` (first-entry-map.ts,
 * dictionary-table.ts).
 */
import { expect } from 'vitest';

export interface MapLike {
  readonly size: number;
  get(key: string): number | undefined;
  has(key: string): boolean;
  set(key: string, value: number): unknown;
  delete(key: string): boolean;
  clear(): void;
}

export function matchesMap<T extends MapLike>(
  mine: T,
  { seed, keys, steps = 20_000, deleteBelow = 0.98, check }: { seed: number; keys: readonly string[]; steps?: number; deleteBelow?: number; check?: (mine: T, map: Map<string, number>) => void },
): Map<string, number> {
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const map = new Map<string, number>();
  for (let step = 0; step < steps; step++) {
    const key = keys[Math.floor(random() * keys.length)] as string;
    const roll = random();
    if (roll < 0.5) {
      map.set(key, step);
      mine.set(key, step);
    } else if (roll < deleteBelow) {
      expect(mine.delete(key)).toBe(map.delete(key));
    } else {
      map.clear();
      mine.clear();
    }
    expect(mine.size).toBe(map.size);
    expect(mine.get(key)).toBe(map.get(key));
    expect(mine.has(key)).toBe(map.has(key));
    check?.(mine, map);
  }
  return map;
}
