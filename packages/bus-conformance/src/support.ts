/**
 * Helpers the suites share: random names, waiting for a condition, a bus pool closed after each
 * test, and the ledger that checks delivery outcomes.
 */
import { randomBytes } from 'node:crypto';
import { afterEach } from 'vitest';
import { createEnvelope, type BusOptions, type EnvelopeInit, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import type { BusHarness } from './harness.js';

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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

let counter = 0;

/** An envelope with sensible test defaults. */
export function message(init: Partial<EnvelopeInit> & { sessionId: string; eventType: string }): MessageEnvelope {
  counter++;
  return createEnvelope({ componentSource: 'conformance', pattern: 'pub_sub', payload: { n: counter }, ...init });
}

/**
 * A ledger of one run: what was acknowledged as published, what each handler saw. `check()` says
 * whether every acknowledged publish was delivered, nothing unexpected arrived, and per-session
 * order held (of first deliveries); duplicates are counted, not failed.
 */
export class Ledger {
  readonly published: MessageEnvelope[] = [];
  readonly delivered: MessageEnvelope[] = [];

  async publish(bus: MessageBus, envelope: MessageEnvelope): Promise<void> {
    await bus.publish(envelope);
    this.published.push(envelope);
  }

  record(envelope: MessageEnvelope): void {
    this.delivered.push(envelope);
  }

  get distinctDelivered(): number {
    return new Set(this.delivered.map((e) => e.messageId)).size;
  }

  check(): { missing: string[]; unexpected: string[]; duplicates: number; outOfOrder: string[] } {
    const publishedIds = new Set(this.published.map((e) => e.messageId));
    const seen = new Set<string>();
    const unexpected: string[] = [];
    let duplicates = 0;
    const firstOrder = new Map<string, string[]>();
    for (const e of this.delivered) {
      if (!publishedIds.has(e.messageId)) unexpected.push(e.messageId);
      if (seen.has(e.messageId)) {
        duplicates++;
        continue;
      }
      seen.add(e.messageId);
      const list = firstOrder.get(e.sessionId) ?? [];
      list.push(e.messageId);
      firstOrder.set(e.sessionId, list);
    }
    const missing = this.published.filter((e) => !seen.has(e.messageId)).map((e) => e.messageId);
    const outOfOrder: string[] = [];
    const publishOrder = new Map<string, string[]>();
    for (const e of this.published) {
      const list = publishOrder.get(e.sessionId) ?? [];
      list.push(e.messageId);
      publishOrder.set(e.sessionId, list);
    }
    for (const [sessionId, order] of firstOrder) {
      const expected = (publishOrder.get(sessionId) ?? []).filter((id) => seen.has(id));
      if (expected.join() !== order.join()) outOfOrder.push(sessionId);
    }
    return { missing, unexpected, duplicates, outOfOrder };
  }
}
