/**
 * SessionLanes, the delivery engine every backend shares: order within a session, parallelism
 * across sessions up to capacity, retries (retryCount = attempt - 1), at_most_once, giving up
 * exactly once, timeouts that abort the signal, abortSession, and stop waiting for running attempts.
 */
import { describe, expect, it } from 'vitest';
import {
  BusClosedError,
  HandlerTimeoutError,
  MessageDeliveryMode,
  SessionLanes,
  type DeliveryContext,
  type LaneDelivery,
  type MessageEnvelope,
} from '../src/index.js';
import { delivery, gate, makeLanes, nOf, settle, sleep, waitFor } from './support/lanes-harness.js';

interface Call {
  session: string;
  n: number;
  attempt: number;
  retryCount: number;
}

function call(envelope: MessageEnvelope, context: DeliveryContext): Call {
  return { session: envelope.sessionId, n: envelope.payload['n'] as number, attempt: context.attempt, retryCount: envelope.retryCount };
}

describe('ordering and parallelism', () => {
  it('runs one session one delivery at a time, in push order', async () => {
    const running = new Map<string, number>();
    let maxPerSession = 0;
    const started: Call[] = [];
    const h = makeLanes(async (envelope, context) => {
      const now = (running.get(envelope.sessionId) ?? 0) + 1;
      running.set(envelope.sessionId, now);
      maxPerSession = Math.max(maxPerSession, now);
      started.push(call(envelope, context));
      await sleep(Math.floor(Math.random() * 3));
      running.set(envelope.sessionId, now - 1);
    }, { capacity: 8 });
    for (let i = 0; i < 30; i++) {
      h.lanes.push(delivery('s1', i));
      h.lanes.push(delivery('s2', i));
      h.lanes.push(delivery('s3', i));
    }
    expect(h.lanes.size).toBe(90);
    await waitFor(() => h.successes.length === 90, '90 successes');
    expect(maxPerSession).toBe(1);
    for (const session of ['s1', 's2', 's3']) {
      expect(started.filter((c) => c.session === session).map((c) => c.n)).toEqual([...Array(30).keys()]);
      expect(h.successes.filter((d) => d.envelope.sessionId === session).map(nOf)).toEqual([...Array(30).keys()]);
    }
    expect(h.lanes.size).toBe(0);
    expect(h.lanes.stats).toEqual({ queued: 0, running: 0, retrying: 0 });
  });

  it('runs different sessions in parallel, never more than capacity at once', async () => {
    const gates = new Map<string, ReturnType<typeof gate>>();
    let running = 0;
    let maxRunning = 0;
    const h = makeLanes(async (envelope) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const g = gate();
      gates.set(envelope.sessionId, g);
      await g.promise;
      running--;
    }, { capacity: 3 });
    for (const s of ['a', 'b', 'c', 'd', 'e']) h.lanes.push(delivery(s, 0));
    await waitFor(() => gates.size === 3, 'three sessions started');
    await settle();
    expect(gates.size).toBe(3);
    expect([...gates.keys()]).toEqual(['a', 'b', 'c']);
    expect(h.lanes.stats).toEqual({ queued: 2, running: 3, retrying: 0 });

    gates.get('b')!.open();
    await waitFor(() => gates.has('d'), 'd to start when b finished');
    await settle();
    expect(gates.has('e')).toBe(false);

    for (const s of ['a', 'c', 'd']) gates.get(s)!.open();
    await waitFor(() => gates.has('e'), 'e to start');
    gates.get('e')!.open();
    await waitFor(() => h.successes.length === 5, 'five successes');
    expect(maxRunning).toBe(3);
  });

  it('starts more when capacity grows and pump() is called', async () => {
    const started: string[] = [];
    const release = gate();
    const h = makeLanes(async (envelope) => {
      started.push(envelope.sessionId);
      await release.promise;
    }, { capacity: 1 });
    for (const s of ['a', 'b', 'c']) h.lanes.push(delivery(s, 0));
    await waitFor(() => started.length === 1, 'one start');
    h.state.capacity = 3;
    h.lanes.pump();
    await waitFor(() => started.length === 3, 'three starts');
    release.open();
    await waitFor(() => h.successes.length === 3, 'three successes');
  });

  it('waits while no consumer is there, and resumes on pump()', async () => {
    const seen: string[] = [];
    const h = makeLanes(() => {
      seen.push('ran');
    });
    const consumer = h.consumers.pop()!;
    h.lanes.push(delivery('s', 1));
    await settle();
    expect(seen).toEqual([]);
    expect(h.lanes.stats.queued).toBe(1);
    h.consumers.push(consumer);
    h.lanes.pump();
    await waitFor(() => h.successes.length === 1, 'the delivery to run');
    expect(seen).toEqual(['ran']);
  });

  it('hands attempts to the replicas pickConsumer chooses, with their group and subscription id', async () => {
    const contexts: Array<Pick<DeliveryContext, 'group' | 'subscriptionId'>> = [];
    const handler = (_e: MessageEnvelope, c: DeliveryContext): void => {
      contexts.push({ group: c.group, subscriptionId: c.subscriptionId });
    };
    const h = makeLanes(handler, {
      consumers: [
        { subscriptionId: 'r1', group: 'workers', handler, handlerTimeoutMs: 0 },
        { subscriptionId: 'r2', group: 'workers', handler, handlerTimeoutMs: 0 },
      ],
    });
    for (let i = 0; i < 4; i++) h.lanes.push(delivery(`s${i}`, i));
    await waitFor(() => h.successes.length === 4, 'four successes');
    expect(contexts.map((c) => c.subscriptionId).sort()).toEqual(['r1', 'r1', 'r2', 'r2']);
    expect(new Set(contexts.map((c) => c.group))).toEqual(new Set(['workers']));
  });
});

