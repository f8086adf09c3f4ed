/**
 * Bad input: every rule of the contract is rejected with a typed error naming the field, before
 * anything is sent (nothing is delivered).
 */
import { describe, expect, it } from 'vitest';
import { InvalidConfigError, InvalidMessageError, createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import type { BusHarness } from '../harness.js';
import { quietAfterSentinel, randomName, useBuses, waitFor } from '../support.js';

const valid: EnvelopeInit = { sessionId: 'session-1', eventType: 'bad.input', componentSource: 'tester', pattern: 'pub_sub' };

class Point {
  constructor(readonly x: number) {}
}

const cyclic: Record<string, unknown> = { a: 1 };
cyclic['self'] = cyclic;

export const BAD_ENVELOPES: Array<[string, string, Record<string, unknown>]> = [
  ['eventType with a space', 'eventType', { eventType: 'bad input' }],
  ['eventType with *', 'eventType', { eventType: 'bad.*' }],
  ['eventType with >', 'eventType', { eventType: 'bad.>' }],
  ['eventType with {', 'eventType', { eventType: 'bad{x}' }],
  ['eventType with :', 'eventType', { eventType: 'bad:x' }],
  ['eventType with an empty token', 'eventType', { eventType: 'bad..x' }],
  ['empty eventType', 'eventType', { eventType: '' }],
  ['sessionId with a dot', 'sessionId', { sessionId: 'a.b' }],
  ['sessionId with a space', 'sessionId', { sessionId: 'a b' }],
  ['empty sessionId', 'sessionId', { sessionId: '' }],
  ['sessionId of 129 characters', 'sessionId', { sessionId: 'x'.repeat(129) }],
  ['componentSource with *', 'componentSource', { componentSource: 'a*' }],
  ['componentSource with a dot', 'componentSource', { componentSource: 'a.b' }],
  ['componentSource of 129 characters', 'componentSource', { componentSource: 'c'.repeat(129) }],
  ['componentTarget of 129 characters', 'componentTarget', { componentTarget: 't'.repeat(129), pattern: 'point_to_point' }],
  ['componentTarget with }', 'componentTarget', { componentTarget: 'a}', pattern: 'point_to_point' }],
  ['componentTarget with >', 'componentTarget', { componentTarget: 'a>', pattern: 'point_to_point' }],
  ['componentTarget with :', 'componentTarget', { componentTarget: 'a:b', pattern: 'point_to_point' }],
  ['unknown delivery mode', 'deliveryMode', { deliveryMode: 'twice' }],
  ['unknown pattern', 'pattern', { pattern: 'broadcast' }],
  ['negative maxRetries', 'maxRetries', { maxRetries: -1 }],
  ['fractional retryCount', 'retryCount', { retryCount: 1.5 }],
  ['NaN in payload', 'payload.x', { payload: { x: Number.NaN } }],
  ['Infinity in payload', 'payload.x', { payload: { x: Number.POSITIVE_INFINITY } }],
  ['undefined in payload', 'payload.x', { payload: { x: undefined } }],
  ['a function in payload', 'payload.f', { payload: { f: () => 1 } }],
  ['a BigInt in payload', 'payload.big', { payload: { big: 10n } }],
  ['a Date in payload', 'payload.when', { payload: { when: new Date(0) } }],
  ['a Map in payload', 'payload.m', { payload: { m: new Map() } }],
  ['a class instance in payload', 'payload.p', { payload: { p: new Point(1) } }],
  ['a cycle in payload', 'payload.self', { payload: cyclic }],
  ['a payload that is an array', 'payload', { payload: [1, 2] }],
  ['metadata that is a string', 'metadata', { metadata: 'x' }],
  ['a misspelt field (it would route to everyone)', 'componentTraget', { pattern: 'point_to_point', componentTraget: 'agent' }],
  ['a wire (snake_case) field name', 'session_id', { session_id: 's' }],
];

export function badInputSuite(harness: BusHarness): void {
  const buses = useBuses(harness);

  describe('bad input', () => {
    it.each(BAD_ENVELOPES)('rejects %s with InvalidMessageError on %s, and sends nothing', async (_what, field, change) => {
      const bus = await buses.make();
      const got: string[] = [];
      await bus.subscribe('*', (e) => void got.push(e.messageId), { componentId: randomName('watch') });
      const attempt = bus.publish({ ...valid, ...change } as EnvelopeInit);
      await expect(attempt).rejects.toBeInstanceOf(InvalidMessageError);
      await expect(bus.publish({ ...valid, ...change } as EnvelopeInit)).rejects.toMatchObject({
        code: 'INVALID_MESSAGE',
        field,
        message: expect.stringContaining(field),
      });
      const sentinel = createEnvelope(valid);
      await quietAfterSentinel(harness, () => bus.publish(sentinel), () => got.includes(sentinel.messageId));
      expect(got).toEqual([sentinel.messageId]);
    });

    it('rejects a payload over maxPayloadBytes, naming the limit', async () => {
      const bus = await buses.make({ maxPayloadBytes: 1024 });
      await expect(bus.publish({ ...valid, payload: { big: 'x'.repeat(2000) } })).rejects.toMatchObject({
        name: 'InvalidMessageError',
        field: 'payload',
        message: expect.stringContaining('1024'),
      });
      await expect(bus.publish({ ...valid, payload: { small: 'x'.repeat(100) } })).resolves.toMatchObject({ duplicate: false });
    });

    it('rejects bad subscribe arguments with typed errors', async () => {
      const bus = await buses.make();
      const h = (): void => undefined;
      await expect(bus.subscribe('bad pattern', h)).rejects.toMatchObject({ code: 'INVALID_MESSAGE', field: 'eventPattern' });
      await expect(bus.subscribe('a.>', h)).rejects.toBeInstanceOf(InvalidMessageError);
      // Names in the options are config like every other option (issue 7): InvalidConfigError naming the key.
      await expect(bus.subscribe('ok', h, { componentId: 'a.b' })).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'componentId' });
      await expect(bus.subscribe('ok', h, { group: 'g:1' })).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'group' });
      await expect(bus.subscribe('ok', h, { sessionId: 'has space' })).rejects.toBeInstanceOf(InvalidConfigError);
      await expect(bus.subscribe('ok', h, { sessionId: 'has space' })).rejects.toMatchObject({ key: 'sessionId', message: expect.stringContaining('letters') });
      await expect(bus.subscribe('ok', h, { concurrency: 0 })).rejects.toBeInstanceOf(InvalidConfigError);
      await expect(bus.subscribe('ok', h, { unknownOption: 1 } as never)).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'unknownOption' });
      await expect(bus.subscribe('ok', 'not a function' as never)).rejects.toBeInstanceOf(InvalidConfigError);
      await expect(bus.subscribe('ok', h, { targetedOnly: true })).rejects.toMatchObject({ key: 'targetedOnly' });
      await expect(bus.subscribe('ok', h, { observe: true, componentId: 'c' })).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'observe' });
      await expect(bus.subscribe('ok', h, { observe: true, group: 'g' })).rejects.toMatchObject({ key: 'observe' });
      await expect(bus.subscribe('ok', h, { observe: 'yes' } as never)).rejects.toMatchObject({ key: 'observe' });
      await expect(bus.subscribe('ok', h, { durable: false })).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'durable' });
      await expect(bus.subscribe('ok', h, { componentId: 'c', durable: 'no' } as never)).rejects.toMatchObject({ key: 'durable' });
      const group = randomName('g');
      await bus.subscribe('one.type', h, { group });
      await expect(bus.subscribe('other.type', h, { group })).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'group' });
    });

    it('rejects a misspelt or mistyped dead-letter filter instead of matching every record', async () => {
      const bus = await buses.make();
      await bus.subscribe('bad.filter', () => {
        throw new Error('dead');
      });
      for (const sessionId of ['a', 'b']) {
        await bus.publish({ ...valid, sessionId, eventType: 'bad.filter', maxRetries: 0 });
      }
      await waitFor(async () => (await bus.getDeadLetterMessages()).length === 2, 'two dead letters');
      await expect(bus.purgeDeadLetters({ sesionId: 'a' } as never)).rejects.toMatchObject({ code: 'INVALID_CONFIG', key: 'filter.sesionId' });
      await expect(bus.redriveDeadLetters({ session: 'a' } as never)).rejects.toMatchObject({ key: 'filter.session' });
      await expect(bus.purgeDeadLetters({ sessionId: 1 } as never)).rejects.toMatchObject({ key: 'filter.sessionId' });
      await expect(bus.purgeDeadLetters({ ids: 'dl-1' } as never)).rejects.toMatchObject({ key: 'filter.ids' });
      await expect(bus.getDeadLetterMessages(-1)).rejects.toMatchObject({ key: 'limit' });
      await expect(bus.getDeadLetterMessages(Number.NaN)).rejects.toMatchObject({ key: 'limit' });
      await expect(bus.getDeadLetterMessages(10, { groop: 'x' } as never)).rejects.toMatchObject({ key: 'filter.groop' });
      expect(await bus.getDeadLetterMessages()).toHaveLength(2);
      expect((await bus.purgeDeadLetters({ sessionId: 'a' })).purged).toBe(1);
    });

    it('rejects a bad session id in session calls', async () => {
      const bus = await buses.make();
      await expect(bus.createSessionQueue('a.b')).rejects.toMatchObject({ field: 'sessionId' });
      await expect(bus.deleteSessionQueue('')).rejects.toMatchObject({ field: 'sessionId' });
    });

    it('rejects unknown and out-of-range bus options with InvalidConfigError listing what is allowed', async () => {
      await expect(Promise.resolve().then(() => harness.makeBus({ streamPrefix: randomName('x'), notAnOption: true } as never))).rejects.toMatchObject({
        code: 'INVALID_CONFIG',
        key: 'notAnOption',
        allowed: expect.arrayContaining(['streamPrefix', 'maxRetries']),
      });
      await expect(Promise.resolve().then(() => harness.makeBus({ streamPrefix: randomName('x'), maxRetries: -1 }))).rejects.toMatchObject({
        key: 'maxRetries',
      });
      await expect(Promise.resolve().then(() => harness.makeBus({ streamPrefix: 'has space' }))).rejects.toMatchObject({ key: 'streamPrefix' });
    });

    it('accepts the limits themselves: 128-character names, "-" and "_" in tokens, many tokens', async () => {
      const bus = await buses.make();
      const got: string[] = [];
      const eventType = 'a-1.b_2.C3.d-e_f';
      await bus.subscribe(eventType, (e) => void got.push(e.messageId), { group: 'g'.repeat(128) });
      const m = createEnvelope({
        ...valid,
        eventType,
        sessionId: 's'.repeat(128),
        componentSource: 'c'.repeat(128),
        componentTarget: 't'.repeat(128),
      });
      await expect(bus.publish(m)).resolves.toEqual({ messageId: m.messageId, duplicate: false });
      await waitFor(() => got.length === 1, 'the delivery');
    });

    it('accepts an envelope built by createEnvelope unchanged', async () => {
      const bus = await buses.make();
      const env = createEnvelope(valid);
      await expect(bus.publish(env)).resolves.toEqual({ messageId: env.messageId, duplicate: false });
    });
  });
}
