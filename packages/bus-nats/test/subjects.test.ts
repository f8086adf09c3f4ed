/**
 * The layout module: names start with the prefix as a whole token, long group names map to valid
 * distinct durable names, subjects reject what would break routing, and the client-side routing
 * rule matches the contract.
 */
import { describe, expect, it } from 'vitest';
import { InvalidMessageError, resolveSubscription } from '@woodwork/bus-core';
import { acceptsTarget, consumerName, groupFilter, layoutFor, messageSubject, parseMessageSubject, redriveSubject } from '../src/subjects.js';
import { subjectMatches } from '../src/lost-deliveries.js';

const layout = layoutFor('tenant_a-1');
const spec = (pattern: string, options: Record<string, unknown>) => resolveSubscription(pattern, () => undefined, options, { concurrency: 1, handlerTimeoutMs: 0 });

describe('layout', () => {
  it('starts every stream, consumer and subject with the prefix as a whole token', () => {
    expect([layout.eventsStream, layout.dlqStream, layout.stateStream]).toEqual(['tenant_a-1~EVENTS', 'tenant_a-1~DLQ', 'tenant_a-1~STATE']);
    expect(messageSubject(layout, 's1', null, 'a.b')).toBe('tenant_a-1.m.s1.~.a.b');
    expect(messageSubject(layout, 's1', 'agent', 'a')).toBe('tenant_a-1.m.s1.agent.a');
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

  it('parses its own subjects and filters groups by session and type', () => {
    expect(parseMessageSubject(layout, 'tenant_a-1.m.s.~.a.b.c')).toEqual({ sessionId: 's', to: '~', eventType: 'a.b.c' });
    expect(parseMessageSubject(layout, 'other.m.s.~.a')).toBeUndefined();
    const bound = spec('a.b', { componentId: 'c', sessionId: 's9' });
    expect(groupFilter(layout, bound)).toBe('tenant_a-1.m.s9.*.a.b');
    expect(subjectMatches(groupFilter(layout, bound), messageSubject(layout, 's9', null, 'a.b'))).toBe(true);
    expect(subjectMatches(groupFilter(layout, bound), messageSubject(layout, 's9', null, 'a.b.c'))).toBe(false);
    expect(subjectMatches(groupFilter(layout, spec('*', {})), messageSubject(layout, 'x', 'y', 'a.b.c'))).toBe(true);
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
