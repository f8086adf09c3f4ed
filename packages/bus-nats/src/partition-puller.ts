/**
 * The pull loop of one consumer of a group (one partition, or the private group's one consumer).
 * It pulls only while the group may run the partition (owned, not draining, lease fresh), asks for
 * no more than the partition's share of what the group may hold, and hands what arrives to the
 * group in stream order: messages that arrive together (one socket read) are sorted by stream
 * sequence first, so a batch of redeliveries the server sends in another order still starts oldest
 * first. Before its first pull, and after a reconnect, it hands back deliveries the server counts
 * pending for this consumer that this process never saw (lost-deliveries.ts), so they come first.
 */
import type { Consumer, ConsumerInfo, ConsumerMessages, JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { WakeableDelay, type BusLogger } from '@woodwork/bus-core';

/** Shortest pull the client allows. */
const MIN_PULL_MS = 1_000;
const MAX_PULL_MS = 5_000;

export interface PullerHost {
  js: JetStreamClient;
  stream: string;
  logger: BusLogger;
  group: string;
  /** Whether this process may pull the partition now. */
  mayRun(partition: number | null): boolean;
  /** Longest a pull may wait (lease rules). */
  maxPullMs(): number;
  /** How many more messages of the partition this process may take now. */
  room(partition: number | null): number;
  /** Messages that arrived, in stream order. */
  deliver(partition: number | null, msgs: JsMsg[]): void;
  /** Naks what the consumer has pending but this process never saw; resolves with its info. */
  handBack(puller: PartitionPuller): Promise<ConsumerInfo>;
  /** The connection is up (a request made while it is down waits out its whole timeout). */
  connected(): boolean;
  /** The consumer may be gone (deleted from outside): recreate it. */
  recover(puller: PartitionPuller): Promise<void>;
}

export class PartitionPuller {
  /** Hand back lost deliveries before the next pull (set on takeover and after a reconnect). */
  needsHandBack = true;
  private pullConsumer: Consumer | undefined;
  private iterator: ConsumerMessages | undefined;
  private running = false;
  private stopped = false;
  private readonly delay = new WakeableDelay();
  private pulled: (() => void) | undefined;
  /** Resolves once the first pull request is out (or the puller stopped). */
  readonly firstPull = new Promise<void>((resolve) => (this.pulled = resolve));

  constructor(
    readonly partition: number | null,
    readonly consumer: string,
    private readonly host: PullerHost,
  ) {}

  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    void this.loop().finally(() => {
      this.running = false;
    });
  }

  /** Ends the current pull at once and stops. */
  stop(): void {
    this.stopped = true;
    this.pulled?.();
    this.iterator?.stop();
    this.wake();
  }

  /** The consumer was recreated: get a fresh handle. */
  forget(): void {
    this.pullConsumer = undefined;
  }

  /** The connection came back: hand back lost deliveries, then pull again. */
  reconnected(): void {
    this.needsHandBack = true;
    this.iterator?.stop();
    this.wake();
  }

  wake(): void {
    this.delay.wake();
  }

  private async loop(): Promise<void> {
    const { host } = this;
    let failures = 0;
    while (!this.stopped) {
      if (!host.mayRun(this.partition)) {
        await this.delay.sleep(100);
        continue;
      }
      const room = host.room(this.partition);
      if (room <= 0) {
        await this.delay.sleep(1_000);
        continue;
      }
      try {
        if (this.needsHandBack) {
          const info = await host.handBack(this);
          this.needsHandBack = false;
          this.pullConsumer ??= host.js.consumers.getConsumerFromInfo(info);
        }
        this.pullConsumer ??= await host.js.consumers.get(host.stream, this.consumer);
        const expires = Math.max(MIN_PULL_MS, Math.min(MAX_PULL_MS, host.maxPullMs()));
        const iterator = await this.pullConsumer.fetch({ max_messages: room, expires });
        this.iterator = iterator;
        this.pulled?.();
        this.pulled = undefined;
        const started = Date.now();
        const got = await this.drain(iterator);
        this.iterator = undefined;
        failures = 0;
        // A pull that ended early with nothing: the consumer may be gone (deleted from outside).
        if (got === 0 && Date.now() - started < expires / 2 && !this.stopped && host.mayRun(this.partition)) await host.recover(this);
      } catch (error) {
        this.iterator = undefined;
        if (this.stopped) return;
        failures++;
        host.logger.warn('pull failed; retrying', { group: host.group, consumer: this.consumer, error: String((error as Error)?.message ?? error) });
        // While disconnected, wait for the reconnect (it wakes this loop) instead of asking the server.
        if (host.connected()) await host.recover(this).catch(() => undefined);
        await this.delay.sleep(Math.min(2_000, 50 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  /** Reads one pull's messages, handing them over sorted per arrival burst; returns how many. */
  private async drain(iterator: ConsumerMessages): Promise<number> {
    let got = 0;
    let batch: JsMsg[] = [];
    const flush = (): void => {
      if (batch.length === 0) return;
      const out = batch.length > 1 ? batch.sort((a, b) => a.seq - b.seq) : batch;
      batch = [];
      this.host.deliver(this.partition, out);
    };
    for await (const msg of iterator) {
      got++;
      if (batch.length === 0) setImmediate(flush);
      batch.push(msg);
    }
    flush();
    return got;
  }
}