describe('retries and giving up', () => {
  it('retries a failed attempt with retryCount = attempt - 1, holding the session until it succeeds', async () => {
    const calls: Call[] = [];
    const h = makeLanes((envelope, context) => {
      calls.push(call(envelope, context));
      if (envelope.payload['n'] === 1 && context.attempt < 3) throw new Error(`fail ${context.attempt}`);
    });
    h.lanes.push(delivery('s', 1, { maxRetries: 3 }));
    h.lanes.push(delivery('s', 2, { maxRetries: 3 }));
    await waitFor(() => h.successes.length === 2, 'both to succeed');
    expect(calls).toEqual([
      { session: 's', n: 1, attempt: 1, retryCount: 0 },
      { session: 's', n: 1, attempt: 2, retryCount: 1 },
      { session: 's', n: 1, attempt: 3, retryCount: 2 },
      { session: 's', n: 2, attempt: 1, retryCount: 0 },
    ]);
    expect(h.successes.map(nOf)).toEqual([1, 2]);
    expect(h.failures.map((f) => [nOf(f.delivery), f.attempt, (f.error as Error).message])).toEqual([
      [1, 1, 'fail 1'],
      [1, 2, 'fail 2'],
    ]);
    expect(h.retryDelaysAskedFor).toEqual([1, 2]);
    expect(h.giveUps).toEqual([]);
    expect(h.successes[0]!.attemptsMade).toBe(3);
    expect(typeof h.successes[0]!.firstFailedAt).toBe('number');
    expect(h.successes[1]!.firstFailedAt).toBeUndefined();
  });

  it('gives up exactly once after maxRetries + 1 attempts, with the last error, then goes on', async () => {
    const calls: Call[] = [];
    const h = makeLanes((envelope, context) => {
      calls.push(call(envelope, context));
      if (envelope.payload['n'] === 1) return Promise.reject(new Error(`boom ${context.attempt}`));
      return undefined;
    });
    h.lanes.push(delivery('s', 1, { maxRetries: 2 }));
    h.lanes.push(delivery('s', 2, { maxRetries: 2 }));
    await waitFor(() => h.successes.length === 1, 'the next delivery to succeed');
    await sleep(20);
    expect(calls.map((c) => [c.n, c.attempt, c.retryCount])).toEqual([
      [1, 1, 0],
      [1, 2, 1],
      [1, 3, 2],
      [2, 1, 0],
    ]);
    expect(h.giveUps).toHaveLength(1);
    expect(nOf(h.giveUps[0]!.delivery)).toBe(1);
    expect(h.giveUps[0]!.attempts).toBe(3);
    expect((h.giveUps[0]!.error as Error).message).toBe('boom 3');
    expect(h.failures.map((f) => f.attempt)).toEqual([1, 2, 3]);
    expect(h.retryDelaysAskedFor).toEqual([1, 2]);
    expect(h.successes.map(nOf)).toEqual([2]);
  });

  it('at_most_once: a single attempt, given up on failure, however many retries are allowed', async () => {
    let attempts = 0;
    const h = makeLanes(() => {
      attempts++;
      throw new Error('once');
    });
    h.lanes.push(delivery('s', 1, { deliveryMode: MessageDeliveryMode.AT_MOST_ONCE, maxRetries: 5 }));
    await waitFor(() => h.giveUps.length === 1, 'the give-up');
    await sleep(20);
    expect(attempts).toBe(1);
    expect(h.giveUps[0]!.attempts).toBe(1);
    expect(h.retryDelaysAskedFor).toEqual([]);
  });

  it('maxRetries 0 means one attempt for at_least_once too', async () => {
    let attempts = 0;
    const h = makeLanes(() => {
      attempts++;
      throw new Error('no');
    });
    h.lanes.push(delivery('s', 1, { maxRetries: 0 }));
    await waitFor(() => h.giveUps.length === 1, 'the give-up');
    await sleep(10);
    expect(attempts).toBe(1);
  });

  it('counts attempts made before it got the delivery (a redelivery)', async () => {
    const calls: Call[] = [];
    const h = makeLanes((envelope, context) => {
      calls.push(call(envelope, context));
      throw new Error('still failing');
    });
    h.lanes.push(delivery('s', 1, { maxRetries: 3 }, 2));
    await waitFor(() => h.giveUps.length === 1, 'the give-up');
    expect(calls.map((c) => [c.attempt, c.retryCount])).toEqual([
      [3, 2],
      [4, 3],
    ]);
    expect(h.giveUps[0]!.attempts).toBe(4);
  });

  it('a synchronous throw fails the attempt; a plain return value succeeds', async () => {
    const h = makeLanes((envelope) => {
      if (envelope.payload['n'] === 1) throw new TypeError('sync');
      return 'not a promise';
    });
    h.lanes.push(delivery('s1', 1, { maxRetries: 0 }));
    h.lanes.push(delivery('s2', 2, { maxRetries: 0 }));
    await waitFor(() => h.giveUps.length === 1 && h.successes.length === 1, 'one give-up and one success');
    expect(h.giveUps[0]!.error).toBeInstanceOf(TypeError);
    expect(nOf(h.successes[0]!)).toBe(2);
  });

  it('a retry waiting its backoff holds only its own session', async () => {
    const order: string[] = [];
    const h = makeLanes(
      (envelope, context) => {
        order.push(`${envelope.sessionId}#${envelope.payload['n']}.${context.attempt}`);
        if (envelope.sessionId === 'slow' && envelope.payload['n'] === 1 && context.attempt === 1) throw new Error('first try fails');
      },
      { capacity: 4, retryDelay: 60 },
    );
    h.lanes.push(delivery('slow', 1));
    h.lanes.push(delivery('slow', 2));
    await waitFor(() => h.lanes.stats.retrying === 1, 'the retry wait');
    h.lanes.push(delivery('fast', 1));
    await waitFor(() => h.successes.length === 1, 'the other session to run');
    expect(nOf(h.successes[0]!)).toBe(1);
    expect(h.successes[0]!.envelope.sessionId).toBe('fast');
    await waitFor(() => h.successes.length === 3, 'all three');
    expect(order).toEqual(['slow#1.1', 'fast#1.1', 'slow#1.2', 'slow#2.1']);
  });

  it('a retry waiting its backoff frees its slot at once for a session already queued', async () => {
    const order: string[] = [];
    const h = makeLanes(
      (envelope, context) => {
        order.push(`${envelope.sessionId}.${context.attempt}`);
        if (envelope.sessionId === 'slow' && context.attempt === 1) throw new Error('first try fails');
      },
      { capacity: 1, retryDelay: 60_000 },
    );
    h.lanes.push(delivery('slow', 1));
    h.lanes.push(delivery('waiting', 1)); // queued: capacity is 1
    await waitFor(() => h.successes.length === 1, 'the queued session to run during the one-minute backoff', 2_000);
    expect(order).toEqual(['slow.1', 'waiting.1']);
    expect(h.lanes.stats).toEqual({ queued: 0, running: 0, retrying: 1 });
    h.lanes.abortSession('slow');
  });

  it('a hook that throws is reported and the session goes on', async () => {
    const h = makeLanes(() => undefined, {
      onSuccess: (d) => {
        if (nOf(d) === 1) throw new Error('ack failed');
      },
    });
    h.lanes.push(delivery('s', 1));
    h.lanes.push(delivery('s', 2));
    await waitFor(() => h.successes.length === 1, 'the second delivery');
    expect(nOf(h.successes[0]!)).toBe(2);
    expect(h.hookErrors).toHaveLength(1);
    expect((h.hookErrors[0] as Error).message).toBe('ack failed');
    expect(h.lanes.size).toBe(0);
  });
});

