/**
 * One open in flight per key: what a bus does when the first subscription of a group opens the
 * group (registers it, creates its consumers) while other subscriptions of the same group arrive.
 * Calls made while a key opens share its promise; once it settles the key is free again, so a failed
 * open is tried afresh by the next call. `opened` hears a success before anyone awaiting the promise
 * resumes, so the caller's table already holds the value then.
 */
export class OnceOpening<V> {
  private readonly inFlight = new Map<string, Promise<V>>();

  open(key: string, make: () => Promise<V>, opened: (value: V) => void): Promise<V> {
    const current = this.inFlight.get(key);
    if (current) return current;
    const opening = make();
    this.inFlight.set(key, opening);
    opening.then(
      (value) => {
        this.inFlight.delete(key);
        opened(value);
      },
      () => this.inFlight.delete(key),
    );
    return opening;
  }

  /** True while `key` opens. */
  has(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Resolves once every open in flight now has settled (closing waits for them). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight.values()]);
  }
}
