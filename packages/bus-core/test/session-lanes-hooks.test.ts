/**
 * SessionLanes hooks: settling hooks (acknowledge, deadLetter, beginAttempt) whose failure holds the
 * lane and is retried, observers whose throws change nothing, thrown values of any kind, permanent
 * failures, and per-consumer concurrency.
 */
import { describe, expect, it } from 'vitest';
import { MessageDeliveryMode, UnrecoverableError, type LaneDelivery, type MessageEnvelope } from '../src/index.js';
import { delivery, gate, makeLanes, nOf, settle, sleep, waitFor } from './support/lanes-harness.js';

const nOfEnvelope = (envelope: MessageEnvelope): number => envelope.payload['n'] as number;

/** Values a handler may throw that break naive error handling (String(), .message, instanceof). */
function hostileValues(): Array<[string, unknown]> {
  const throwingToString = {
    toString() {
      throw new Error('toString throws');
    },
    get message(): string {
      throw new Error('message getter throws');
    },
    get name(): string {
      throw new Error('name getter throws');
    },
  };
  const trap = (): never => {
    throw new Error('trap');
  };
  const proxy = new Proxy({}, { get: trap, has: trap, getPrototypeOf: trap, ownKeys: trap, getOwnPropertyDescriptor: trap });
  return [
    ['an object whose toString/message/name throw', throwingToString],
    ['a Proxy whose every trap throws', proxy],
    ['Object.create(null)', Object.create(null)],
    ['undefined', undefined],
    ['a symbol', Symbol('s')],
  ];
}

describe('thrown values of any kind', () => {
  for (const [label, value] of hostileValues()) {
    it(`${label}: retried, then dead-lettered with that value, and the session goes on`, async () => {
      let attempts = 0;
      const h = makeLanes((envelope) => {
        if (nOfEnvelope(envelope) !== 1) return;
        attempts++;
        throw value;
      });
      h.lanes.push(delivery('s', 1, { maxRetries: 2 }));
      h.lanes.push(delivery('s', 2));
      await waitFor(() => h.successes.length === 1, 'the next delivery of the session');
      expect(attempts).toBe(3);
      expect(h.giveUps).toHaveLength(1);
      expect(h.giveUps[0]!.error).toBe(value);
      expect(h.giveUps[0]!.attempts).toBe(3);
      expect(h.lanes.size).toBe(0);
    });
  }

  it('an envelopeFor that throws fails the attempt (counted) instead of leaving the lane busy for good', async () => {
    let calls = 0;
    const h = makeLanes(() => undefined, {
      hooks: {
        envelopeFor: (d) => {
          calls++;
          if (nOf(d) === 1) throw new Error('cannot decode');
          return d.envelope;
        },
      },
    });
    h.lanes.push(delivery('s', 1, { maxRetries: 1 }));
    h.lanes.push(delivery('s', 2));
    await waitFor(() => h.successes.length === 1, 'the next delivery');
    expect(calls).toBe(3);
    expect(h.giveUps.map((g) => [nOf(g.delivery), g.attempts, (g.error as Error).message])).toEqual([[1, 2, 'cannot decode']]);
    expect(h.lanes.stats).toMatchObject({ queued: 0, running: 0, retrying: 0, settling: 0 });
  });
});

describe('observers', () => {
  it('every observer throwing changes nothing: same outcomes, counted in stats.observerErrors', async () => {
    const boom = (): never => {
      throw new Error('observer down');
    };
    const run = async (throwing: boolean) => {
      const h = makeLanes(
        (envelope, context) => {
          if (nOfEnvelope(envelope) % 3 === 0 && context.attempt === 1) throw new Error('retry me');
          if (nOfEnvelope(envelope) % 5 === 0) throw new Error('always');
        },
        throwing
          ? { observer: { handled: boom, attemptFailed: boom, deadLettered: boom, settleFailed: boom, left: boom, outOfOrder: boom } }
          : {},
      );
      for (let i = 1; i <= 30; i++) h.lanes.push(delivery(`s${i % 4}`, i, { maxRetries: 1 }));
      await waitFor(() => h.successes.length + h.giveUps.length === 30, 'all 30 settled');
      return h;
    };
    const quiet = await run(false);
    const loud = await run(true);
    const byN = (ds: LaneDelivery[]) => ds.map(nOf).sort((a, b) => a - b);
    expect(byN(loud.successes)).toEqual(byN(quiet.successes));
    expect(byN(loud.giveUps.map((g) => g.delivery))).toEqual(byN(quiet.giveUps.map((g) => g.delivery)));
    expect(loud.giveUps).toHaveLength(6);
    expect(loud.lanes.stats.observerErrors).toBeGreaterThanOrEqual(30);
    expect(quiet.lanes.stats.observerErrors).toBe(0);
    expect(loud.lanes.size).toBe(0);
  });
});