describe('timeouts', () => {
  it('aborts the signal with HandlerTimeoutError and counts the attempt as failed', async () => {
    const reasons: unknown[] = [];
    const h = makeLanes(
      (_envelope, { signal }) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => {
            reasons.push(signal.reason);
            resolve(); // resolving after the timeout must not count as success
          });
        }),
      { handlerTimeoutMs: 15 },
    );
    h.lanes.push(delivery('s', 1, { maxRetries: 1 }));
    await waitFor(() => h.giveUps.length === 1, 'the give-up after two timeouts');
    expect(reasons).toHaveLength(2);
    for (const reason of reasons) {
      expect(reason).toBeInstanceOf(HandlerTimeoutError);
      expect((reason as HandlerTimeoutError).timeoutMs).toBe(15);
    }
    expect(h.failures.map((f) => f.error)).toEqual(reasons);
    expect(h.giveUps[0]!.error).toBeInstanceOf(HandlerTimeoutError);
    expect(h.successes).toEqual([]);
  });

  it('a handler that ignores its signal and never settles still times out and frees its session', async () => {
    const h = makeLanes((envelope) => (envelope.payload['n'] === 1 ? new Promise<void>(() => {}) : undefined), { handlerTimeoutMs: 10 });
    h.lanes.push(delivery('s', 1, { maxRetries: 0 }));
    h.lanes.push(delivery('s', 2, { maxRetries: 0 }));
    await waitFor(() => h.successes.length === 1, 'the next delivery');
    expect(h.giveUps.map((g) => nOf(g.delivery))).toEqual([1]);
    expect(h.giveUps[0]!.error).toBeInstanceOf(HandlerTimeoutError);
  });

  it('handlerTimeoutMs 0 means no timeout', async () => {
    const release = gate();
    let aborted = false;
    const h = makeLanes(async (_e, { signal }) => {
      signal.addEventListener('abort', () => (aborted = true));
      await release.promise;
    }, { handlerTimeoutMs: 0 });
    h.lanes.push(delivery('s', 1));
    await sleep(30);
    expect(aborted).toBe(false);
    release.open();
    await waitFor(() => h.successes.length === 1, 'success');
  });
});

