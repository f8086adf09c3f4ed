/**
 * The wire form against the design's own Python `MessageEnvelope` (tools/wire-vectors): Python
 * writes, TypeScript reads and writes back the same dict; TypeScript writes, Python's
 * from_dict()/to_dict() gives back the same dict; edge cases and dead-letter records in both forms.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createEnvelope,
  deadLetterFromWire,
  deadLetterToWire,
  decodeEnvelope,
  encodeEnvelope,
  fromWire,
  InvalidMessageError,
  MessageDeliveryMode,
  MessagePattern,
  toWire,
  type DeadLetterRecord,
  type MessageEnvelope,
} from '../src/index.js';
import { loadVectors, nowSeconds, runPython, type PythonResult } from './support/python-wire.js';

type Wire = Record<string, unknown>;

interface PythonVectors {
  generator: string;
  envelopes: Array<{ name: string; wire: Wire }>;
  dead_letters: Array<{ name: string; redis_entry_id: string; record: Wire & { envelope: string; error: string; failed_at: number } }>;
}

interface EdgeCases {
  envelopes: Array<{
    name: string;
    wire: unknown;
    expect?: Wire;
    expect_error?: { field: string };
    python: 'same' | { error: string } | { envelope: Wire };
  }>;
  dead_letters: Array<{ name: string; record: Wire; fallback_id?: string; expect?: Wire; expect_error?: { field: string } }>;
}

const WIRE_KEYS = [
  'message_id',
  'session_id',
  'event_type',
  'component_source',
  'component_target',
  'timestamp',
  'delivery_mode',
  'pattern',
  'payload',
  'metadata',
  'retry_count',
  'max_retries',
];

const pythonVectors = loadVectors<PythonVectors>('python-envelopes.json');
const edge = loadVectors<EdgeCases>('edge-cases.json');

/**
 * Compares a wire dict to an expected one in which `"timestamp": "now"` stands for a clock reading
 * taken between `from` and `to` (seconds, 1 ms slack for clocks of different resolution).
 */
function expectWire(actual: unknown, expected: Wire, from: number, to: number): void {
  const a = actual as Wire;
  if (expected['timestamp'] === 'now') {
    expect(typeof a['timestamp']).toBe('number');
    expect(a['timestamp'] as number).toBeGreaterThanOrEqual(from - 0.001);
    expect(a['timestamp'] as number).toBeLessThanOrEqual(to + 0.001);
    expect({ ...a, timestamp: 'now' }).toEqual(expected);
  } else {
    expect(a).toEqual(expected);
  }
}

function expectInvalid(run: () => unknown, field: string): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidMessageError);
  expect((caught as InvalidMessageError).field).toBe(field);
  expect((caught as InvalidMessageError).code).toBe('INVALID_MESSAGE');
  expect((caught as InvalidMessageError).message).toContain(field);
}

describe('Python → TypeScript', () => {
  it('the checked-in vectors are exactly what make_vectors.py makes now', () => {
    expect(runPython('vectors')).toEqual(pythonVectors);
  });

  it('covers every delivery mode and pattern', () => {
    const seen = new Set(pythonVectors.envelopes.map((v) => `${v.wire['delivery_mode']}/${v.wire['pattern']}`));
    for (const mode of Object.values(MessageDeliveryMode)) {
      for (const pattern of Object.values(MessagePattern)) expect(seen).toContain(`${mode}/${pattern}`);
    }
  });

  it.each(pythonVectors.envelopes.map((v) => [v.name, v.wire] as const))('%s: fromWire → toWire gives the same dict', (_name, wire) => {
    const back = toWire(fromWire(wire));
    expect(back).toEqual(wire);
    expect(Object.keys(back)).toEqual(Object.keys(wire));
  });

  it('decodes the JSON text Python writes (its number forms: 2.0, 1e-07, 1.5e+300)', () => {
    const numbers = pythonVectors.envelopes.find((v) => v.name === 'numbers');
    expect(numbers).toBeDefined();
    const text = `{"message_id": "m", "session_id": "s", "event_type": "e", "component_source": "c", "timestamp": 1700000000.0, "payload": {"whole": 2.0, "small": 1e-07, "large": 1.5e+300}}`;
    const envelope = decodeEnvelope(text);
    expect(envelope.timestamp).toBe(1_700_000_000);
    expect(envelope.payload).toEqual({ whole: 2, small: 1e-7, large: 1.5e300 });
    expect(numbers!.wire['payload']).toMatchObject({ max_safe: Number.MAX_SAFE_INTEGER, third: 1 / 3 });
  });

  it('maps each snake_case key to its own camelCase field', () => {
    const vector = pythonVectors.envelopes.find((v) => v.name === 'retries counted');
    expect(vector).toBeDefined();
    const w = vector!.wire;
    const envelope = fromWire(w);
    expect(envelope).toEqual({
      messageId: w['message_id'],
      sessionId: w['session_id'],
      eventType: w['event_type'],
      componentSource: w['component_source'],
      componentTarget: w['component_target'],
      timestamp: w['timestamp'],
      deliveryMode: w['delivery_mode'],
      pattern: w['pattern'],
      payload: w['payload'],
      metadata: w['metadata'],
      retryCount: w['retry_count'],
      maxRetries: w['max_retries'],
    });
    // Distinct values, so a swap of two keys cannot pass unnoticed.
    expect(new Set([envelope.sessionId, envelope.componentSource, envelope.componentTarget]).size).toBe(3);
    expect(envelope.retryCount).not.toBe(envelope.maxRetries);
  });
});

