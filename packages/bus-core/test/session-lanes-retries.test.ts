/**
 * SessionLanes retries: retryCount = attempt - 1, at_most_once, giving up exactly once, a retry's
 * backoff holding only its own session. Hooks that throw: session-lanes-hooks.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MessageDeliveryMode } from '../src/index.js';
import { alwaysFailing, call, delivery, makeLanes, nOf, sleep, waitFor, type Call } from './support/lanes-harness.js';

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
    const failing = alwaysFailing('once');
    const h = makeLanes(failing.handler);
    h.lanes.push(delivery('s', 1, { deliveryMode: MessageDeliveryMode.AT_MOST_ONCE, maxRetries: 5 }));
    await waitFor(() => h.giveUps.length === 1, 'the give-up');
    await sleep(20);
    expect(failing.attempts).toBe(1);
    expect(h.giveUps[0]!.attempts).toBe(1);
    expect(h.retryDelaysAskedFor).toEqual([]);
  });

  it('maxRetries 0 means one attempt for at_least_once too', async () => {
    const failing = alwaysFailing('no');
    const h = makeLanes(failing.handler);
    h.lanes.push(delivery('s', 1, { maxRetries: 0 }));
    await waitFor(() => h.giveUps.length === 1, 'the give-up');
    await sleep(10);
    expect(failing.attempts).toBe(1);
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
      // The retry wait must outlast the steps until "fast" has run, on a busy machine too.
      { capacity: 4, retryDelay: 1_000 },
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
    await waitFor(() => h.successes.length === 1, 'the queued session to run during the one-minute backoff');
    expect(order).toEqual(['slow.1', 'waiting.1']);
    expect(h.lanes.stats).toMatchObject({ queued: 0, running: 0, retrying: 1, settling: 0 });
    h.lanes.abortSession('slow');
  });
});
