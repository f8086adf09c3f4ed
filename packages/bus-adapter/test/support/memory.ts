/**
 * Test helpers: a real in-memory bus with millisecond retries, and a way to wait until a
 * condition holds.
 */
import { createMessageBus, type MemoryBusOptions, type MemoryMessageBus } from '@woodwork/bus-memory';
import { vi } from 'vitest';

export function memoryBus(options: MemoryBusOptions = {}): MemoryMessageBus {
  return createMessageBus({ retry: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 }, closeTimeoutMs: 1000, ...options });
}

/** Waits (up to 5 s) until `check` stops throwing. */
export function eventually<T>(check: () => T): Promise<T> {
  return vi.waitFor(check, { timeout: 5000, interval: 5 });
}

/** Lets every timer and I/O callback queued now run (to show that something did NOT happen). */
export function settle(ms = 30): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
