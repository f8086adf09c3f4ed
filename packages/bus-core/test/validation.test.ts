/**
 * Every bad-input rule of validation.ts: each broken field gives an `InvalidMessageError` whose
 * `field` names it, whose `rule` says what is required, and whose message says both.
 */
import { describe, expect, it } from 'vitest';
import {
  assertJsonObject,
  BusError,
  createEnvelope,
  EVENT_TYPE_RULE,
  InvalidMessageError,
  isBusError,
  MAX_RETRIES_LIMIT,
  NAME_RULE,
  preparePublish,
  validateEnvelope,
  validateEventPattern,
  validateEventType,
  validateName,
  type MessageEnvelope,
} from '../src/index.js';
import { invalidMessage } from './support/thrown-error.js';

const LIMITS = { maxPayloadBytes: 1024 * 1024 };

function envelope(overrides: Record<string, unknown> = {}): MessageEnvelope {
  return {
    ...createEnvelope({ sessionId: 'session-1', eventType: 'agent.input', componentSource: 'input', componentTarget: 'agent' }),
    ...overrides,
  } as MessageEnvelope;
}

/** Asserts `overrides` make the envelope invalid on `field`; returns the error. */
function rejects(overrides: Record<string, unknown>, field: string, limits = LIMITS): InvalidMessageError {
  const error = invalidMessage(() => validateEnvelope(envelope(overrides), limits));
  expect(error.field).toBe(field);
  expect(error.message).toContain(field);
  return error;
}

describe('the error', () => {
  it('is an InvalidMessageError and a BusError with code INVALID_MESSAGE, naming field and rule', () => {
    const error = rejects({ eventType: 'a b' }, 'eventType');
    expect(error).toBeInstanceOf(BusError);
    expect(error).toBeInstanceOf(Error);
    expect(isBusError(error)).toBe(true);
    expect(error.name).toBe('InvalidMessageError');
    expect(error.code).toBe('INVALID_MESSAGE');
    expect(error.rule).toContain(EVENT_TYPE_RULE);
    expect(error.rule).toContain('"a b"');
    expect(error.message).toBe(`invalid message: eventType ${error.rule}`);
  });

  it('a valid envelope passes and its payload + metadata size is returned', () => {
    expect(validateEnvelope(envelope({ payload: { s: '€' } }), LIMITS)).toBe(13);
  });
});

describe('eventType', () => {
  it.each([
    ['a space', 'agent input'],
    ['a leading space', ' agent'],
    ['a tab', 'agent\tinput'],
    ['a * wildcard', 'agent.*'],
    ['a bare *', '*'],
    ['a > wildcard', 'agent.>'],
    ['{', 'agent.{x'],
    ['}', 'agent.x}'],
    ['a brace pair', '{agent}'],
    [':', 'agent:input'],
    ['an empty string', ''],
    ['an empty first token', '.agent'],
    ['an empty last token', 'agent.'],
    ['an empty middle token', 'agent..input'],
    ['a slash', 'agent/input'],
    ['a non-ASCII letter', 'agënt'],
    ['256 characters', `${'a'.repeat(127)}.${'b'.repeat(128)}`],
    ['a number', 42],
    ['null', null],
  ])('rejects %s', (_what, value) => {
    rejects({ eventType: value }, 'eventType');
  });

  it.each(['agent', 'agent.input', 'stream.chunk', 'A-b_c.d1.E-2', `${'a'.repeat(127)}.${'b'.repeat(127)}`])('accepts %s', (value) => {
    expect(validateEventType(value)).toBe(value);
    expect(() => validateEnvelope(envelope({ eventType: value }), LIMITS)).not.toThrow();
  });

  it('a subscription pattern is an exact event type or *; it names eventPattern', () => {
    expect(validateEventPattern('*')).toBe('*');
    expect(validateEventPattern('a.b')).toBe('a.b');
    for (const bad of ['a.*', '>', 'a.>', '', '**', 'a b']) {
      expect(invalidMessage(() => validateEventPattern(bad)).field).toBe('eventPattern');
    }
  });
});

describe('names: sessionId, componentSource, componentTarget', () => {
  const bad: Array<[string, unknown]> = [
    ['empty', ''],
    ['a dot', 'a.b'],
    ['a space', 'a b'],
    ['*', 'a*'],
    ['>', 'a>'],
    ['{', 'a{'],
    ['}', 'a}'],
    [':', 'a:b'],
    ['129 characters', 'x'.repeat(129)],
    ['a number', 7],
    ['undefined', undefined],
  ];

  for (const field of ['sessionId', 'componentSource', 'componentTarget'] as const) {
    // An undefined componentTarget means "no target" (see below).
    const badHere = field === 'componentTarget' ? bad.filter(([, value]) => value !== undefined) : bad;
    it.each(badHere)(`${field}: rejects %s`, (_what, value) => {
      const error = rejects({ [field]: value }, field);
      expect(error.rule).toContain(NAME_RULE);
    });

    it(`${field}: accepts 1 and 128 characters of letters, digits, _ and -`, () => {
      for (const value of ['a', 'x'.repeat(128), 'Agent_1-b']) {
        expect(() => validateEnvelope(envelope({ [field]: value }), LIMITS)).not.toThrow();
      }
    });
  }

  it('componentTarget may be null (and undefined is read as null)', () => {
    expect(() => validateEnvelope(envelope({ componentTarget: null }), LIMITS)).not.toThrow();
    expect(() => validateEnvelope(envelope({ componentTarget: undefined }), LIMITS)).not.toThrow();
  });

  it('validateName names the field it is given', () => {
    expect(validateName('ok', 'group')).toBe('ok');
    expect(invalidMessage(() => validateName('a.b', 'group')).field).toBe('group');
  });
});

