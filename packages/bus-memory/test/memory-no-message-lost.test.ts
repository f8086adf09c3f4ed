/**
 * A message never disappears: whatever a handler throws, it is retried and dead-lettered with a
 * readable error; a dead-letter write that fails keeps the message held (health says so) until it
 * succeeds; a logger or metrics callback that throws at any level never crashes the process nor
 * changes delivery. And each replica runs at most its own `concurrency`.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEnvelope, type BusLogger, type EnvelopeInit } from '@woodwork/bus-core';
import { DeadLetterStore } from '../src/dead-letter-store.js';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach({ retry: { initialDelayMs: 1, maxDelayMs: 2 } });

const msg = (sessionId: string, i: number, init: Partial<EnvelopeInit> = {}) =>
  createEnvelope({ sessionId, eventType: 'lost.work', componentSource: 'test', payload: { i }, maxRetries: 1, ...init });

afterEach(() => {
  vi.restoreAllMocks();
});

function hostileValues(): Array<[string, unknown, RegExp]> {
  const throwingToString = {
    toString() {
      throw new Error('no');
    },
    get message(): string {
      throw new Error('no');
    },
    get name(): string {
      throw new Error('no');
    },
  };
  const trap = (): never => {
    throw new Error('trap');
  };
  return [
    ['an object whose toString, message and name throw', throwingToString, /cannot be printed: an object/],
    ['a Proxy whose every trap throws', new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap }), /cannot be printed/],
    ['Object.create(null)', Object.create(null), /cannot be printed/],
    ['a symbol', Symbol('odd'), /Symbol\(odd\)/],
    ['undefined', undefined, /^undefined$/],
  ];
}

describe('a handler throwing any value', () => {
  for (const [label, value, text] of hostileValues()) {
    it(`${label}: retried, then dead-lettered with a fallback error text`, async () => {
      const errors: string[] = [];
      const logger: BusLogger = { debug() {}, info() {}, warn() {}, error: (m) => void errors.push(m) };
      const bus = makeBus({ logger });
      let attempts = 0;
      await bus.subscribe('lost.work', () => {
        attempts++;
        throw value;
      });
      await bus.publish(msg('s', 1));
      await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(1);
      const [record] = await bus.getDeadLetterMessages();
      expect(attempts).toBe(2);
      expect(record!.attempts).toBe(2);
      expect(record!.error.name).toBe('NonError');
      expect(record!.error.message).toMatch(text);
      expect((await bus.healthCheck()).metrics.messagesDeadLetteredTotal).toBe(1);
      expect(errors).toEqual(['message dead-lettered']);
    });
  }

  it('an UnrecoverableError is dead-lettered at once, its cause kept in the record', async () => {
    const { UnrecoverableError } = await import('@woodwork/bus-core');
    const bus = makeBus();
    let attempts = 0;
    await bus.subscribe('lost.work', () => {
      attempts++;
      throw new UnrecoverableError('not a valid order', { cause: new RangeError('amount -3') });
    });
    await bus.publish(msg('s', 1, { maxRetries: 5 }));
    await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(1);
    const [record] = await bus.getDeadLetterMessages();
    expect(attempts).toBe(1);
    expect(record!.error).toEqual({
      name: 'UnrecoverableError',
      message: 'not a valid order',
      code: 'UNRECOVERABLE',
      cause: { name: 'RangeError', message: 'amount -3' },
    });
  });
});

describe('a dead-letter write that fails', () => {
  it('keeps the message held (pending, session waiting), health degraded, then writes it once', async () => {
    let failures = 3;
    const add = DeadLetterStore.prototype.add;
    const spy = vi.spyOn(DeadLetterStore.prototype, 'add').mockImplementation(function (this: DeadLetterStore, record) {
      if (failures > 0) {
        failures--;
        throw new Error('store unavailable');
      }
      return add.call(this, record);
    });
    // Long enough that the held state is seen between two tries on a busy machine too.
    const bus = makeBus({ retry: { initialDelayMs: 400, maxDelayMs: 400, jitter: 0 } });
    const handled: number[] = [];
    await bus.subscribe('lost.work', (e) => {
      const i = e.payload['i'] as number;
      if (i === 1) throw new Error('handler fails');
      handled.push(i);
    });
    await bus.publish(msg('s', 1, { maxRetries: 0 }));
    await bus.publish(msg('s', 2));
    await expect.poll(() => spy.mock.calls.length).toBeGreaterThanOrEqual(1);
    const held = await bus.healthCheck();
    expect(held.status).toBe('degraded');
    expect(held.details['failingSettles']).toBe(1);
    expect(held.error).toMatch(/cannot be dead-lettered or acknowledged/);
    expect(held.groups[0]).toMatchObject({ pending: 1, lag: 1 });
    expect(handled).toEqual([]);
    await expect.poll(() => handled, { timeout: 5_000 }).toEqual([2]);
    expect(await bus.getDeadLetterMessages()).toHaveLength(1);
    expect(spy).toHaveBeenCalledTimes(4);
    const after = await bus.healthCheck();
    expect(after.status).toBe('healthy');
    expect(after.metrics.messagesDeadLetteredTotal).toBe(1);
  });
});

describe('a logger or metrics callback that throws at every level', () => {
  it('crashes nothing and changes no delivery: same records, same handled messages, as with a quiet logger', async () => {
    const boom = (): never => {
      throw new Error('logging backend gone');
    };
    const run = async (throwing: boolean) => {
      const bus = makeBus(
        throwing
          ? { logger: { debug: boom, info: boom, warn: boom, error: boom }, onMetric: boom, groupExpiryMs: 10 }
          : { groupExpiryMs: 10 },
      );
      const handled: number[] = [];
      await bus.subscribe('lost.work', (e) => {
        const i = e.payload['i'] as number;
        if (i % 3 === 0) throw new Error('fails');
        handled.push(i);
      });
      // A durable group that expires: its removal logs at info level from a timer.
      await bus.unsubscribe(await bus.subscribe('lost.other', () => undefined, { componentId: 'gone' }));
      for (let i = 1; i <= 12; i++) await bus.publish(msg(`s${i % 3}`, i));
      await expect.poll(async () => (await bus.getDeadLetterMessages()).length).toBe(4);
      await expect.poll(() => handled.length).toBe(8);
      await expect.poll(async () => (await bus.healthCheck()).expiredGroups.length, { timeout: 5_000 }).toBe(1);
      const health = await bus.healthCheck();
      return { handled: handled.sort((a, b) => a - b), metrics: health.metrics };
    };
    const quiet = await run(false);
    const loud = await run(true);
    expect(loud.handled).toEqual(quiet.handled);
    expect(loud.metrics).toMatchObject({ messagesConsumedTotal: 8, messagesDeadLetteredTotal: 4, messagesFailedTotal: 8 });
  });
});

describe('per-replica concurrency', () => {
  it('a replica subscribed with concurrency 1 beside one with 8 never runs two attempts at once', async () => {
    const bus = makeBus();
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    const handler = async (_e: unknown, context: { subscriptionId: string }) => {
      const id = context.subscriptionId;
      const now = (running.get(id) ?? 0) + 1;
      running.set(id, now);
      most.set(id, Math.max(most.get(id) ?? 0, now));
      await new Promise((resolve) => setTimeout(resolve, 2));
      running.set(id, now - 1);
    };
    const one = await bus.subscribe('lost.work', handler, { group: 'workers', concurrency: 1 });
    const eight = await bus.subscribe('lost.work', handler, { group: 'workers', concurrency: 8 });
    for (let i = 0; i < 120; i++) await bus.publish(msg(`s${i % 40}`, i));
    await expect.poll(async () => (await bus.healthCheck()).metrics.messagesConsumedTotal, { timeout: 10_000 }).toBe(120);
    expect(most.get(one)).toBe(1);
    expect(most.get(eight)).toBeGreaterThan(1);
    expect(most.get(eight)).toBeLessThanOrEqual(8);
  });
});
