/**
 * Test helpers: a real in-memory bus with millisecond retries, and a way to wait until a
 * condition holds.
 */
import { createMessageBus, type MemoryBusOptions, type MemoryMessageBus } from '@woodwork/bus-memory';
import { vi } from 'vitest';

export function memoryBus(options: MemoryBusOptions = {}): MemoryMessageBus {
  return createMessageBus({ retry: { initialDelayMs: 1, maxDelayMs: 5, jitter: 0 }, closeTimeoutMs: 1000, ...options });
}

/** Waits (up to 15 s: a deadline for what never happens, not a margin) until `check` stops throwing. */
export function eventually<T>(check: () => T): Promise<T> {
  return vi.waitFor(check, { timeout: 15_000, interval: 5 });
}

/** Lets every timer and I/O callback queued now run (to show that something did NOT happen). */
export function settle(ms = 30): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Waits (up to 5 s) until the bus holds nothing: no group has a message queued or running, and no
 * publish waits for room, twice in a row across a turn of the event loop (a handler's answer is
 * published a few ticks after it ran). What a test waits for before it moves an injected clock, so
 * every message sent at one time is handled before time moves on, however slow the machine.
 */
export async function quiet(bus: MemoryMessageBus): Promise<void> {
  const idle = async (): Promise<boolean> => {
    const health = await bus.healthCheck();
    return (health.details['waitingPublishes'] ?? 0) === 0 && health.groups.every((g) => g.pending === 0 && g.lag === 0);
  };
  await vi.waitFor(
    async () => {
      for (let i = 0; i < 3; i++) {
        if (!(await idle())) throw new Error('the bus is still busy');
        await new Promise((resolve) => setImmediate(resolve));
      }
    },
    { timeout: 5000, interval: 2 },
  );
}
