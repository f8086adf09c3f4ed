/**
 * The key layout's pure parts: the partition hash (PROTOCOL.md's test vectors), bounded group keys,
 * entry-id order, every key under `<prefix>:` with the hash tag the scripts rely on.
 */
import { describe, expect, it } from 'vitest';
import { compareEntryIds, eventsKey, groupKeyOf, layoutFor, leaseKey, membersKey, partitionOf, partitionOfKey, tokenKey } from '../src/keys.js';

describe('key layout', () => {
  it('partitions by FNV-1a 32 of the session id, as PROTOCOL.md says', () => {
    expect(partitionOf('s', 8)).toBe(0xf60c4582 % 8);
    expect(partitionOf('session-1', 8)).toBe(0x736a51cd % 8);
    expect(partitionOf('s', 8)).toBe(2);
    expect(partitionOf('session-1', 8)).toBe(5);
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 8000; i++) counts[partitionOf(`session-${i}`, 8)]++;
    for (const c of counts) expect(c).toBeGreaterThan(800);
  });

  it('keeps short group names and bounds long ones with a readable prefix', () => {
    expect(groupKeyOf('agent~tool~result')).toBe('agent~tool~result');
    const long = `${'c'.repeat(128)}~${'e'.repeat(260)}@${'s'.repeat(128)}`;
    const key = groupKeyOf(long);
    expect(key.length).toBeLessThanOrEqual(100);
    expect(key.startsWith('c'.repeat(64))).toBe(true);
    expect(groupKeyOf(`${long}x`)).not.toBe(key);
  });

  it('orders entry ids by time, then sequence, numerically', () => {
    expect(compareEntryIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareEntryIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareEntryIds('10-10', '10-10')).toBe(0);
    expect(compareEntryIds('1700000000001-0', '1700000000000-5')).toBeGreaterThan(0);
  });

  it('starts every key with the prefix and tags what one script touches together', () => {
    const layout = layoutFor('app', 4);
    const keys = [layout.meta, layout.groups, layout.groupActive, layout.dlq, membersKey(layout, 'g'), eventsKey(layout, 3), leaseKey(layout, 3, 'g'), tokenKey(layout, 3, 't')];
    for (const key of keys) expect(key.startsWith('app:{')).toBe(true);
    const tag = (key: string) => key.slice(key.indexOf('{') + 1, key.indexOf('}'));
    expect(tag(eventsKey(layout, 3))).toBe(tag(leaseKey(layout, 3, 'g')));
    expect(tag(eventsKey(layout, 3))).not.toBe(tag(eventsKey(layout, 2)));
    expect(tag(layout.groups)).toBe(tag(membersKey(layout, 'g')));
    expect(partitionOfKey(layout, eventsKey(layout, 3))).toBe(3);
    expect(partitionOfKey(layout, eventsKey(layoutFor('other', 4), 3))).toBeUndefined();
  });
});
