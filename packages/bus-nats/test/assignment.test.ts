/**
 * The assignment rules (assignment.ts), without a server: even shares whatever order members join
 * in, no partition taken from a live owner, extras freed only once drained, dead members' partitions
 * freed, a leaving member freeing everything.
 */
import { describe, expect, it } from 'vitest';
import { emptyRecord, formatRecord, nextAssignment, parseRecord, type AssignmentRecord } from '../src/assignment.js';

const P = Array.from({ length: 16 }, (_, i) => i);
const none = new Set<string>();

function step(record: AssignmentRecord, me: string, options: { dead?: Set<string>; leaving?: boolean; holding?: number[]; partitions?: number[] } = {}) {
  return nextAssignment(record, {
    me,
    partitions: options.partitions ?? P,
    dead: options.dead ?? none,
    beat: true,
    leaving: options.leaving ?? false,
    drained: (p) => !(options.holding ?? []).includes(p),
  });
}

function owners(record: AssignmentRecord): Record<string, number> {
  const out: Record<string, number> = {};
  for (const owner of Object.values(record.owners)) out[owner] = (out[owner] ?? 0) + 1;
  return out;
}

describe('partition assignment', () => {
  it('a lone member takes every partition; a second one gets half once the first has freed them', () => {
    let r = step(emptyRecord(), 'a').record;
    expect(owners(r)).toEqual({ a: 16 });
    const joined = step(r, 'b');
    expect(joined.owned).toEqual([]);
    r = joined.record;
    // a sees b, frees the extras it does not hold anything of; b claims them.
    const freed = step(r, 'a');
    expect(freed.owned).toHaveLength(8);
    r = step(freed.record, 'b').record;
    expect(owners(r)).toEqual({ a: 8, b: 8 });
    // Round robin: b (index 1) has the odd partitions.
    expect(Object.entries(r.owners).filter(([, o]) => o === 'b').map(([p]) => Number(p) % 2)).toEqual(new Array(8).fill(1));
  });

  it('an owner keeps a partition it still holds messages of (draining) and frees it once drained', () => {
    let r = step(emptyRecord(), 'a').record;
    r = step(r, 'b').record;
    const busy = step(r, 'a', { holding: [1, 3] });
    expect(busy.draining).toEqual([1, 3]);
    expect(busy.owned).toHaveLength(10);
    r = step(busy.record, 'b').record;
    expect(owners(r)['b']).toBe(6);
    const later = step(r, 'a');
    expect(later.draining).toEqual([]);
    r = step(later.record, 'b').record;
    expect(owners(r)).toEqual({ a: 8, b: 8 });
  });

  it('never takes a partition from a live owner, frees a dead one, and a leaving member frees all', () => {
    let r = step(emptyRecord(), 'a').record;
    r = step(r, 'b').record;
    expect(owners(r)).toEqual({ a: 16 });
    const taken = step(r, 'b', { dead: new Set(['a']) });
    expect(taken.owned).toHaveLength(16);
    expect(Object.keys(taken.record.members)).toEqual(['b']);
    const left = step(taken.record, 'b', { leaving: true });
    expect(left.record.members).toEqual({});
    expect(left.record.owners).toEqual({});
  });

  it('three members converge to 6/5/5 whatever the order of their steps, and only on one partition for a session-bound group', () => {
    let r = emptyRecord();
    for (const me of ['c', 'a', 'b', 'c', 'b', 'a', 'c', 'b', 'a', 'c']) r = step(r, me).record;
    expect(owners(r)).toEqual({ a: 6, b: 5, c: 5 });
    let one = emptyRecord();
    for (const me of ['b', 'a', 'b', 'a']) one = step(one, me, { partitions: [7] }).record;
    expect(Object.keys(one.owners)).toEqual(['7']);
  });

  it('round-trips its text form and reads anything else as empty', () => {
    const r = step(emptyRecord(), 'a').record;
    expect(parseRecord(formatRecord(r))).toEqual(r);
    expect(parseRecord('{"woodwork":1}')).toEqual(emptyRecord());
    expect(parseRecord('not json')).toEqual(emptyRecord());
    expect(step(parseRecord(formatRecord(r)), 'a', { holding: [] }).changed).toBe(true);
  });
});
