/**
 * Remembers message ids for a time window (the `exactly_once` dedupe), at most `maxIds` of them.
 * Entries mostly expire in insertion order, so one sweep from the oldest end keeps the map bounded
 * by the window (an entry remembered until an earlier time than one before it waits for that one's
 * sweep, but `has` checks its own expiry); past `maxIds` the oldest are forgotten early (and
 * counted), so a burst of unique ids within one window cannot grow it without bound.
 */
export class DedupeWindow {
  private readonly expiresAt = new Map<string, number>();
  /** Ids forgotten before their window passed, to stay within `maxIds`. */
  evicted = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxIds: number = Number.POSITIVE_INFINITY,
  ) {}

  has(id: string, now = Date.now()): boolean {
    this.sweep(now);
    const expiry = this.expiresAt.get(id);
    return expiry !== undefined && expiry > now;
  }

  /** When the id is forgotten (epoch ms), or undefined when it is not remembered now. */
  expiryOf(id: string, now = Date.now()): number | undefined {
    const expiry = this.expiresAt.get(id);
    return expiry !== undefined && expiry > now ? expiry : undefined;
  }

  remember(id: string, now = Date.now()): void {
    if (this.windowMs <= 0) return;
    this.rememberUntil(id, now + this.windowMs);
  }

  /** Remembers the id until `expiresAt` (epoch ms), whatever the window. */
  rememberUntil(id: string, expiresAt: number): void {
    this.expiresAt.delete(id);
    this.expiresAt.set(id, expiresAt);
    while (this.expiresAt.size > this.maxIds) {
      this.expiresAt.delete(this.expiresAt.keys().next().value as string);
      this.evicted++;
    }
  }

  get size(): number {
    return this.expiresAt.size;
  }

  /** Forgets the ids whose window has passed (also done on each `has`). */
  sweep(now = Date.now()): void {
    for (const [id, expiry] of this.expiresAt) {
      if (expiry > now) return;
      this.expiresAt.delete(id);
    }
  }
}
