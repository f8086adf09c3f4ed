/**
 * A real in-memory bus with millisecond retries, and one per test for files whose every test
 * runs on a fresh bus.
 */
import { createMessageBus, type MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, beforeEach } from 'vitest';

export function makeBus(maxRetries = 2): MemoryMessageBus {
  return createMessageBus({ maxRetries, retry: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 }, closeTimeoutMs: 1000 });
}

/**
 * Gives each test of the file a fresh bus, closed after it: `busPerTest(2, (b) => (bus = b))` keeps
 * the file's `bus` variable pointing at the current test's bus.
 */
export function busPerTest(maxRetries: number, made: (bus: MemoryMessageBus) => void): void {
  let bus: MemoryMessageBus | undefined;
  beforeEach(() => {
    bus = makeBus(maxRetries);
    made(bus);
  });
  afterEach(async () => {
    await bus?.close();
  });
}
