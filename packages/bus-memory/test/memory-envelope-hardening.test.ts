/**
 * The memory bus delivers what was validated: a getter or a non-enumerable `toJSON` cannot swap
 * the payload after the checks, deep nesting is an `InvalidMessageError` (not a `RangeError`), and
 * redrive skips a dead letter that holds a raw entry instead of an envelope.
 */
import { describe, expect, it } from 'vitest';
import { InvalidMessageError, MAX_JSON_DEPTH, undecodableDeadLetter, type JsonObject, type MessageEnvelope } from '@woodwork/bus-core';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach({ closeTimeoutMs: 20 });
const init = { sessionId: 's-1', eventType: 'hard.work', componentSource: 'test', pattern: 'pub_sub' as const };

function nested(levels: number): JsonObject {
  let value: JsonObject = { a: 1 };
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

describe('memory: what is validated is what is delivered', () => {
  it('a handler receives the payload that was checked, not what a getter or toJSON answers later', async () => {
    const bus = makeBus();
    const received: MessageEnvelope[] = [];
    await bus.subscribe('hard.work', (e) => void received.push(e), { group: 'g' });
    let reads = 0;
    const payload = Object.defineProperty({ get v(): unknown { return ++reads === 1 ? 'checked' : 'hijacked'; } }, 'toJSON', {
      enumerable: false,
      value: () => ({ hijacked: true }),
    });
    await bus.publish({ ...init, payload: payload as never });
    await expect.poll(() => received.length).toBe(1);
    expect(received[0]!.payload).toEqual({ v: 'checked' });
  });

  it('nesting past the limit is an InvalidMessageError naming the path, even 100,000 levels deep', async () => {
    const bus = makeBus();
    await expect(bus.publish({ ...init, payload: nested(MAX_JSON_DEPTH) })).resolves.toMatchObject({ duplicate: false });
    for (const levels of [MAX_JSON_DEPTH + 1, 100_000]) {
      const error = await bus.publish({ ...init, payload: nested(levels) }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidMessageError);
      expect((error as InvalidMessageError).field).toMatch(/^payload\.a\.a/);
    }
  });

  it('redrive skips a dead letter holding a raw entry, says why, and keeps it', async () => {
    const bus = makeBus();
    await bus.subscribe('hard.work', () => undefined, { group: 'g' });
    // Memory never decodes from a wire; a wire backend stores these. Put one in its store directly.
    const store = (bus as unknown as { deadLetters: { add(r: unknown): { id: string } } }).deadLetters;
    const stored = store.add(undecodableDeadLetter({ raw: '{"message_id": ', reason: new Error('bad json'), source: { stream: 's', id: '1' }, group: 'g' }));
    const result = await bus.redriveDeadLetters();
    expect(result.redriven).toEqual([]);
    expect(result.skipped).toEqual([{ id: stored.id, reason: expect.stringMatching(/raw entry that could not be decoded/) }]);
    expect((await bus.getDeadLetterMessages()).map((r) => r.raw)).toEqual(['{"message_id": ']);
  });
});
