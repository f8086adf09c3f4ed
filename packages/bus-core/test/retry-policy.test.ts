/**
 * retryDelayMs: exponential growth from initialDelayMs, the maxDelayMs cap on the base delay, and
 * jitter spreading the delay uniformly over +-jitter of it.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_BACKOFF, retryDelayMs, type RetryBackoff } from '../src/index.js';

const noJitter: RetryBackoff = { initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, jitter: 0 };
const LOWEST = (): number => 0;
const MIDDLE = (): number => 0.5;
const HIGHEST = (): number => 1 - Number.EPSILON;

describe('retryDelayMs', () => {
  it('grows by the multiplier from initialDelayMs after the first failure', () => {
    expect([1, 2, 3, 4, 5].map((n) => retryDelayMs(noJitter, n))).toEqual([100, 200, 400, 800, 1600]);
    expect(retryDelayMs({ ...noJitter, multiplier: 3 }, 3)).toBe(900);
    expect(retryDelayMs({ ...noJitter, multiplier: 1 }, 10)).toBe(100);
  });

  it('never goes above maxDelayMs without jitter, however many failures', () => {
    expect(retryDelayMs(noJitter, 6)).toBe(3200);
    expect(retryDelayMs(noJitter, 7)).toBe(5000);
    expect(retryDelayMs(noJitter, 50)).toBe(5000);
    expect(retryDelayMs(noJitter, 10_000)).toBe(5000); // multiplier ** 9999 is Infinity
  });

  it('treats 0 or fewer failures like the first', () => {
    expect(retryDelayMs(noJitter, 0)).toBe(100);
    expect(retryDelayMs(noJitter, -3)).toBe(100);
  });

  it('jitter spreads the (capped) delay over [base - jitter*base, base + jitter*base]', () => {
    const b: RetryBackoff = { initialDelayMs: 1000, maxDelayMs: 10_000, multiplier: 2, jitter: 0.25 };
    expect(retryDelayMs(b, 1, LOWEST)).toBe(750);
    expect(retryDelayMs(b, 1, MIDDLE)).toBe(1000);
    expect(retryDelayMs(b, 1, HIGHEST)).toBe(1250);
    expect(retryDelayMs(b, 2, LOWEST)).toBe(1500);
    expect(retryDelayMs(b, 2, HIGHEST)).toBe(2500);
    // At the cap the spread is around the cap.
    expect(retryDelayMs(b, 20, LOWEST)).toBe(7500);
    expect(retryDelayMs(b, 20, MIDDLE)).toBe(10_000);
  });

  it('with Math.random every delay stays within the jitter bounds, and they vary', () => {
    const b = DEFAULT_RETRY_BACKOFF;
    for (const failures of [1, 2, 5, 9, 30]) {
      const base = Math.min(b.maxDelayMs, b.initialDelayMs * b.multiplier ** (failures - 1));
      const seen = new Set<number>();
      for (let i = 0; i < 200; i++) {
        const delay = retryDelayMs(b, failures);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(base * (1 - b.jitter)));
        expect(delay).toBeLessThanOrEqual(Math.ceil(base * (1 + b.jitter)));
        expect(Number.isInteger(delay)).toBe(true);
        seen.add(delay);
      }
      expect(seen.size).toBeGreaterThan(1);
    }
  });

  it('full jitter (1) can reach 0 but never goes negative; a zero delay stays zero', () => {
    const full: RetryBackoff = { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: 1 };
    expect(retryDelayMs(full, 1, LOWEST)).toBe(0);
    expect(retryDelayMs(full, 1, HIGHEST)).toBe(200);
    expect(retryDelayMs({ ...noJitter, initialDelayMs: 0 }, 5, HIGHEST)).toBe(0);
  });
});