describe('settling hooks', () => {
  it('a failing acknowledge holds its session, is retried with backoff, and never lets the next one start early', async () => {
    let ackFailures = 2;
    const started: string[] = [];
    const h = makeLanes(
      (envelope) => {
        started.push(`${envelope.sessionId}#${nOfEnvelope(envelope)}`);
      },
      {
        onSuccess: (d) => {
          if (d.envelope.sessionId === 'held' && nOf(d) === 1 && ackFailures-- > 0) throw new Error('ack failed');
        },
        // Long enough that the state between two tries is seen on a busy machine too.
        retryDelay: 300,
      },
    );
    h.lanes.push(delivery('held', 1));
    h.lanes.push(delivery('held', 2));
    await waitFor(() => h.hookErrors.length === 1, 'the first ack failure');
    expect(h.lanes.stats).toMatchObject({ settling: 1, failingSettles: 1 });
    h.lanes.push(delivery('free', 1));
    await waitFor(() => started.includes('free#1'), 'another session to run meanwhile');
    expect(started).not.toContain('held#2');
    await waitFor(() => h.successes.length === 3, 'all acknowledged');
    expect(started).toEqual(['held#1', 'free#1', 'held#2']);
    expect(h.successes.map((d) => `${d.envelope.sessionId}#${nOf(d)}`)).toEqual(['free#1', 'held#1', 'held#2']);
    expect(h.hookErrors).toHaveLength(2);
    // The handler ran once: a failed acknowledgement is not a failed attempt.
    expect(h.failures).toEqual([]);
    expect(h.lanes.stats.failingSettles).toBe(0);
  });

  it('a failing dead-letter write keeps the delivery held and retried; the record is written once, never again after a throwing observer', async () => {
    let writeFailures = 2;
    let written = 0;
    let ackAfterRecordFailures = 1;
    const h = makeLanes(
      (envelope) => {
        if (nOfEnvelope(envelope) === 1) throw new Error('handler fails');
      },
      {
        hooks: {
          deadLetter: () => {
            if (writeFailures-- > 0) throw new Error('store down');
            written++;
          },
          acknowledge: (d, reason) => {
            if (reason === 'dead-lettered' && ackAfterRecordFailures-- > 0) throw new Error('ack down');
            if (reason === 'handled') h.successes.push(d);
          },
        },
        observer: {
          deadLettered: () => {
            throw new Error('logger.error throws after the record was written');
          },
        },
        retryDelay: 300,
      },
    );
    h.lanes.push(delivery('s', 1, { maxRetries: 0 }));
    h.lanes.push(delivery('s', 2));
    await waitFor(() => h.hookErrors.length >= 1, 'the first write failure');
    expect(h.lanes.stats.failingSettles).toBe(1);
    expect(h.lanes.size).toBe(2);
    await waitFor(() => h.successes.length === 1, 'the next delivery, once the record is written and acknowledged');
    expect(written).toBe(1);
    expect(h.hookErrors.map((e) => (e as Error).message)).toEqual(['store down', 'store down', 'ack down']);
    expect(h.lanes.stats.observerErrors).toBe(1);
  });

  it('beginAttempt: the handler waits for it; a rejection runs no handler, counts no attempt, and is retried', async () => {
    const begin = gate();
    let beginCalls = 0;
    const handlerSaw: number[] = [];
    const h = makeLanes(
      (_e, context) => {
        handlerSaw.push(context.attempt);
      },
      {
        hooks: {
          beginAttempt: async (d, attempt) => {
            beginCalls++;
            expect(attempt).toBe(d.attemptsMade + 1);
            if (beginCalls === 1) {
              await begin.promise;
              throw new Error('server away');
            }
          },
        },
      },
    );
    const d = delivery('s', 1);
    h.lanes.push(d);
    await waitFor(() => beginCalls === 1, 'the first begin');
    await settle();
    expect(handlerSaw).toEqual([]);
    expect(h.lanes.stats.running).toBe(1);
    begin.open();
    await waitFor(() => h.successes.length === 1, 'the success after a second begin');
    expect(beginCalls).toBe(2);
    expect(handlerSaw).toEqual([1]);
    expect(d.attemptsMade).toBe(1);
    expect((h.hookErrors[0] as Error).message).toBe('server away');
  });

  it('at_most_once is acknowledged before its handler runs; a failing handler is dead-lettered, not acknowledged again', async () => {
    const events: string[] = [];
    const h = makeLanes(
      (envelope) => {
        events.push(`handler ${nOfEnvelope(envelope)}`);
        if (nOfEnvelope(envelope) === 1) throw new Error('fails');
      },
      {
        hooks: {
          acknowledge: (d, reason) => void events.push(`ack ${nOf(d)} ${reason}`),
          deadLetter: (d) => void events.push(`dead-letter ${nOf(d)}`),
        },
      },
    );
    h.lanes.push(delivery('s', 1, { deliveryMode: MessageDeliveryMode.AT_MOST_ONCE, maxRetries: 3 }));
    h.lanes.push(delivery('s', 2, { deliveryMode: MessageDeliveryMode.AT_MOST_ONCE }));
    await waitFor(() => events.length === 5, 'five events');
    expect(events).toEqual(['ack 1 at-most-once', 'handler 1', 'dead-letter 1', 'ack 2 at-most-once', 'handler 2']);
  });
});

