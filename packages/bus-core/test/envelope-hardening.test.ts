/**
 * Envelopes are validated once, in one iterative pass, and what is validated is what is sent:
 * a depth limit instead of a stack overflow (publish and decode), getters and `toJSON` that cannot
 * swap the payload after the checks, decode applying publish's rules, ids without control / bidi
 * characters or lone surrogates, timestamps up to the year 9999, and dead letters for entries that
 * cannot be decoded (the raw form, a placeholder envelope, redrive skipping them).
 */
import { describe, expect, it } from 'vitest';
import {
  InvalidMessageError,
  MAX_JSON_DEPTH,
  MAX_RAW_ENTRY_CHARS,
  MAX_TIMESTAMP_SECONDS,
  UNDECODABLE_EVENT_TYPE,
  createEnvelope,
  deadLetterFromWire,
  deadLetterToWire,
  decodeEnvelope,
  encodeEnvelope,
  encodeJsonCopy,
  encodeJsonObject,
  encodeWireText,
  fromWire,
  isUndecodableDeadLetter,
  preparePublish,
  redriveSkipReason,
  toWire,
  undecodableDeadLetter,
  validateEnvelope,
  type DeadLetterRecord,
} from '../src/index.js';
import { invalidMessage } from './support/thrown-error.js';

const OPTIONS = { maxRetries: 3, maxPayloadBytes: 64 * 1024 * 1024 };
const init = { sessionId: 's-1', eventType: 'agent.input', componentSource: 'input' };