describe('messageId', () => {
  it.each([
    ['empty', ''],
    ['a space', 'msg 1'],
    ['a newline', 'msg\n1'],
    ['a control character', 'msg\u0001'],
    ['DEL', 'msg\u007f'],
    ['256 characters', 'm'.repeat(256)],
    ['a number', 1],
  ])('rejects %s', (_what, value) => {
    rejects({ messageId: value }, 'messageId');
  });

  it('accepts the adapter form and other printable ids up to 255 characters', () => {
    for (const value of ['msg-3f1c9a2e-8d7b-4c6e-9f00-123456789abc', 'caller:id/with.dots', 'm'.repeat(255)]) {
      expect(() => validateEnvelope(envelope({ messageId: value }), LIMITS)).not.toThrow();
    }
  });
});

describe('enums and counts', () => {
  it.each([
    ['deliveryMode', 'exactly_twice'],
    ['deliveryMode', 'AT_LEAST_ONCE'],
    ['deliveryMode', null],
    ['pattern', 'broadcast'],
    ['pattern', 'PUB_SUB'],
    ['pattern', 1],
  ])('%s rejects %s and lists the allowed values', (field, value) => {
    const error = rejects({ [field]: value }, field);
    if (field === 'deliveryMode') expect(error.rule).toContain('at_most_once, at_least_once, exactly_once');
    else expect(error.rule).toContain('pub_sub, point_to_point, stream');
  });

  it.each([
    ['timestamp', -1],
    ['timestamp', Number.NaN],
    ['timestamp', Number.POSITIVE_INFINITY],
    ['timestamp', '1700000000'],
    ['retryCount', -1],
    ['retryCount', 1.5],
    ['retryCount', '1'],
    ['maxRetries', -1],
    ['maxRetries', MAX_RETRIES_LIMIT + 1],
    ['maxRetries', 2.5],
  ])('%s rejects %s', (field, value) => {
    rejects({ [field]: value }, field);
  });

  it('accepts timestamp 0, retryCount 0 and maxRetries 0 and the limit', () => {
    expect(() => validateEnvelope(envelope({ timestamp: 0, retryCount: 0, maxRetries: 0 }), LIMITS)).not.toThrow();
    expect(() => validateEnvelope(envelope({ maxRetries: MAX_RETRIES_LIMIT }), LIMITS)).not.toThrow();
  });
});

