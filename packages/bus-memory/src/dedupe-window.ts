/**
 * Remembers message ids for a time window (the `exactly_once` dedupe). Entries expire in insertion
 * order, so one sweep from the oldest end keeps the map bounded by the window.
 */
export class DedupeWindow {
  private readonly expiresAt = new Map<string, number>();

  constructor(private readonly windowMs: number) {}

  has(id: string, now = Date.now()): boolean {
    this.sweep(now);
    return this.expiresAt.has(id);
  }

  remember(id: string, now = Date.now()): void {
    if (this.windowMs <= 0) return;
    this.expiresAt.delete(id);
    this.expiresAt.set(id, now + this.windowMs);
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