describe('abortSession', () => {
  it('aborts the running attempt, drops what is queued, ignores the outcome and leaves other sessions alone', async () => {
    const gates = new Map<string, ReturnType<typeof gate>>();
    const signals = new Map<string, AbortSignal>();
    const h = makeLanes(async (envelope, { signal }) => {
      const key = `${envelope.sessionId}#${envelope.payload['n']}`;
      signals.set(key, signal);
      const g = gate();
      gates.set(key, g);
      await g.promise;
    });
    for (let i = 1; i <= 3; i++) h.lanes.push(delivery('doomed', i));
    h.lanes.push(delivery('other', 1));
    await waitFor(() => gates.has('doomed#1') && gates.has('other#1'), 'both sessions to start');

    const dropped = h.lanes.abortSession('doomed');
    // The running one comes back too, so a backend can drop it from its pending list.
    expect(dropped.map(nOf)).toEqual([1, 2, 3]);
    expect(signals.get('doomed#1')!.aborted).toBe(true);
    expect(signals.get('doomed#1')!.reason).toBeInstanceOf(BusClosedError);
    expect(h.lanes.stats.queued).toBe(0);

    gates.get('doomed#1')!.open(); // succeeds after the abort: ignored
    gates.get('other#1')!.open();
    await waitFor(() => h.successes.length === 1, 'the other session');
    await settle();
    expect(h.successes.map((d) => d.envelope.sessionId)).toEqual(['other']);
    expect(h.giveUps).toEqual([]);
    expect(gates.has('doomed#2')).toBe(false);
    expect(h.lanes.size).toBe(0);

    // A later push starts the session afresh.
    h.lanes.push(delivery('doomed', 4));
    await waitFor(() => gates.has('doomed#4'), 'the new delivery to start');
    gates.get('doomed#4')!.open();
    await waitFor(() => h.successes.length === 2, 'the new delivery to succeed');
  });

  it('frees the slot of the aborted attempt for a session already queued', async () => {
    const started: string[] = [];
    const h = makeLanes(
      (envelope, { signal }) => {
        started.push(envelope.sessionId);
        if (envelope.sessionId !== 'doomed') return undefined;
        return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
      },
      { capacity: 1 },
    );
    h.lanes.push(delivery('doomed', 1));
    h.lanes.push(delivery('next', 1)); // queued: capacity is 1
    await waitFor(() => started.length === 1, 'the doomed session to start');
    h.lanes.abortSession('doomed');
    await waitFor(() => h.successes.length === 1, 'the queued session to run after the abort', 2_000);
    expect(started).toEqual(['doomed', 'next']);
  });

  it('cancels a retry that is waiting its backoff', async () => {
    let attempts = 0;
    const h = makeLanes(() => {
      attempts++;
      throw new Error('fails');
    }, { retryDelay: 30 });
    h.lanes.push(delivery('s', 1, { maxRetries: 3 }));
    await waitFor(() => h.lanes.stats.retrying === 1, 'the retry wait');
    expect(h.lanes.abortSession('s').map(nOf)).toEqual([1]);
    expect(h.lanes.stats).toEqual({ queued: 0, running: 0, retrying: 0 });
    await sleep(80);
    expect(attempts).toBe(1);
    expect(h.giveUps).toEqual([]);
  });

  it('an unknown session returns nothing', () => {
    const h = makeLanes(() => undefined);
    expect(h.lanes.abortSession('nobody')).toEqual([]);
  });
});