/** `{ a: { a: ... { a: 1 } } }` with `levels` objects, built without recursion. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { a: 1 };
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

function nestedText(levels: number): string {
  return `${'{"a":'.repeat(levels - 1)}{"a":1}${'}'.repeat(levels - 1)}`;
}

function wire(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...toWire(createEnvelope({ ...init, messageId: 'msg-1', timestamp: 1_700_000_000 })), ...overrides };
}

describe('nesting depth', () => {
  it(`accepts ${MAX_JSON_DEPTH} levels and rejects one more on publish, naming the path`, () => {
    expect(() => preparePublish({ ...init, payload: nested(MAX_JSON_DEPTH) as never }, OPTIONS)).not.toThrow();
    const error = invalidMessage(() => preparePublish({ ...init, payload: nested(MAX_JSON_DEPTH + 1) as never }, OPTIONS));
    expect(error.field).toMatch(/^payload\.a\.a\.a/);
    expect(error.field).toContain('more levels');
    expect(error.rule).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('100,000 levels are an InvalidMessageError on publish, never a RangeError', () => {
    const error = invalidMessage(() => preparePublish({ ...init, metadata: nested(100_000) as never }, OPTIONS));
    expect(error.field).toMatch(/^metadata\.a/);
  });

  it('100,000 levels in wire text are an InvalidMessageError on decode, naming the wire key', () => {
    const text = `{"message_id":"m","session_id":"s","event_type":"e","component_source":"c","payload":${nestedText(100_000)}}`;
    const error = invalidMessage(() => decodeEnvelope(text));
    expect(error.field).toMatch(/^payload\.a\.a/);
    expect(error.rule).toContain(`${MAX_JSON_DEPTH} levels`);
  });

  it('decode takes exactly MAX_JSON_DEPTH levels and refuses one more, as publish does', () => {
    const at = (levels: number) => `{"message_id":"m","session_id":"s","event_type":"e","component_source":"c","payload":${nestedText(levels)}}`;
    expect(() => decodeEnvelope(at(MAX_JSON_DEPTH))).not.toThrow();
    expect(() => preparePublish({ ...init, payload: nested(MAX_JSON_DEPTH) as never }, OPTIONS)).not.toThrow();
    expect(invalidMessage(() => decodeEnvelope(at(MAX_JSON_DEPTH + 1))).field).toMatch(/^payload\.a/);
    const arrays = `{"message_id":"m","session_id":"s","event_type":"e","component_source":"c","metadata":{"l":${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}}}`;
    expect(invalidMessage(() => decodeEnvelope(arrays)).field).toMatch(/^metadata\.l\[0\]/);
  });

  it(`decode accepts ${MAX_JSON_DEPTH} levels of wire text and rejects one more; Infinity inside arrays is named by its path`, () => {
    const at = (levels: number): string => `{"message_id":"m","session_id":"s","event_type":"e","component_source":"c","payload":${nestedText(levels)}}`;
    expect(decodeEnvelope(at(MAX_JSON_DEPTH)).payload).toHaveProperty('a');
    expect(invalidMessage(() => decodeEnvelope(at(MAX_JSON_DEPTH + 1))).field).toMatch(/^payload\.a\.a/);
    const inArray = `{"message_id":"m","session_id":"s","event_type":"e","component_source":"c","metadata":{"l":[[1e999]]}}`;
    expect(invalidMessage(() => decodeEnvelope(inArray)).field).toBe('metadata.l[0][0]');
  });

  it('decode measures the size of the body as encoded again (an exponent grows: 1e20 is 21 characters)', () => {
    const text = `{"message_id":"m","session_id":"s","event_type":"e","component_source":"c","payload":{"n":1e20}}`;
    const size = JSON.stringify({ n: 1e20 }).length + 2; // plus metadata {}
    expect(() => decodeEnvelope(text, { maxPayloadBytes: size })).not.toThrow();
    expect(invalidMessage(() => decodeEnvelope(text, { maxPayloadBytes: size - 1 })).field).toBe('payload');
  });

  it('arrays count as levels too, and the path shows their indexes', () => {
    let value: unknown = [1];
    for (let i = 1; i < MAX_JSON_DEPTH; i++) value = [value];
    expect(() => encodeJsonObject({ list: value }, 'payload')).toThrow(InvalidMessageError);
    const error = invalidMessage(() => encodeJsonObject({ list: value }, 'payload'));
    expect(error.field).toMatch(/^payload\.list\[0\]\[0\]/);
  });
});

describe('what is validated is what is sent', () => {
  it('a getter is read once: the value checked is the value encoded', () => {
    let reads = 0;
    const payload = {
      get v(): unknown {
        reads++;
        return reads === 1 ? 'checked' : { hijacked: true };
      },
    };
    const prepared = preparePublish({ ...init, payload: payload as never }, OPTIONS);
    expect(prepared.payloadJson).toBe('{"v":"checked"}');
    expect(reads).toBe(1);
  });

  it('a getter that turns bad on its first read is rejected, never encoded', () => {
    const payload = Object.defineProperty({}, 'v', { enumerable: true, get: () => () => 'a function' });
    expect(invalidMessage(() => preparePublish({ ...init, payload: payload as never }, OPTIONS)).field).toBe('payload.v');
  });

  it('a non-enumerable toJSON cannot replace the payload (it is never called)', () => {
    const payload = Object.defineProperty({ real: 1 }, 'toJSON', { enumerable: false, value: () => ({ hijacked: true }) });
    const inner = Object.defineProperty({ x: 2 }, 'toJSON', { enumerable: false, value: () => 'hijacked' });
    const prepared = preparePublish({ ...init, payload: { ...payload, inner } as never, metadata: payload as never }, OPTIONS);
    expect(prepared.payloadJson).toBe('{"real":1,"inner":{"x":2}}');
    expect(prepared.metadataJson).toBe('{"real":1}');
  });

  it('a Proxy is read once per key as well', () => {
    let reads = 0;
    const payload = new Proxy({ v: 1 }, { get: (target, key) => (key === 'v' ? ++reads : Reflect.get(target, key)) });
    expect(preparePublish({ ...init, payload: payload as never }, OPTIONS).payloadJson).toBe('{"v":1}');
    expect(reads).toBe(1);
  });

  it('the text equals JSON.stringify of the same plain data', () => {
    const payload = { s: 'é "q" \\ \u0001 \ud83d\ude80', n: [0, -0, 1e21, -5e-324, 1.5], b: [true, false, null], '2': 'two', '1': 'one', o: {} };
    expect(encodeJsonObject(payload, 'payload')).toBe(JSON.stringify(payload));
    const bare = Object.assign(Object.create(null) as object, { k: 'v', __proto__x: 1 });
    expect(encodeJsonObject(bare, 'payload')).toBe('{"k":"v","__proto__x":1}');
  });

  it('the copy the text was made from equals decoding the text, and shares no object with the input', () => {
    const inner = { deep: [1, { x: 'y' }] };
    const payload: Record<string, unknown> = { s: 'é \ud83d\ude80', n: [0, -0, 1e21, 1.5], b: [true, null], '2': 'two', '1': 'one', inner };
    Object.defineProperty(payload, '__proto__', { value: { own: true }, enumerable: true, configurable: true, writable: true });
    const { json, copy } = encodeJsonCopy(payload, 'payload');
    expect(json).toBe(encodeJsonObject(payload, 'payload'));
    expect(copy).toStrictEqual(JSON.parse(json));
    expect(Object.keys(copy)).toEqual(Object.keys(JSON.parse(json) as object));
    expect(Object.is((copy['n'] as number[])[1], 0)).toBe(true);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy).not.toBe(payload);
    expect(copy['inner']).not.toBe(inner);
    expect((copy['inner'] as typeof inner).deep).not.toBe(inner.deep);
    expect((copy['inner'] as typeof inner).deep[1]).not.toBe(inner.deep[1]);
    const prepared = preparePublish({ ...init, payload: { a: 1 }, metadata: { m: 2 } }, OPTIONS);
    expect([prepared.payloadCopy, prepared.metadataCopy]).toEqual([{ a: 1 }, { m: 2 }]);
  });

  it('encodeWireText sends exactly the checked body, and equals encodeEnvelope', () => {
    const envelope = createEnvelope({ ...init, componentTarget: 't', payload: { a: [1, 'b'] }, metadata: { m: null } });
    const prepared = preparePublish(envelope, OPTIONS);
    const text = encodeWireText(prepared.envelope, prepared);
    expect(text).toBe(encodeEnvelope(envelope));
    expect(decodeEnvelope(text)).toEqual(envelope);
  });
});

describe('decodeEnvelope applies the publish rules', () => {
  it.each([
    ['message_id', { message_id: 'msg\u001b[2J' }],
    ['message_id', { message_id: '' }],
    ['session_id', { session_id: 'a b' }],
    ['session_id', { session_id: '' }],
    ['event_type', { event_type: 'agent.*' }],
    ['component_source', { component_source: 'x:y' }],
    ['component_target', { component_target: 'a.b' }],
    ['timestamp', { timestamp: 1e300 }],
    ['timestamp', { timestamp: -1 }],
    ['retry_count', { retry_count: -1 }],
    ['max_retries', { max_retries: 1000 }],
    ['payload.f', { payload: { f: 1 }, __replace: true }],
  ])('rejects a bad %s', (field, overrides) => {
    const { __replace, ...rest } = overrides as Record<string, unknown>;
    const text = __replace ? JSON.stringify(wire(rest)).replace('"f":1', '"f":1e999') : JSON.stringify(wire(rest));
    const error = invalidMessage(() => decodeEnvelope(text));
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it('checks the payload size when given the limit', () => {
    const text = JSON.stringify(wire({ payload: { s: 'x'.repeat(100) } }));
    expect(() => decodeEnvelope(text)).not.toThrow();
    expect(invalidMessage(() => decodeEnvelope(text, { maxPayloadBytes: 50 })).field).toBe('payload');
  });

  it('fromWire is the unchecked step (shape only); decodeEnvelope adds the rules', () => {
    const bad = wire({ message_id: 'msg\u202eevil' });
    expect(fromWire(bad).messageId).toBe('msg\u202eevil');
    expect(invalidMessage(() => decodeEnvelope(JSON.stringify(bad))).field).toBe('message_id');
  });

  it('fromWire reads own keys only', () => {
    const inherited = Object.assign(Object.create({ message_id: 'from-prototype' }) as object, { session_id: 's', event_type: 'e', component_source: 'c' });
    expect(invalidMessage(() => fromWire(inherited)).field).toBe('message_id');
  });
});

describe('ids and timestamps', () => {
  const base = createEnvelope({ ...init, timestamp: 1 });
  const limits = { maxPayloadBytes: 1024 };

  it.each([
    ['ESC (C0)', 'msg\u001b]0;title\u0007'],
    ['CSI (C1)', 'msg\u009b2J'],
    ['NEL (C1)', 'msg\u0085'],
    ['right-to-left override', 'msg\u202etxt.exe'],
    ['left-to-right embedding', 'msg\u202a'],
    ['first strong isolate', 'msg\u2068'],
    ['pop directional isolate', 'msg\u2069'],
    ['a lone high surrogate', 'msg\ud800'],
    ['a lone low surrogate', 'msg\udc00x'],
    ['swapped surrogates', 'msg\ude80\ud83d'],
  ])('a message id with %s is rejected', (_what, messageId) => {
    const error = invalidMessage(() => validateEnvelope({ ...base, messageId }, limits));
    expect(error.field).toBe('messageId');
    expect(error.rule).toMatch(/control characters|bidirectional|surrogates/);
  });

  it('a message id with a surrogate pair or other unicode is accepted', () => {
    for (const messageId of ['msg-\ud83d\ude80', 'msg-héllo', 'msg-\u200d']) {
      expect(() => validateEnvelope({ ...base, messageId }, limits)).not.toThrow();
    }
  });

  it(`timestamps run from 0 to ${MAX_TIMESTAMP_SECONDS} (the year 9999)`, () => {
    expect(MAX_TIMESTAMP_SECONDS).toBe(Date.UTC(9999, 11, 31, 23, 59, 59) / 1000);
    expect(() => validateEnvelope({ ...base, timestamp: 0 }, limits)).not.toThrow();
    expect(() => validateEnvelope({ ...base, timestamp: MAX_TIMESTAMP_SECONDS }, limits)).not.toThrow();
    for (const timestamp of [MAX_TIMESTAMP_SECONDS + 1, 1e300, -0.5]) {
      expect(invalidMessage(() => validateEnvelope({ ...base, timestamp }, limits)).field).toBe('timestamp');
    }
  });
});

describe('dead letters of entries that cannot be decoded', () => {
  const source = { stream: 'woodwork:stream:0', id: '1700000000000-0' };

  function reasonFor(text: string): unknown {
    try {
      decodeEnvelope(text);
    } catch (error) {
      return error;
    }
    throw new Error('expected the text not to decode');
  }

  it('keeps the raw entry, 0 attempts, the reason, and a valid placeholder with what the entry says', () => {
    const text = JSON.stringify(wire({ session_id: 'session-7', message_id: 'msg-7', timestamp: 1e300 }));
    const record = undecodableDeadLetter({ raw: text, reason: reasonFor(text), source, group: 'g', now: 1_700_000_100 });
    expect(record.raw).toBe(text);
    expect(record.attempts).toBe(0);
    expect(record.error).toMatchObject({ name: 'InvalidMessageError', code: 'INVALID_MESSAGE' });
    expect(record.error.message).toContain('timestamp');
    expect(record.envelope).toMatchObject({ messageId: 'msg-7', sessionId: 'session-7', eventType: 'agent.input', timestamp: 1_700_000_100, payload: {} });
    expect(() => validateEnvelope(record.envelope, { maxPayloadBytes: 4 })).not.toThrow();
    expect(record).toMatchObject({ source, group: 'g', firstFailedAt: 1_700_000_100, lastFailedAt: 1_700_000_100 });
  });

  it('text that is not JSON gets the documented placeholder', () => {
    const record = undecodableDeadLetter({ raw: '{"message_id": ', reason: reasonFor('{"message_id": '), source, group: 'g', now: 5 });
    expect(record.envelope).toMatchObject({ sessionId: 'undecodable', eventType: UNDECODABLE_EVENT_TYPE, componentSource: 'undecodable', componentTarget: null, messageId: 'undecodable-5000' });
    expect(isUndecodableDeadLetter(record)).toBe(true);
  });

  it('identity fields that break their own rule are not copied into the placeholder', () => {
    const text = JSON.stringify(wire({ message_id: 'msg\u001b[2J', session_id: 'a b' }));
    const record = undecodableDeadLetter({ raw: text, reason: reasonFor(text), source, group: 'g', now: 5 });
    expect(record.envelope.messageId).toBe('undecodable-5000');
    expect(record.envelope.sessionId).toBe('undecodable');
  });

  it('takes a field map or bytes as the raw entry, and never throws on a hostile reason', () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('no'); }, getPrototypeOf: () => { throw new Error('no'); } });
    const fromMap = undecodableDeadLetter({ raw: { envelope: '{bad' }, reason: hostile, source, group: 'g' });
    expect(fromMap.raw).toBe('{"envelope":"{bad"}');
    expect(typeof fromMap.error.message).toBe('string');
    const fromBytes = undecodableDeadLetter({ raw: Buffer.from('{"a":'), reason: new Error('bad json'), source, group: 'g' });
    expect(fromBytes.raw).toBe('{"a":');
  });

  it(`cuts a raw entry past ${MAX_RAW_ENTRY_CHARS} characters and says so`, () => {
    const record = undecodableDeadLetter({ raw: 'x'.repeat(MAX_RAW_ENTRY_CHARS + 10), reason: new Error('bad'), source, group: 'g' });
    expect(record.raw).toHaveLength(MAX_RAW_ENTRY_CHARS);
    expect(record.error.message).toContain(`first ${MAX_RAW_ENTRY_CHARS} of ${MAX_RAW_ENTRY_CHARS + 10}`);
  });

  it('the wire form carries raw_entry and reads back the same record; ordinary records have none', () => {
    const record: DeadLetterRecord = { id: 'dl-1', ...undecodableDeadLetter({ raw: '[1,2]', reason: new Error('not an object'), source, group: 'g', now: 9 }) };
    const onWire = deadLetterToWire(record);
    expect(onWire.raw_entry).toBe('[1,2]');
    expect(deadLetterFromWire(JSON.parse(JSON.stringify(onWire)))).toEqual(record);
    const { raw: _raw, ...plain } = record;
    expect('raw_entry' in deadLetterToWire(plain)).toBe(false);
    // A writer that stored only the raw entry (no envelope) still reads as a record with a placeholder.
    const { envelope: _e, ...withoutEnvelope } = onWire;
    expect(deadLetterFromWire(withoutEnvelope).envelope.eventType).toBe(UNDECODABLE_EVENT_TYPE);
  });

  it('redrive skips it and says why; an ordinary record may be redriven', () => {
    const raw = { id: 'dl-1', ...undecodableDeadLetter({ raw: '{', reason: new Error('x'), source, group: 'g' }) };
    expect(redriveSkipReason(raw)).toMatch(/raw entry that could not be decoded/);
    const { raw: _r, ...plain } = raw;
    expect(redriveSkipReason(plain)).toBeUndefined();
  });
});
