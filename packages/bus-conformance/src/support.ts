/**
 * Helpers the suites share: random names, waiting for a condition, a bus pool closed after each
 * test, a harness's own server per test, "nothing else arrived" checks that end on a sentinel, and
 * upper timing bounds scaled by the harness's slack.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, expect } from 'vitest';
import { createEnvelope, type BusOptions, type EnvelopeInit, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import { resolveTiming, type BusHarness, type OwnServer } from './harness.js';
import { sleep, waitFor } from './wait.js';

export { Ledger, type LedgerReport } from './ledger.js';
export { sleep, waitFor } from './wait.js';

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}


export const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 40, multiplier: 2, jitter: 0.2 };

/** Makes buses with a random prefix and fast retries, and closes them all after each test. */
export function useBuses(harness: BusHarness) {
  const open: MessageBus[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((bus) => bus.close()));
  });
  return {
    async make(options: BusOptions & Record<string, unknown> = {}): Promise<MessageBus> {
      const bus = await harness.makeBus({
        streamPrefix: randomName('cf'),
        retry: FAST_RETRY,
        closeTimeoutMs: 2_000,
        ...options,
      });
      open.push(bus);
      return bus;
    },
  };
}

/**
 * A server of the harness's own for the current test, disposed (stopped by PID, folder deleted)
 * after it. Only tests that kill, pause or restart a server use it (see `OWN_SERVER_TESTS`).
 */
export function useOwnServer(harness: BusHarness) {
  const started: OwnServer[] = [];
  afterEach(async () => {
    await Promise.allSettled(started.splice(0).map((server) => server.dispose()));
  });
  return async (): Promise<OwnServer> => {
    if (!harness.ownServer) throw new Error(`${harness.name} declares serverRestart but gives no ownServer()`);
    const server = await harness.ownServer();
    started.push(server);
    return server;
  };
}

let counter = 0;

/** An envelope with sensible test defaults. */
export function message(init: Partial<EnvelopeInit> & { sessionId: string; eventType: string }): MessageEnvelope {
  counter++;
  return createEnvelope({ componentSource: 'conformance', pattern: 'pub_sub', payload: { n: counter }, ...init });
}

/**
 * Ends a "nothing (else) arrived" check on evidence, not on a guess: `sendSentinel` publishes a
 * message last (behind whatever must not arrive), the check waits until `arrived()` sees it, then
 * watches the harness's `quietMs` more. A misrouted message that arrives later than a fixed sleep
 * still fails the assertions that follow.
 */
export async function quietAfterSentinel(
  harness: BusHarness,
  sendSentinel: () => Promise<unknown>,
  arrived: () => boolean,
  what = 'the sentinel',
): Promise<void> {
  await sendSentinel();
  await waitFor(arrived, what);
  await sleep(resolveTiming(harness).quietMs);
}

/** Waits the harness's quiet period (where no sentinel can route: after close, after a delete). */
export function quietPeriod(harness: BusHarness, atLeastMs = 0): Promise<void> {
  return sleep(Math.max(atLeastMs, resolveTiming(harness).quietMs));
}

/** Upper timing bound with the harness's slack; lower bounds are exact and need no helper. */
export function upperBound(harness: BusHarness, ms: number): number {
  return ms + resolveTiming(harness).slackMs;
}

/** Asserts `lowMs <= valueMs <= highMs + slack`, naming `what`. */
export function expectWithin(harness: BusHarness, valueMs: number, lowMs: number, highMs: number, what: string): void {
  expect(valueMs, `${what}: ${valueMs} ms, expected >= ${lowMs}`).toBeGreaterThanOrEqual(lowMs);
  const high = upperBound(harness, highMs);
  expect(valueMs, `${what}: ${valueMs} ms, expected <= ${highMs} + slack (${high})`).toBeLessThanOrEqual(high);
}

/** Counts attempts running at once, overall and per key (session, replica...). */
export class Concurrency {
  now = 0;
  max = 0;
  private readonly perKey = new Map<string, number>();
  /** Times a key had two attempts at once. */
  overlaps = 0;

  enter(key = ''): void {
    this.now++;
    this.max = Math.max(this.max, this.now);
    const n = (this.perKey.get(key) ?? 0) + 1;
    if (n > 1) this.overlaps++;
    this.perKey.set(key, n);
  }

  leave(key = ''): void {
    this.now--;
    this.perKey.set(key, (this.perKey.get(key) ?? 1) - 1);
  }

  /** Runs `work` counted under `key`. */
  async around<T>(key: string, work: () => Promise<T> | T): Promise<T> {
    this.enter(key);
    try {
      return await work();
    } finally {
      this.leave(key);
    }
  }
}

/** Resolves when `release()` is called; `promise` is what a handler awaits to block. */
export function gate(): { promise: Promise<void>; release: () => void } {
  let release!: () => void;
  const promise = new Promise<void>((resolve) => (release = resolve));
  return { promise, release };
}
