/**
 * What a scenario runs with: the harness, buses on the harness's own server (never the shared one;
 * a serverless backend such as memory has none), the server's controls, and a workload helper that
 * publishes through a ledger, tolerating rejections, while consumers record what they get.
 */
import { randomBytes } from 'node:crypto';
import { BusError, createEnvelope, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness, OwnServer } from '@woodwork/bus-conformance/harness';
import { Ledger } from '@woodwork/bus-conformance/ledger';

export const FAST_RETRY = { initialDelayMs: 5, maxDelayMs: 50, multiplier: 2, jitter: 0.2 };

export interface ScenarioContext {
  readonly harness: BusHarness;
  /** The short form (npm test): fewer messages, shorter outages. */
  readonly short: boolean;
  /** The harness's own server for this scenario; undefined for a serverless backend. */
  readonly server: OwnServer | undefined;
  /** Options every bus of the scenario gets: its own prefix, fast retries, the server's address. */
  readonly busOptions: Record<string, unknown>;
  makeBus(extra?: Record<string, unknown>): Promise<MessageBus>;
  log(line: string): void;
}

/** What a scenario hands back; the runner turns it into a table row. */
export interface ScenarioOutcome {
  ledger: Ledger;
  deadLetters: number;
  /** From the end of the fault until every acknowledged publish was delivered; null if never. */
  recoveryMs: number | null;
  /** Acknowledged ids the server itself may have lost (a wipe, its fsync window). */
  serverLost?: ReadonlySet<string>;
  duplicatesStored: number | null;
  /** What the scenario could not do on this backend, said in the report. */
  notes?: string[];
}

export async function withContext<T>(harness: BusHarness, short: boolean, log: (line: string) => void, run: (ctx: ScenarioContext) => Promise<T>): Promise<T> {
  const serverless = !harness.features.serverRestart && !harness.features.crossProcess && !harness.features.persistence;
  if (!harness.ownServer && !serverless) {
    throw new Error(`${harness.name} has a server but gives no ownServer(): the fault runner never uses the shared server`);
  }
  const server = harness.ownServer ? await harness.ownServer() : undefined;
  const busOptions: Record<string, unknown> = {
    streamPrefix: `faults-${randomBytes(4).toString('hex')}`,
    retry: FAST_RETRY,
    closeTimeoutMs: 2_000,
    ...server?.busOptions,
  };
  const buses: MessageBus[] = [];
  const ctx: ScenarioContext = {
    harness,
    short,
    server,
    busOptions,
    async makeBus(extra = {}) {
      const bus = await harness.makeBus({ ...busOptions, ...extra });
      buses.push(bus);
      return bus;
    },
    log,
  };
  try {
    return await run(ctx);
  } finally {
    await Promise.allSettled(buses.map((b) => b.close()));
    await server?.dispose();
  }
}

let counter = 0;

export function envelope(sessionId: string, eventType: string, payload: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): MessageEnvelope {
  return createEnvelope({ sessionId, eventType, componentSource: 'faults', pattern: 'pub_sub', payload: { n: ++counter, ...payload }, ...extra });
}

/** Publishes through the ledger; a `BusError` (server away, queue full) is recorded, not thrown. */
export async function publishTolerant(ledger: Ledger, bus: MessageBus, message: MessageEnvelope): Promise<boolean> {
  try {
    await ledger.publish(bus, message);
    return true;
  } catch (error) {
    if (error instanceof BusError) return false;
    throw error;
  }
}

/** Polls until `condition` holds or `timeoutMs` passes; returns whether it held. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return condition();
}

/**
 * Waits until every acknowledged publish was delivered (or `timeoutMs`), and returns the ms from
 * `since` (the end of the fault) until then, or null when it never happened.
 */
export async function recovery(ledger: Ledger, since: number, timeoutMs: number, groups?: readonly string[]): Promise<number | null> {
  const ok = await waitUntil(() => ledger.allDelivered(groups), timeoutMs);
  return ok ? Math.max(0, Date.now() - since) : null;
}

export async function countDeadLetters(bus: MessageBus): Promise<number> {
  return (await bus.getDeadLetterMessages(100_000)).length;
}

/** Stored copies beyond the first, by the harness's counter; null when the backend gives none. */
export async function duplicatesStored(ctx: ScenarioContext): Promise<number | null> {
  if (!ctx.harness.countStoredCopies) return null;
  const copies = await ctx.harness.countStoredCopies(ctx.busOptions);
  let extra = 0;
  for (const n of copies.values()) if (n > 1) extra += n - 1;
  return extra;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