describe('TypeScript → Python', () => {
  const envelopes: MessageEnvelope[] = [
    createEnvelope({ sessionId: 'ts-session', eventType: 'agent.input', componentSource: 'input' }),
    createEnvelope({
      sessionId: 'ts-session',
      eventType: 'agent.output',
      componentSource: 'agent',
      componentTarget: 'output',
      deliveryMode: MessageDeliveryMode.EXACTLY_ONCE,
      pattern: MessagePattern.STREAM,
      payload: { text: 'héllo 🚀', parts: [1, 2.5, null, true, { deep: ['x'] }], '2': 'two', '1': 'one' },
      metadata: { trace_id: 't-1', hops: 0 },
      retryCount: 2,
      maxRetries: 7,
    }),
    createEnvelope({
      messageId: 'caller-chosen-id',
      sessionId: 'ts_session_2',
      eventType: 'hook.tool_call',
      componentSource: 'agent',
      deliveryMode: MessageDeliveryMode.AT_MOST_ONCE,
      pattern: MessagePattern.PUB_SUB,
      payload: { quote: '"', backslash: '\\', control: '\u0001\n\t', nul: '\u0000', big: 1e300, tiny: -5e-324 },
      timestamp: 1_700_000_000.123,
      maxRetries: 0,
    }),
    createEnvelope({
      sessionId: 's',
      eventType: 'a.b.c',
      componentSource: 'c',
      componentTarget: 'target-only',
      pattern: MessagePattern.POINT_TO_POINT,
      timestamp: 0,
    }),
  ];

  it('from_dict() → to_dict() of what toWire writes is the same dict', () => {
    const wires = envelopes.map((e) => JSON.parse(encodeEnvelope(e)) as Wire);
    const results = runPython('roundtrip', wires) as PythonResult[];
    expect(results).toHaveLength(envelopes.length);
    results.forEach((result, i) => {
      expect(result).toEqual({ envelope: toWire(envelopes[i]!) });
      expect(Object.keys((result as { envelope: Wire }).envelope)).toEqual(WIRE_KEYS);
    });
  });

  it('toWire writes every key of the design, in to_dict() order', () => {
    for (const envelope of envelopes) expect(Object.keys(toWire(envelope))).toEqual(WIRE_KEYS);
  });

  it('decodeEnvelope(encodeEnvelope(x)) equals x', () => {
    for (const envelope of envelopes) expect(decodeEnvelope(encodeEnvelope(envelope))).toEqual(envelope);
  });
});

describe('edge cases (test/vectors/edge-cases.json)', () => {
  let pythonResults: PythonResult[];
  let pythonFrom = 0;
  let pythonTo = 0;

  beforeAll(() => {
    pythonFrom = nowSeconds();
    pythonResults = runPython('roundtrip', edge.envelopes.map((c) => c.wire)) as PythonResult[];
    pythonTo = nowSeconds();
  });

  it.each(edge.envelopes.map((c, i) => [c.name, c, i] as const))('%s', (_name, testCase, index) => {
    const from = nowSeconds();
    if (testCase.expect_error) {
      expectInvalid(() => fromWire(testCase.wire), testCase.expect_error.field);
      expectInvalid(() => decodeEnvelope(JSON.stringify(testCase.wire)), testCase.expect_error.field);
    } else {
      expect(testCase.expect).toBeDefined();
      const back = toWire(fromWire(testCase.wire));
      expectWire(back, testCase.expect!, from, nowSeconds());
    }

    // What the design's own from_dict()/to_dict() does with it.
    const python = pythonResults[index];
    if (testCase.python === 'same') {
      expect(testCase.expect).toBeDefined();
      expect(python).toHaveProperty('envelope');
      expectWire((python as { envelope: Wire }).envelope, testCase.expect!, pythonFrom, pythonTo);
    } else if ('error' in testCase.python) {
      expect(python).toMatchObject({ error: testCase.python.error });
    } else {
      expect(python).toHaveProperty('envelope');
      expectWire((python as { envelope: Wire }).envelope, testCase.python.envelope, pythonFrom, pythonTo);
    }
  });

  it('decodeEnvelope rejects text that is not JSON, naming the envelope', () => {
    expectInvalid(() => decodeEnvelope('{"message_id": '), 'envelope');
    expectInvalid(() => decodeEnvelope('null'), 'envelope');
    expectInvalid(() => decodeEnvelope('"a string"'), 'envelope');
  });
});


