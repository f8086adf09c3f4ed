/**
 * How long to wait before the next attempt: exponential backoff with jitter, capped.
 */
export interface RetryBackoff {
  /** Delay before the 2nd attempt, in ms. */
  initialDelayMs: number;
  /** Cap on the base delay, in ms; jitter then spreads around it (up to `maxDelayMs * (1 + jitter)`). */
  maxDelayMs: number;
  /** Growth per attempt. */
  multiplier: number;
  /** 0..1: the delay is spread uniformly over +-jitter of itself. */
  jitter: number;
}

export const DEFAULT_RETRY_BACKOFF: RetryBackoff = Object.freeze({
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
});

/** Delay after the `failedAttempts`-th failed attempt (1-based). */
export function retryDelayMs(backoff: RetryBackoff, failedAttempts: number, random: () => number = Math.random): number {
  const base = Math.min(backoff.maxDelayMs, backoff.initialDelayMs * backoff.multiplier ** Math.max(0, failedAttempts - 1));
  const spread = base * backoff.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}