describe('attempt counts and permanent failures', () => {
  it('attemptsMade counts handler starts: raised when the handler starts, not when it ends', async () => {
    const seen: number[] = [];
    const d = delivery('s', 1, { maxRetries: 2 });
    const h = makeLanes((_e, context) => {
      seen.push(d.attemptsMade);
      if (context.attempt < 2) throw new Error('again');
    });
    h.lanes.push(d);
    await waitFor(() => h.successes.length === 1, 'success');
    expect(seen).toEqual([1, 2]);
  });

  it('a delivery pushed with every attempt used is dead-lettered at once, never run, in its turn', async () => {
    const ran: number[] = [];
    const h = makeLanes((envelope) => void ran.push(nOfEnvelope(envelope)));
    h.lanes.push(delivery('s', 1, { maxRetries: 2 }, 3));
    h.lanes.push(delivery('s', 2));
    h.lanes.push(delivery('t', 3, { deliveryMode: MessageDeliveryMode.AT_MOST_ONCE }, 1));
    await waitFor(() => h.successes.length === 1 && h.giveUps.length === 2, 'two dead letters and one success');
    expect(ran).toEqual([2]);
    expect(h.giveUps.map((g) => [nOf(g.delivery), g.attempts, g.reason])).toEqual([
      [1, 3, 'exhausted-before-start'],
      [3, 1, 'exhausted-before-start'],
    ]);
  });

  it('UnrecoverableError dead-letters at once, without retries, keeping the error and its cause', async () => {
    const cause = new Error('schema v1 is gone');
    let attempts = 0;
    const h = makeLanes(() => {
      attempts++;
      throw new UnrecoverableError('cannot ever handle this', { cause });
    });
    h.lanes.push(delivery('s', 1, { maxRetries: 5 }));
    await waitFor(() => h.giveUps.length === 1, 'the dead letter');
    await sleep(10);
    expect(attempts).toBe(1);
    expect(h.retryDelaysAskedFor).toEqual([]);
    expect(h.giveUps[0]!.reason).toBe('unrecoverable');
    expect((h.giveUps[0]!.error as Error).cause).toBe(cause);
  });

  it('an error with code UNRECOVERABLE from another copy of core counts too', async () => {
    let attempts = 0;
    const h = makeLanes(() => {
      attempts++;
      throw Object.assign(new Error('foreign'), { code: 'UNRECOVERABLE' });
    });
    h.lanes.push(delivery('s', 1, { maxRetries: 5 }));
    await waitFor(() => h.giveUps.length === 1, 'the dead letter');
    expect(attempts).toBe(1);
  });
});

describe('per-consumer concurrency', () => {
  it('a replica with concurrency 1 beside one with 8 never runs two attempts at once', async () => {
    const running = new Map<string, number>();
    const most = new Map<string, number>();
    const handlerFor = (id: string) => async (_e: MessageEnvelope) => {
      const now = (running.get(id) ?? 0) + 1;
      running.set(id, now);
      most.set(id, Math.max(most.get(id) ?? 0, now));
      await sleep(2);
      running.set(id, now - 1);
    };
    const consumers = [
      { subscriptionId: 'one', group: 'g', handler: handlerFor('one'), handlerTimeoutMs: 0, concurrency: 1 },
      { subscriptionId: 'eight', group: 'g', handler: handlerFor('eight'), handlerTimeoutMs: 0, concurrency: 8 },
    ];
    const h = makeLanes(() => undefined, { consumers });
    for (let i = 0; i < 90; i++) h.lanes.push(delivery(`s${i % 30}`, i));
    await waitFor(() => h.successes.length === 90, 'all 90');
    expect(most.get('one')).toBe(1);
    expect(most.get('eight')).toBeLessThanOrEqual(8);
    expect(most.get('eight')).toBeGreaterThan(1);
  });
});