describe('removeQueued', () => {
  it('removes matching deliveries that have not started, never the running one', async () => {
    const release = gate();
    const ran: number[] = [];
    const h = makeLanes(async (envelope) => {
      ran.push(envelope.payload['n'] as number);
      if (envelope.payload['n'] === 1) await release.promise;
    });
    for (let i = 1; i <= 5; i++) h.lanes.push(delivery('s', i));
    await waitFor(() => ran.length === 1, 'the first to start');
    const removed = h.lanes.removeQueued((d) => nOf(d) % 2 === 1);
    expect(removed.map(nOf)).toEqual([3, 5]);
    expect(h.lanes.stats).toEqual({ queued: 2, running: 1, retrying: 0 });
    release.open();
    await waitFor(() => h.successes.length === 3, 'the rest');
    expect(ran).toEqual([1, 2, 4]);
  });
});

describe('stop', () => {
  it('aborts running attempts, waits for them, acknowledges one that still succeeds, and starts nothing new', async () => {
    const release = gate();
    let signal: AbortSignal | undefined;
    let finished = false;
    const started: number[] = [];
    const h = makeLanes(async (envelope, context) => {
      started.push(envelope.payload['n'] as number);
      signal = context.signal;
      await release.promise;
      finished = true;
    }, { capacity: 1 });
    h.lanes.push(delivery('a', 1));
    h.lanes.push(delivery('b', 2));
    await waitFor(() => started.length === 1, 'the first to start');

    let stopped = false;
    const stopping = h.lanes.stop(5_000).then((unfinished) => {
      stopped = true;
      return unfinished;
    });
    expect(signal!.aborted).toBe(true);
    expect(signal!.reason).toBeInstanceOf(BusClosedError);
    await settle();
    expect(stopped).toBe(false); // still waiting for the running attempt

    release.open();
    const unfinished = await stopping;
    expect(finished).toBe(true);
    expect(h.successes.map(nOf)).toEqual([1]);
    expect(unfinished.map(nOf)).toContain(2);
    expect(started).toEqual([1]);

    h.lanes.push(delivery('c', 3));
    await settle();
    expect(started).toEqual([1]);
    expect(h.lanes.size).toBe(0);
  });

  it('returns as unfinished only what never finished (not an attempt acknowledged while stopping)', async () => {
    const release = gate();
    const h = makeLanes(() => release.promise, { capacity: 1 });
    h.lanes.push(delivery('a', 1));
    h.lanes.push(delivery('b', 2));
    await waitFor(() => h.lanes.stats.running === 1, 'the first to start');
    const stopping = h.lanes.stop(5_000);
    release.open();
    const unfinished = await stopping;
    expect(h.successes.map(nOf)).toEqual([1]);
    expect(unfinished.map(nOf)).toEqual([2]);
  });

  it('an attempt that fails after stop is neither retried nor given up', async () => {
    const h = makeLanes((_e, { signal }) => new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason))));
    h.lanes.push(delivery('s', 1, { maxRetries: 3 }));
    await waitFor(() => h.lanes.stats.running === 1, 'the attempt to start');
    await h.lanes.stop(5_000);
    await sleep(20);
    expect(h.failures).toHaveLength(1);
    expect(h.failures[0]!.error).toBeInstanceOf(BusClosedError);
    expect(h.giveUps).toEqual([]);
    expect(h.retryDelaysAskedFor).toEqual([]);
  });

  it('cancels retries waiting their backoff', async () => {
    let attempts = 0;
    const h = makeLanes(() => {
      attempts++;
      throw new Error('x');
    }, { retryDelay: 30 });
    h.lanes.push(delivery('s', 1, { maxRetries: 3 }));
    await waitFor(() => h.lanes.stats.retrying === 1, 'the retry wait');
    await h.lanes.stop(1_000);
    await sleep(80);
    expect(attempts).toBe(1);
    expect(h.lanes.stats.retrying).toBe(0);
  });

  it('gives up waiting after its timeout when a handler never settles', async () => {
    const h = makeLanes(() => new Promise<void>(() => {}));
    h.lanes.push(delivery('s', 1));
    await waitFor(() => h.lanes.stats.running === 1, 'the attempt to start');
    const unfinished = await h.lanes.stop(20);
    expect(unfinished.map(nOf)).toEqual([1]);
    expect(h.successes).toEqual([]);
  });
});