describe('payload and metadata are plain JSON', () => {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }

  const cases: Array<[string, unknown, string]> = [
    ['NaN', { n: Number.NaN }, 'payload.n'],
    ['Infinity', { n: Number.POSITIVE_INFINITY }, 'payload.n'],
    ['-Infinity', { deep: { n: Number.NEGATIVE_INFINITY } }, 'payload.deep.n'],
    ['an undefined value', { u: undefined }, 'payload.u'],
    ['a Date', { when: new Date(0) }, 'payload.when'],
    ['a Map', { m: new Map([['a', 1]]) }, 'payload.m'],
    ['a Set', { s: new Set([1]) }, 'payload.s'],
    ['a class instance', { p: new Point(1, 2) }, 'payload.p'],
    ['a function', { f: () => 1 }, 'payload.f'],
    ['a BigInt', { big: 10n }, 'payload.big'],
    ['a symbol', { sym: Symbol('s') }, 'payload.sym'],
    ['a bad value inside an array', { list: [1, Number.NaN] }, 'payload.list[1]'],
    ['a hole in an array', { list: [1, , 3] }, 'payload.list[1]'],
    ['a Uint8Array', { bytes: new Uint8Array(2) }, 'payload.bytes'],
  ];

  it.each(cases)('payload: rejects %s, naming the path', (_what, payload, path) => {
    const error = rejects({ payload }, path);
    expect(error.rule).toMatch(/JSON-serialisable/);
  });

  it.each(cases)('metadata: rejects %s, naming the path', (_what, metadata, path) => {
    rejects({ metadata }, path.replace(/^payload/, 'metadata'));
  });

  it('rejects a cycle, naming where it closes', () => {
    const payload: Record<string, unknown> = { a: { b: {} } };
    ((payload['a'] as Record<string, unknown>)['b'] as Record<string, unknown>)['back'] = payload;
    const error = rejects({ payload }, 'payload.a.b.back');
    expect(error.rule).toMatch(/cycle/);
    const list: unknown[] = [];
    list.push(list);
    rejects({ payload: { list } }, 'payload.list[0]');
  });

  it('rejects a cycle deep in the payload (past the depth where the walk starts keeping a set), naming where it closes', () => {
    const payload: Record<string, unknown> = {};
    let at = payload;
    const path = ['payload'];
    for (let level = 0; level < 12; level++) {
      const next: Record<string, unknown> = {};
      at[`l${level}`] = next;
      path.push(`l${level}`);
      at = next;
    }
    at['back'] = payload['l0'];
    const error = rejects({ payload }, [...path, 'back'].join('.'));
    expect(error.rule).toMatch(/cycle/);
    // The same object at many depths, never inside itself, is no cycle.
    const shared = { x: 1 };
    let deep: Record<string, unknown> = { s: shared };
    for (let level = 0; level < 12; level++) deep = { s: shared, next: deep };
    expect(() => validateEnvelope(envelope({ payload: deep }), LIMITS)).not.toThrow();
  });

  it('the same object twice (not a cycle) is fine', () => {
    const shared = { x: 1 };
    expect(() => validateEnvelope(envelope({ payload: { a: shared, b: shared, c: [shared, shared] } }), LIMITS)).not.toThrow();
  });

  it.each([
    ['null', null],
    ['an array', [1, 2]],
    ['a string', '{}'],
    ['a Date', new Date(0)],
    ['a class instance', new Point(0, 0)],
  ])('the top level must be a plain object: rejects %s', (_what, payload) => {
    rejects({ payload }, 'payload');
    rejects({ metadata: payload }, 'metadata');
  });

  it('accepts plain JSON, including null-prototype objects, nulls, empty containers and unicode', () => {
    const bare = Object.create(null) as Record<string, unknown>;
    bare['k'] = 'v';
    const payload = { s: 'héllo 🚀', n: -1.5e-10, b: false, z: null, a: [[], {}, [1, [2]]], bare };
    expect(() => validateEnvelope(envelope({ payload, metadata: { trace: 't' } }), LIMITS)).not.toThrow();
    expect(() => assertJsonObject(payload, 'payload')).not.toThrow();
  });

  it('counts payload + metadata in UTF-8 bytes against maxPayloadBytes', () => {
    // {"s":"€"} is 11 bytes (the euro sign is 3), {} is 2.
    const payload = { s: '€' };
    expect(validateEnvelope(envelope({ payload }), { maxPayloadBytes: 13 })).toBe(13);
    const error = rejects({ payload }, 'payload', { maxPayloadBytes: 12 });
    expect(error.rule).toContain('at most 12 bytes');
    expect(error.rule).toContain('got 13 bytes');
    // Metadata counts too.
    rejects({ payload: {}, metadata: { k: 'x'.repeat(20) } }, 'payload', { maxPayloadBytes: 20 });
  });

  it('a 1 MiB default limit rejects a payload just over it and accepts one just under', () => {
    const overhead = JSON.stringify({ s: '' }).length + 2;
    expect(() => validateEnvelope(envelope({ payload: { s: 'x'.repeat(LIMITS.maxPayloadBytes - overhead) } }), LIMITS)).not.toThrow();
    rejects({ payload: { s: 'x'.repeat(LIMITS.maxPayloadBytes - overhead + 1) } }, 'payload');
  });
});

describe('the envelope itself', () => {
  it.each([
    ['null', null],
    ['a string', 'envelope'],
  ])('rejects %s, naming the envelope', (_what, value) => {
    expect(invalidMessage(() => validateEnvelope(value as unknown as MessageEnvelope, LIMITS)).field).toBe('envelope');
  });
});

describe('fields given to publish', () => {
  const options = { maxRetries: 3, maxPayloadBytes: 1024 };
  const init = { sessionId: 's', eventType: 'a.b', componentSource: 'c' };

  it('rejects a field that is not an envelope field, naming it and listing the fields', () => {
    const error = invalidMessage(() => preparePublish({ ...init, componentTraget: 'agent' } as never, options));
    expect(error.field).toBe('componentTraget');
    expect(error.rule).toContain('componentTarget');
  });

  it('points a wire (snake_case) name to its camelCase field', () => {
    expect(invalidMessage(() => preparePublish({ ...init, max_retries: 1 } as never, options)).rule).toContain('did you mean maxRetries?');
  });

  it('accepts a full envelope and inherited properties it does not own', () => {
    const full = createEnvelope({ ...init, componentTarget: 'x', payload: { a: 1 } });
    expect(preparePublish(full, options).envelope).toEqual(full);
    const withProto = Object.assign(Object.create({ inherited: true }) as object, init);
    expect(preparePublish(withProto as never, options).envelope.sessionId).toBe('s');
  });
});
