/**
 * A pause that a polling loop waits on and another caller can cut short: `sleep(ms)` resolves
 * after `ms`, or at once when `wake()` is called (room freed, a stop). One sleeper at a time; a
 * `wake()` with nobody asleep does nothing. Backends' read and pull loops use it.
 */
export class WakeableDelay {
  private wakeUp: (() => void) | undefined;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }
}