describe('onDone', () => {
  it('is called once per delivery that left the lanes, after its room was freed', async () => {
    let fail = true;
    const h = makeLanes(
      (envelope, { signal }) => {
        if (envelope.sessionId === 'doomed') return new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve()));
        if (envelope.sessionId === 'bad') throw new Error('always');
        if (fail) {
          fail = false;
          throw new Error('once');
        }
        return undefined;
      },
      { capacity: 4 },
    );
    h.lanes.push(delivery('ok', 1, { maxRetries: 1 }));
    h.lanes.push(delivery('bad', 1, { maxRetries: 0 }));
    h.lanes.push(delivery('doomed', 1));
    await waitFor(() => h.successes.length === 1 && h.giveUps.length === 1, 'a success after a retry and a give-up');
    expect(h.done.map((d) => d.delivery.envelope.sessionId).sort()).toEqual(['bad', 'ok']);
    h.lanes.abortSession('doomed');
    // The aborted attempt still held a slot until it settled; its settling frees it.
    await waitFor(() => h.done.length === 3, 'the aborted attempt to settle');
    expect(h.done[2]?.delivery.envelope.sessionId).toBe('doomed');
    // Each call already saw the size without its own delivery (and those done before it).
    expect(h.done.map((d) => d.sizeThen)).toEqual([2, 1, 0]);
    expect(h.lanes.size).toBe(0);
  });
});

