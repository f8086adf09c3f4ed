/**
 * SessionLanes.stop: aborting running attempts and waiting for them (or, with abort: false, neither),
 * cancelling retries, and returning as unfinished only what never finished.
 */
import { describe, expect, it } from 'vitest';
import { BusClosedError } from '../src/index.js';
import { alwaysFailing, delivery, gate, makeLanes, nOf, settle, sleep, waitFor } from './support/lanes-harness.js';

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
    const failing = alwaysFailing('x');
    // The retry wait outlasts the steps until stop on a busy machine; the sleep outlasts the wait
    // (a timer set later for longer fires later), so a retry left running would be seen.
    const h = makeLanes(failing.handler, { retryDelay: 1_000 });
    h.lanes.push(delivery('s', 1, { maxRetries: 3 }));
    await waitFor(() => h.lanes.stats.retrying === 1, 'the retry wait');
    await h.lanes.stop(1_000);
    await sleep(1_200);
    expect(failing.attempts).toBe(1);
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
      { retryDelay: 1_000 }, // outlasts the steps until stop on a busy machine
    );
    h.lanes.push(delivery('running', 1));
    h.lanes.push(delivery('running', 2));
    h.lanes.push(delivery('retrying', 1, { maxRetries: 3 }));
    await waitFor(() => signal !== undefined && h.lanes.stats.retrying === 1, 'one running, one waiting for its retry');
    const unfinished = await h.lanes.stop(60_000, { abort: false }); // resolves although the attempt runs on
    expect(unfinished.map((d) => `${d.envelope.sessionId}:${nOf(d)}`).sort()).toEqual(['retrying:1', 'running:1', 'running:2']);
    expect(signal?.aborted).toBe(false);
    release.open();
    await sleep(1_200); // past the retry wait: a retry stop left would have run
    expect(attempts).toBe(2); // no retry, nothing after the running one
    expect(h.giveUps).toEqual([]);
  });
});
