/**
 * `measureJsonCopy` / `prepareCheckedPublish` (issue 11): the size of the JSON text counted during the
 * checking walk, without making the text, must equal `Buffer.byteLength(JSON.stringify(copy))`
 * exactly (maxPayloadBytes is a limit on it), and the checks and copy must be those of
 * `encodeJsonCopy` / `preparePublish`.
 */
import { describe, expect, it } from 'vitest';
import { encodeJsonCopy, InvalidMessageError, measureJsonCopy, prepareCheckedPublish, preparePublish } from '../src/index.js';

/** A deterministic generator (no flaky fuzz): xorshift32. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
}

// Characters JSON writes differently: quotes, backslashes, control characters, DEL, 2-, 3- and
// 4-byte UTF-8, lone surrogates (escaped as \udxxx), the line separators.
const ALPHABET = ['a', 'Z', ' ', '~', '"', '\\', '\n', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\ud800', '\udfff', '\u2028', '/', '<'];

function text(next: () => number): string {
  const length = Math.floor(next() * 12);
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return out;
}

function value(next: () => number, depth: number): unknown {
  const kind = Math.floor(next() * (depth > 4 ? 5 : 7));
  switch (kind) {
    case 0:
      return text(next);
    case 1:
      return [0, -0, 1, -1.5, 1e21, 1e-7, 5e-324, Number.MAX_SAFE_INTEGER, 123456.789][Math.floor(next() * 9)];
    case 2:
      return next() < 0.5;
    case 3:
      return null;
    case 4:
      return 'x'.repeat(Math.floor(next() * 40));
    case 5: {
      const out: unknown[] = [];
      const n = Math.floor(next() * 4);
      for (let i = 0; i < n; i++) out.push(value(next, depth + 1));
      return out;
    }
    default:
      return object(next, depth + 1);
  }
}

function object(next: () => number, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const n = Math.floor(next() * 5);
  for (let i = 0; i < n; i++) {
    const key = next() < 0.1 ? '__proto__' : next() < 0.2 ? String(Math.floor(next() * 10)) : text(next);
    if (key === '__proto__') Object.defineProperty(out, key, { value: value(next, depth), enumerable: true, writable: true, configurable: true });
    else out[key] = value(next, depth);
  }
  return out;
}

describe('measureJsonCopy', () => {
  it('counts exactly the UTF-8 bytes of the JSON text, and copies as encodeJsonCopy does (2,000 generated objects)', () => {
    const next = random(11);
    for (let i = 0; i < 2_000; i++) {
      const input = object(next, 0);
      const measured = measureJsonCopy(input, 'payload');
      const encoded = encodeJsonCopy(input, 'payload');
      expect(measured.bytes).toBe(Buffer.byteLength(encoded.json));
      expect(JSON.stringify(measured.copy)).toBe(encoded.json);
    }
  });

  it('counts the edge cases: empty containers, -0, escapes, non-ASCII keys', () => {
    const cases: Array<Record<string, unknown>> = [
      {},
      { a: [] },
      { a: {} },
      { z: -0 },
      { 'k"é': 'v\\😀', ['\u0001']: [[[]], {}] },
      { lone: '\ud83d', line: '\u2028' },
      { big: 1e300, small: -1e-300 },
    ];
    for (const input of cases) expect(measureJsonCopy(input, 'payload').bytes).toBe(Buffer.byteLength(JSON.stringify(input)));
  });

  it('rejects what encodeJsonCopy rejects, naming the same path', () => {
    const bad = { list: [1, { deep: Number.NaN }] };
    expect(() => measureJsonCopy(bad, 'payload')).toThrow(InvalidMessageError);
    expect(() => measureJsonCopy(bad, 'payload')).toThrow(/payload\.list\[1\]\.deep/);
  });
});

describe('prepareCheckedPublish', () => {
  it('gives the envelope, size and copies of preparePublish, without the text', () => {
    const options = { maxRetries: 3, maxPayloadBytes: 1024 * 1024 };
    const input = { sessionId: 's', eventType: 'a.b', componentSource: 'c', payload: { text: 'héllo "world"', n: [1, 2.5] }, metadata: { trace: 'x' } };
    const local = prepareCheckedPublish(input, options);
    const wire = preparePublish(input, options);
    expect(local.size).toBe(wire.size);
    expect(local.payloadCopy).toEqual(wire.payloadCopy);
    expect(local.metadataCopy).toEqual(wire.metadataCopy);
    expect({ ...local.envelope, messageId: '', timestamp: 0 }).toEqual({ ...wire.envelope, messageId: '', timestamp: 0 });
    expect(local).not.toHaveProperty('payloadJson');
  });

  it('rejects a body over maxPayloadBytes by its exact size, as preparePublish does', () => {
    const input = { sessionId: 's', eventType: 'a.b', componentSource: 'c', payload: { t: 'é'.repeat(10) } };
    const size = preparePublish(input, { maxRetries: 3, maxPayloadBytes: 1000 }).size;
    expect(() => prepareCheckedPublish(input, { maxRetries: 3, maxPayloadBytes: size })).not.toThrow();
    expect(() => prepareCheckedPublish(input, { maxRetries: 3, maxPayloadBytes: size - 1 })).toThrow(/must be at most/);
  });
});
