/**
 * The layout module: names start with the prefix as a whole token, long group names map to valid
 * distinct durable names, subjects reject what would break routing, and the client-side routing
 * rule matches the contract.
 */
import { describe, expect, it } from 'vitest';
import { InvalidMessageError, resolveSubscription } from '@woodwork/bus-core';
import { DEFAULT_PARTITIONS, acceptsTarget, consumerName, groupFilter, groupPartitions, layoutFor, messageSubject, parseMessageSubject, partitionConsumerName, partitionOf, redriveSubject } from '../src/subjects.js';
import { subjectMatches } from '../src/lost-deliveries.js';

const layout = layoutFor('tenant_a-1');
const spec = (pattern: string, options: Record<string, unknown>) => resolveSubscription(pattern, () => undefined, options, { concurrency: 1, handlerTimeoutMs: 0 });

describe('layout', () => {
  it('starts every stream, consumer and subject with the prefix as a whole token', () => {
    expect([layout.eventsStream, layout.dlqStream, layout.stateStream]).toEqual(['tenant_a-1~EVENTS', 'tenant_a-1~DLQ', 'tenant_a-1~STATE']);
    const p = partitionOf('s1', DEFAULT_PARTITIONS);
    expect(messageSubject(layout, 's1', null, 'a.b')).toBe(`tenant_a-1.m.${p}.s1.~.a.b`);
    expect(messageSubject(layout, 's1', 'agent', 'a')).toBe(`tenant_a-1.m.${p}.s1.agent.a`);
    expect(consumerName(layout, 'workers')).toBe('tenant_a-1~workers');
    // A prefix that extends another never shares its names: the separator cannot occur in a prefix.
    const longer = layoutFor('tenant_a-1_x');
    expect(longer.eventsStream.startsWith(`${layout.prefix}~`)).toBe(false);
    expect(messageSubject(longer, 's', null, 'a').startsWith(`${layout.prefix}.`)).toBe(false);
  });

  it('maps long and unusual group names to valid, distinct durable names with a readable start', () => {
    const long = spec('x.y', { componentId: 'c'.repeat(128), sessionId: 's'.repeat(128) }).group;
    expect(long.length).toBeGreaterThan(250);
    const names = new Set<string>();
    for (const group of [long, `${long}x`, 'a~b', 'a_b', 'a@b', 'g'.repeat(64), 'g'.repeat(65), 'g'.repeat(66)]) {
      const name = consumerName(layout, group);
      expect(name.startsWith('tenant_a-1~')).toBe(true);
      expect(name.length).toBeLessThanOrEqual(128);
      expect(name).not.toMatch(/[.*>\s/\\]/);
      names.add(name);
    }
    expect(names.size).toBe(8);
    expect(consumerName(layout, long)).toMatch(/^tenant_a-1~c{40}~[a-z2-7]{26}$/);
  });

  it('rejects session ids, targets and event types that would break subjects', () => {
    for (const [session, target, type] of [
      ['a.b', null, 'x'],
      ['a b', null, 'x'],
      ['s', 'a*', 'x'],
      ['s', 't', 'a.>'],
      ['s', 't', 'a..b'],
      ['s', null, 'a b'],
    ] as const) {
      expect(() => messageSubject(layout, session, target, type)).toThrow(InvalidMessageError);
    }
  });

  it('parses its own subjects and filters groups by partition, session and type', () => {
    expect(parseMessageSubject(layout, 'tenant_a-1.m.7.s.~.a.b.c')).toEqual({ partition: 7, sessionId: 's', to: '~', eventType: 'a.b.c' });
    expect(parseMessageSubject(layout, 'other.m.1.s.~.a')).toBeUndefined();
    expect(parseMessageSubject(layout, 'tenant_a-1.m.s.~.a')).toBeUndefined();
    const bound = spec('a.b', { componentId: 'c', sessionId: 's9' });
    const p9 = partitionOf('s9', DEFAULT_PARTITIONS);
    expect(groupPartitions(layout, bound)).toEqual([p9]);
    expect(groupFilter(layout, bound, p9)).toBe(`tenant_a-1.m.${p9}.s9.*.a.b`);
    expect(subjectMatches(groupFilter(layout, bound, p9), messageSubject(layout, 's9', null, 'a.b'))).toBe(true);
    expect(subjectMatches(groupFilter(layout, bound, p9), messageSubject(layout, 's9', null, 'a.b.c'))).toBe(false);
    expect(subjectMatches(groupFilter(layout, spec('*', {}), null), messageSubject(layout, 'x', 'y', 'a.b.c'))).toBe(true);
    const x = partitionOf('x', DEFAULT_PARTITIONS);
    expect(subjectMatches(groupFilter(layout, spec('*', { group: 'g' }), x), messageSubject(layout, 'x', null, 'a'))).toBe(true);
    expect(subjectMatches(groupFilter(layout, spec('*', { group: 'g' }), (x + 1) % DEFAULT_PARTITIONS), messageSubject(layout, 'x', null, 'a'))).toBe(false);
  });

  it('partitions sessions by 32-bit FNV-1a mod P (the value PROTOCOL.md gives), spreading them', () => {
    // FNV-1a of "a" is 0xe40c292c; of "" the offset basis 0x811c9dc5.
    expect(partitionOf('a', 2 ** 31)).toBe(0xe40c292c % 2 ** 31);
    expect(partitionOf('session-42', 1)).toBe(0);
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 1_600; i++) counts[partitionOf(`s${i}`, 16)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(groupPartitions(layout, { sessionId: null })).toHaveLength(DEFAULT_PARTITIONS);
    expect(partitionConsumerName(consumerName(layout, 'workers'), 3)).toBe('tenant_a-1~workers~3');
  });

  it('routes on the <to> token as the contract says', () => {
    const component = spec('*', { componentId: 'agent' });
    const targeted = spec('*', { componentId: 'agent', targetedOnly: true });
    const plain = spec('*', { group: 'hooks' });
    const observer = spec('*', { observe: true });
    const name = consumerName(layout, component.group);
    const redriveTo = parseMessageSubject(layout, redriveSubject(layout, 's', name, 'a'))!.to;
    const table: Array<[string, boolean[]]> = [
      ['~', [true, false, true, true]],
      ['agent', [true, true, false, true]],
      ['other', [false, false, false, true]],
      [redriveTo, [true, false, false, false]],
    ];
    for (const [to, expected] of table) {
      const got = [component, targeted, plain, observer].map((s) => acceptsTarget(s, consumerName(layout, s.group), to));
      expect(got, to).toEqual(expected);
    }
  });
});
