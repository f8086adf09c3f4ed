/**
 * Waiting in tests with a deadline, so a missing delivery fails instead of hanging: for a condition
 * to hold, for a promise to settle, and for parties that must run at the same time. The deadlines
 * are generous: they catch what never happens, not what a busy machine makes slow.
 */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves when `count` parties have arrived; proves they ran at the same time. */
export function barrier(count: number): { arrive(): Promise<void> } {
  let arrived = 0;
  let release!: () => void;
  const all = new Promise<void>((resolve) => (release = resolve));
  return {
    arrive() {
      if (++arrived === count) release();
      return all;
    },
  };
}

/** Rejects when `promise` has not settled in time, naming what was awaited. */
export function within<T>(what: string, promise: Promise<T>, timeoutMs = 15_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
