/**
 * Recreating the prefix's streams once they are found missing (deleted from outside, or a server
 * that came back without its data). Every part of a bus that notices (a publish answered "no
 * responders", each partition's puller, the lease) asks here, and they share one attempt.
 *
 * The attempt waits `delayMs` first. nats-server 2.9 removes a deleted stream's files after it has
 * answered the delete: a stream created again under the same name at once can lose the messages
 * it then stores (their PubAcks came back, the stream's state counts them, yet no consumer or
 * direct get finds them). Measured on 2.9.10: the stream recreated within milliseconds of its
 * deletion lost its first messages in about half of the runs; a second later, in none of five.
 */
export const STREAM_RECREATE_DELAY_MS = 1_000;

export class StreamRecreation {
  private running: Promise<void> | undefined;

  constructor(
    private readonly create: () => Promise<unknown>,
    private readonly delayMs = STREAM_RECREATE_DELAY_MS,
  ) {}

  /** Waits `delayMs`, then creates what is missing; concurrent callers share one attempt. */
  recreate(): Promise<void> {
    this.running ??= this.attempt().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async attempt(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    await this.create();
  }
}