describe('hooks that throw', () => {
  it('an onAttemptFailed that throws is reported; the delivery is still retried and the session goes on', async () => {
    const hookErrors: unknown[] = [];
    const successes: number[] = [];
    let attempts = 0;
    const consumer = {
      subscriptionId: 'sub-1',
      group: 'g',
      handlerTimeoutMs: 0,
      handler: () => {
        attempts++;
        if (attempts === 1) throw new Error('first attempt fails');
      },
    };
    const lanes = new SessionLanes<LaneDelivery>({
      pickConsumer: () => consumer,
      capacity: () => 1,
      onSuccess: (d) => void successes.push(nOf(d)),
      onGiveUp: () => undefined,
      onAttemptFailed: () => {
        throw new Error('logger down');
      },
      retryDelayMs: () => 1,
      onHookError: (error) => hookErrors.push(error),
    });
    lanes.push(delivery('s', 1));
    lanes.push(delivery('s', 2));
    await waitFor(() => successes.length === 2, 'both deliveries to succeed', 2_000);
    expect(successes).toEqual([1, 2]);
    expect(attempts).toBe(3);
    expect((hookErrors[0] as Error).message).toBe('logger down');
  });
});

describe('what a session leaves behind', () => {
  it('keeps no lane once a session has nothing left: 10,000 sessions acknowledged, given up, aborted or removed', async () => {
    let n = 0;
    const h = makeLanes(
      (envelope) => {
        n++;
        if (envelope.payload['n'] === 1) throw new Error('give up');
      },
      { capacity: 64 },
    );
    for (let s = 0; s < 10_000; s++) h.lanes.push(delivery(`s${s}`, s % 2, { maxRetries: 0 }));
    expect(h.lanes.sessions).toBe(10_000);
    await waitFor(() => h.successes.length + h.giveUps.length === 10_000, 'every delivery done', 20_000);
    expect(h.lanes.sessions).toBe(0);

    h.state.capacity = 0; // nothing starts: everything stays queued
    for (let s = 0; s < 100; s++) h.lanes.push(delivery(`q${s}`, 0));
    expect(h.lanes.sessions).toBe(100);
    for (let s = 0; s < 50; s++) h.lanes.abortSession(`q${s}`);
    expect(h.lanes.removeQueued(() => true)).toHaveLength(50);
    expect(h.lanes.sessions).toBe(0);
    expect(h.lanes.stats).toEqual({ queued: 0, running: 0, retrying: 0 });
    expect(n).toBe(10_000);
  });
});

