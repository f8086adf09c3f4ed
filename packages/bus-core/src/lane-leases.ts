/**
 * Lease renewal for backends whose server hands a message to another consumer when it stays idle
 * (Redis `XAUTOCLAIM` min-idle-time, JetStream `ack_wait`): every third of the lease, every delivery
 * the lanes hold goes to one `renew` call, so a message this process still holds (queued, running,
 * waiting for its retry or for its acknowledgement) is never claimed elsewhere. The retry backoff
 * waits in the process and is covered by the same renewal: one rule for every backend.
 */

export interface LeaseRenewerHooks<D> {
  renew(deliveries: readonly D[]): void | readonly D[] | Promise<void | readonly D[]>;
  /** Every delivery held now. */
  held(): D[];
  /** The server says these are no longer ours. */
  lost(deliveries: readonly D[]): void;
  failed(error: unknown, deliveries: readonly D[]): void;
}

export class LeaseRenewer<D> {
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private stopped = false;

  constructor(
    private readonly everyMs: number,
    private readonly hooks: LeaseRenewerHooks<D>,
  ) {}

  /** Starts ticking if it is not (called on each push; cheap when already running). */
  ensureRunning(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => this.tick(), this.everyMs);
    // Held deliveries do not keep a process alive by themselves; their handlers and the backend do.
    this.timer.unref?.();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.inFlight) return;
    const batch = this.hooks.held();
    if (batch.length === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    let returned: void | readonly D[] | Promise<void | readonly D[]>;
    try {
      returned = this.hooks.renew(batch);
    } catch (error) {
      this.hooks.failed(error, batch);
      return;
    }
    if (returned && typeof (returned as Promise<unknown>).then === 'function') {
      this.inFlight = true;
      (returned as Promise<void | readonly D[]>).then(
        (lost) => {
          this.inFlight = false;
          if (lost && lost.length > 0 && !this.stopped) this.hooks.lost(lost);
        },
        (error: unknown) => {
          this.inFlight = false;
          this.hooks.failed(error, batch);
        },
      );
      return;
    }
    const lost = returned as readonly D[] | undefined;
    if (lost && lost.length > 0) this.hooks.lost(lost);
  }
}
