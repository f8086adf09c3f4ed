/**
 * SessionLanes timeouts and aborts: handler timeouts that abort the signal (each at its own
 * consumer's deadline, under load too), and abortSession.
 */
import { describe, expect, it } from 'vitest';
import { HandlerTimeoutError, SessionDeletedError, type DeliveryContext, type MessageEnvelope } from '../src/index.js';
import { alwaysFailing, delivery, gate, makeLanes, nOf, settle, sleep, waitFor } from './support/lanes-harness.js';

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
    expect(signals.get('doomed#1')!.reason).toBeInstanceOf(SessionDeletedError);
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
    await waitFor(() => h.successes.length === 1, 'the queued session to run after the abort');
    expect(started).toEqual(['doomed', 'next']);
  });

  it('cancels a retry that is waiting its backoff', async () => {
    const failing = alwaysFailing('fails');
    // The retry wait outlasts the steps until the abort on a busy machine; the sleep outlasts the
    // wait (a timer set later for longer fires later), so a retry left running would be seen.
    const h = makeLanes(failing.handler, { retryDelay: 1_000 });
    h.lanes.push(delivery('s', 1, { maxRetries: 3 }));
    await waitFor(() => h.lanes.stats.retrying === 1, 'the retry wait');
    expect(h.lanes.abortSession('s').map(nOf)).toEqual([1]);
    expect(h.lanes.stats).toMatchObject({ queued: 0, running: 0, retrying: 0, settling: 0 });
    await sleep(1_200);
    expect(failing.attempts).toBe(1);
    expect(h.giveUps).toEqual([]);
  });

  it('an unknown session returns nothing', () => {
    const h = makeLanes(() => undefined);
    expect(h.lanes.abortSession('nobody')).toEqual([]);
  });
});

describe('handler deadlines under load', () => {
  it('each of 300 concurrent attempts times out at its own consumer timeout, never before it; long ones run on', async () => {
    // The long timeout is far beyond the test's own timeout, so a busy machine cannot make it fire.
    const timeouts = [3, 7, 15, 30, 60, 100, 60_000];
    const consumers = timeouts.map((t) => ({
      subscriptionId: `sub-${t}`,
      group: 'g',
      handlerTimeoutMs: t,
      concurrency: 1000,
      handler: (e: MessageEnvelope, ctx: DeliveryContext) => {
        // Measured from the push, which comes before the attempt starts: a pause of the process between
        // the lanes' start and this handler (GC, a busy machine) cannot make a timeout look early.
        const pushedAt = pushTimes[e.payload['n'] as number] as number;
        return new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborts.push({ timeout: t, after: performance.now() - pushedAt, reason: ctx.signal.reason });
            resolve();
          }),
        );
      },
    }));
    const aborts: Array<{ timeout: number; after: number; reason: unknown }> = [];
    const pushTimes: number[] = [];
    const h = makeLanes(() => undefined, { consumers });
    for (let i = 0; i < 300; i++) {
      pushTimes[i] = performance.now();
      h.lanes.push(delivery(`s${i}`, i, { maxRetries: 0 }));
    }
    // The harness hands attempts to the consumers in turn: 300 / 7 rounds, the last consumer is 60 s.
    const longCount = Array.from({ length: 300 }, (_, i) => i).filter((i) => i % timeouts.length === timeouts.length - 1).length;
    await waitFor(() => h.giveUps.length === 300 - longCount, 'the short attempts to time out');
    await sleep(150);
    expect(aborts.filter((a) => a.timeout === 60_000)).toEqual([]);
    expect(aborts).toHaveLength(300 - longCount);
    for (const a of aborts) {
      expect(a.reason).toBeInstanceOf(HandlerTimeoutError);
      expect((a.reason as HandlerTimeoutError).timeoutMs).toBe(a.timeout);
      // performance.now() is the clock of both; 0.5 ms of slack for its rounding.
      expect(a.after).toBeGreaterThanOrEqual(a.timeout - 0.5);
    }
    expect(h.giveUps.every((g) => g.error instanceof HandlerTimeoutError)).toBe(true);
    expect(h.lanes.stats.running).toBe(longCount);
    await h.lanes.stop(10);
  });
});