describe('handler deadlines under load', () => {
  it('each of 300 concurrent attempts times out at its own consumer timeout, never before it; long ones run on', async () => {
    const timeouts = [3, 7, 15, 30, 60, 100, 10_000];
    const consumers = timeouts.map((t) => ({
      subscriptionId: `sub-${t}`,
      group: 'g',
      handlerTimeoutMs: t,
      handler: (_e: MessageEnvelope, ctx: DeliveryContext) => {
        const startedAt = performance.now();
        return new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborts.push({ timeout: t, after: performance.now() - startedAt, reason: ctx.signal.reason });
            resolve();
          }),
        );
      },
    }));
    const aborts: Array<{ timeout: number; after: number; reason: unknown }> = [];
    const h = makeLanes(() => undefined, { consumers, capacity: 1000 });
    for (let i = 0; i < 300; i++) h.lanes.push(delivery(`s${i}`, i, { maxRetries: 0 }));
    // The harness hands attempts to the consumers in turn: 300 / 7 rounds, the last consumer is 10 s.
    const longCount = Array.from({ length: 300 }, (_, i) => i).filter((i) => i % timeouts.length === timeouts.length - 1).length;
    await waitFor(() => h.giveUps.length === 300 - longCount, 'the short attempts to time out', 5_000);
    await sleep(150);
    expect(aborts.filter((a) => a.timeout === 10_000)).toEqual([]);
    expect(aborts).toHaveLength(300 - longCount);
    for (const a of aborts) {
      expect(a.reason).toBeInstanceOf(HandlerTimeoutError);
      expect((a.reason as HandlerTimeoutError).timeoutMs).toBe(a.timeout);
      // performance.now() is the clock of both; 0.5 ms of slack for its rounding.
      expect(a.after).toBeGreaterThanOrEqual(a.timeout - 0.5);
    }
    expect(h.giveUps.every((g) => g.error instanceof HandlerTimeoutError)).toBe(true);
    expect(h.lanes.stats.running).toBe(longCount);
    // Only the 10 s attempts are left: deadlines are checked every second, not every few ms.
    expect(h.lanes.deadlineCheckMs).toBe(1000);
    await h.lanes.stop(10);
    expect(h.lanes.deadlineCheckMs).toBeUndefined();
  });
});

describe('stop without abort', () => {
  it('leaves running attempts unaborted and does not wait for them; retries and queued deliveries are dropped', async () => {
    const release = gate();
    let signal: AbortSignal | undefined;
    let attempts = 0;
    const h = makeLanes(
      async (envelope, context) => {
        attempts++;
        if (envelope.sessionId === 'retrying') throw new Error('retry later');
        signal = context.signal;
        await release.promise;
      },
      { retryDelay: 30 },
    );
    h.lanes.push(delivery('running', 1));
    h.lanes.push(delivery('running', 2));
    h.lanes.push(delivery('retrying', 1, { maxRetries: 3 }));
    await waitFor(() => signal !== undefined && h.lanes.stats.retrying === 1, 'one running, one waiting for its retry');
    const unfinished = await h.lanes.stop(60_000, { abort: false }); // resolves although the attempt runs on
    expect(unfinished.map((d) => `${d.envelope.sessionId}:${nOf(d)}`).sort()).toEqual(['retrying:1', 'running:1', 'running:2']);
    expect(signal?.aborted).toBe(false);
    release.open();
    await sleep(60);
    expect(attempts).toBe(2); // no retry, nothing after the running one
    expect(h.giveUps).toEqual([]);
  });
});