describe('dead-letter records', () => {
  it('an envelope string that is not JSON is an InvalidMessageError on envelope (not a bare SyntaxError)', () => {
    expectInvalid(() => deadLetterFromWire({ dead_letter_id: 'dl-1', envelope: '{not json', error: 'x', failed_at: 1 }), 'envelope');
  });

  it('a failed_at that is not a number is rejected (not read as NaN)', () => {
    const envelope = JSON.stringify({ message_id: 'm', session_id: 's', event_type: 'e', component_source: 'c' });
    expectInvalid(() => deadLetterFromWire({ dead_letter_id: 'dl-1', envelope, error: 'x', failed_at: 'yesterday' }), 'failed_at');
  });

  it.each(edge.dead_letters.map((c) => [c.name, c] as const))('%s', (_name, testCase) => {
    if (testCase.expect_error) {
      expectInvalid(() => deadLetterFromWire(testCase.record, testCase.fallback_id), testCase.expect_error.field);
      return;
    }
    const from = nowSeconds();
    const record = deadLetterFromWire(testCase.record, testCase.fallback_id);
    const to = nowSeconds();
    const wire = deadLetterToWire(record);
    const { envelope: expectedEnvelope, ...expectedRest } = testCase.expect as Wire & { envelope: Wire };
    const { envelope, ...rest } = wire;
    expect(rest).toEqual(expectedRest);
    expectWire(envelope, expectedEnvelope, from, to);
  });

  it.each(pythonVectors.dead_letters.map((d) => [d.name, d] as const))(
    'Python %s: read with the stream entry id, the envelope is what from_dict() reads',
    (_name, vector) => {
      const record = deadLetterFromWire(vector.record, vector.redis_entry_id);
      expect(record.id).toBe(vector.redis_entry_id);
      expect(record.envelope).toEqual(fromWire(JSON.parse(vector.record.envelope)));
      expect(record.error.message).toBe(vector.record.error);
      expect(record.lastFailedAt).toBe(vector.record.failed_at);
      expect(record.firstFailedAt).toBe(vector.record.failed_at);
      expect(record.source).toEqual({ stream: vector.record['original_stream'], id: vector.record['original_message_id'] });
    },
  );

  it('Python reads what deadLetterToWire writes (envelope stored as a JSON string, as in a stream field)', () => {
    const records: DeadLetterRecord[] = pythonVectors.envelopes.slice(0, 4).map((v, i) => ({
      id: `dl-${i}`,
      envelope: fromWire(v.wire),
      error: { name: 'HandlerTimeoutError', message: `timed out ${i}`, code: 'HANDLER_TIMEOUT' },
      attempts: i + 1,
      firstFailedAt: 1_700_000_000 + i,
      lastFailedAt: 1_700_000_100.5 + i,
      source: { stream: `woodwork:session:s:${i}`, id: `${i}-0` },
      group: `group-${i}`,
    }));
    const asStreamFields = records.map((r) => ({ ...deadLetterToWire(r), envelope: JSON.stringify(deadLetterToWire(r).envelope) }));
    const results = runPython('dead-letters', asStreamFields) as PythonResult[];
    expect(results).toEqual(records.map((r) => ({ envelope: toWire(r.envelope) })));
    // And TypeScript reads both forms back to the same record.
    records.forEach((r, i) => {
      expect(deadLetterFromWire(deadLetterToWire(r))).toEqual(r);
      expect(deadLetterFromWire(asStreamFields[i])).toEqual(r);
    });
  });

  it('a record without an error code writes error_code null and reads back without one', () => {
    const record: DeadLetterRecord = {
      id: 'dl-x',
      envelope: createEnvelope({ sessionId: 's', eventType: 'e', componentSource: 'c', timestamp: 1 }),
      error: { name: 'TypeError', message: 'x is not a function' },
      attempts: 4,
      firstFailedAt: 10,
      lastFailedAt: 20,
      source: { stream: 'st', id: '1-0' },
      group: 'g',
    };
    const wire = deadLetterToWire(record);
    expect(wire.error_code).toBeNull();
    expect(deadLetterFromWire(JSON.parse(JSON.stringify(wire)))).toEqual(record);
  });
});

describe('defaults', () => {
  it("createEnvelope fills the same defaults as the design's from_dict() (fromWire)", () => {
    const identity = { messageId: 'msg-d', sessionId: 's', eventType: 'e.t', componentSource: 'c' };
    const made = createEnvelope(identity);
    const read = fromWire({ message_id: 'msg-d', session_id: 's', event_type: 'e.t', component_source: 'c' });
    expect({ ...made, timestamp: 0 }).toEqual({ ...read, timestamp: 0 });
    expect(made).toMatchObject({ componentTarget: null, deliveryMode: 'at_least_once', pattern: 'point_to_point', retryCount: 0, maxRetries: 3, payload: {}, metadata: {} });
  });
});
