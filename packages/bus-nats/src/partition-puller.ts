/**
 * The pull requests of one consumer of a group (one partition, or the private group's one
 * consumer), answered on the puller's own inbox (pull-inbox.ts) while the group may run the
 * partition (owned, not draining, lease fresh). A new request goes out while the open ones ask for
 * at most half a batch, for no more than the partition's share of what the group may hold, so
 * messages keep flowing without a gap between pulls. What arrives is handed to the group in stream
 * order: messages that arrive together (one socket read) are sorted by stream sequence first, so a
 * batch of redeliveries the server sends in another order still starts oldest first. Before its
 * first pull, and after a reconnect, it hands back deliveries the server counts pending for this
 * consumer that this process never saw (lost-deliveries.ts), so they come first.
 *
 * When the group may no longer run the partition (it is to be drained and handed over, or the lease
 * is not fresh), the inbox is closed at once: the server drops the requests still waiting, so no
 * message of the partition comes here after that, and `hasLiveRequests` turns false. A request also
 * ends when it got its batch, when the server says so (408 expired, 409 refused), or when its local
 * deadline (its expiry plus a margin) passed. A request the server never answered means its
 * consumer may be gone without a word (deleted with its stream: nothing answers a pull request for
 * a consumer that does not exist), so the puller then checks the consumer and recreates it if missing.
 */
import type { ConsumerInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { WakeableDelay, type BusLogger } from '@woodwork/bus-core';
import { PullInbox, type InboxReader } from './pull-inbox.js';
import type { PulledMessage } from './pulled-message.js';

/** Shortest and longest server-side wait of one pull request. */
const MIN_PULL_MS = 1_000;
const MAX_PULL_MS = 5_000;
/** A request with no end seen this long after its expiry is taken as gone (lost with a connection). */
const REQUEST_MARGIN_MS = 1_000;
/** Open requests per consumer. */
const MAX_OPEN_REQUESTS = 4;
const RESOLVED = Promise.resolve();

export interface PullerHost {
  nc: NatsConnection;
  stream: string;
  logger: BusLogger;
  group: string;
  /** Whether this process may pull the partition now. */
  mayRun(partition: number | null): boolean;
  /** Longest a pull may wait (lease rules). */
  maxPullMs(): number;
  /** How many more messages of the partition this process may take now, and its share at most. */
  room(partition: number | null): { free: number; share: number };
  /** Largest batch of one pull request. */
  fetchBatch: number;
  /** Messages that arrived, in stream order. */
  deliver(partition: number | null, msgs: PulledMessage[]): void;
  /** Naks what the consumer has pending but this process never saw; resolves with its info. */
  handBack(puller: PartitionPuller): Promise<ConsumerInfo>;
  /** The connection is up (a request made while it is down waits out its whole timeout). */
  connected(): boolean;
  /** The consumer may be gone (deleted from outside): recreate it. */
  recover(puller: PartitionPuller): Promise<void>;
  /** The last open request of the partition ended. */
  requestsEnded(partition: number | null): void;
}

interface OpenRequest {
  readonly id: string;
  remaining: number;
  readonly deadline: number;
}

export class PartitionPuller implements InboxReader {
  /** Hand back lost deliveries before the next pull (set on takeover and after a reconnect). */
  needsHandBack = true;
  private inbox: PullInbox | undefined;
  private readonly open: OpenRequest[] = [];
  private requestNumber = 0;
  private running = false;
  private stopped = false;
  private readonly delay = new WakeableDelay();
  private pulled: (() => void) | undefined;
  /** Resolves once the first pull request is out (or the puller stopped). */
  readonly firstPull = new Promise<void>((resolve) => (this.pulled = resolve));
  /** The server refused a request (409) or the consumer is missing: wait this long before the next. */
  private pauseUntil = 0;
  private recovering = false;
  private burst: PulledMessage[] = [];
  private readonly flushBurst = (): void => this.flush();

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

  /** Stops pulling; what its open requests still bring is dropped (the partition is not ours). */
  stop(): void {
    this.stopped = true;
    this.closeInbox();
    this.pulled?.();
    this.wake();
  }

  /** The connection came back: hand back lost deliveries, then pull again. */
  reconnected(): void {
    this.needsHandBack = true;
    // Requests of the old connection: a new inbox, so none of them can deliver here any more.
    this.closeInbox();
    this.wake();
  }

  wake(): void {
    this.delay.wake();
  }

  /**
   * The group dropped a message that arrived while it could not run the partition (its lease not
   * fresh for a moment, or the partition draining). The message stays pending on the server; a
   * later one of its session must not run before it. So the inbox closes at once (nothing more
   * arrives from the open requests) and, before its next pull, this puller hands back what the
   * consumer has pending that the group does not hold, in stream order: the dropped message comes
   * back first, not after ack_wait.
   */
  droppedArrival(): void {
    if (this.stopped) return;
    this.closeInbox();
    this.wake();
  }

  /** Whether the server may still send messages to this puller's requests. */
  hasLiveRequests(): boolean {
    this.dropExpired();
    return this.open.length > 0;
  }

  received(msg: PulledMessage): void {
    // The server fills requests in the order they came.
    const request = this.open[0];
    if (request && --request.remaining <= 0) this.close(request);
    // The client parses one socket read synchronously, so a microtask runs once the whole read is
    // in; not `setImmediate`, which waits for every other read of the loop turn (under a backlog,
    // dozens of 64 KiB reads) before the first message of the first one could start.
    if (this.burst.length === 0) void RESOLVED.then(this.flushBurst);
    this.burst.push(msg);
  }

  status(id: string, code: number, description: string): void {
    const request = this.open.find((r) => r.id === id);
    if (code === 100) return; // an idle heartbeat (not asked for)
    if (request) this.close(request);
    if (code === 503 || (code === 409 && /deleted/i.test(description))) {
      // No such consumer (deleted from outside, or a server that lost its data).
      this.pauseUntil = Date.now() + 250;
      this.recoverConsumer();
    } else if (code === 409) {
      this.host.logger.warn('pull request refused', { group: this.host.group, consumer: this.consumer, status: `${code} ${description}` });
      this.pauseUntil = Date.now() + 250;
    }
    this.wake();
  }

  /** Checks the consumer and recreates it when it is gone (at most one check at a time). */
  private recoverConsumer(): void {
    if (this.stopped || this.recovering || !this.host.connected()) return;
    this.recovering = true;
    void this.host
      .recover(this)
      .catch((error: unknown) => this.host.logger.warn('recreating a consumer failed; retrying', { consumer: this.consumer, error: String(error) }))
      .finally(() => {
        this.recovering = false;
        this.wake();
      });
  }

  private close(request: OpenRequest): void {
    const at = this.open.indexOf(request);
    if (at >= 0) this.open.splice(at, 1);
    if (this.open.length === 0) this.host.requestsEnded(this.partition);
  }

  /**
   * Withdraws the interest: the server drops the open requests. Messages it had already sent to
   * them are not taken here; pending on the server, they are handed back (in order) before this
   * puller pulls again, as after a reconnect.
   */
  private closeInbox(): void {
    if (this.inbox) this.needsHandBack = true;
    this.inbox?.close();
    this.inbox = undefined;
    if (this.open.length > 0) {
      this.open.length = 0;
      this.host.requestsEnded(this.partition);
    }
  }

  private dropExpired(): void {
    const now = Date.now();
    let unanswered = false;
    for (const request of [...this.open]) {
      if (request.deadline >= now) continue;
      this.close(request);
      unanswered = true;
    }
    // The server lets a request expire with a 408; silence may be a consumer that is gone.
    if (unanswered && this.inbox && !this.inbox.closed) this.recoverConsumer();
  }

  /** Hands what arrived together to the group, oldest first. */
  private flush(): void {
    const burst = this.burst;
    this.burst = [];
    if (burst.length > 1) burst.sort((a, b) => a.seq - b.seq);
    if (burst.length > 0) this.host.deliver(this.partition, burst);
    this.wake();
  }

  private async loop(): Promise<void> {
    const { host } = this;
    let failures = 0;
    while (!this.stopped) {
      this.dropExpired();
      if (!host.mayRun(this.partition)) {
        this.closeInbox();
        await this.delay.sleep(100);
        continue;
      }
      if (!host.connected() || this.recovering || Date.now() < this.pauseUntil) {
        await this.delay.sleep(100);
        continue;
      }
      try {
        if (this.needsHandBack) {
          await host.handBack(this);
          this.needsHandBack = false;
        }
        if (this.stopped || !host.mayRun(this.partition)) continue;
        if (this.pullMore()) continue;
        failures = 0;
      } catch (error) {
        if (this.stopped) return;
        failures++;
        host.logger.warn('pull failed; retrying', { group: host.group, consumer: this.consumer, error: String((error as Error)?.message ?? error) });
        // While disconnected, wait for the reconnect (it wakes this loop) instead of asking the server.
        if (host.connected()) await host.recover(this).catch(() => undefined);
        await this.delay.sleep(Math.min(2_000, 50 * 2 ** Math.min(failures, 6)));
        continue;
      }
      const next = this.open.length > 0 ? Math.min(...this.open.map((r) => r.deadline)) - Date.now() : 1_000;
      await this.delay.sleep(Math.max(10, Math.min(1_000, next)));
    }
  }

  /**
   * Sends one more request when the open ones ask for at most half a batch and at least half of
   * what the partition may still take is free (or nothing is open); true when one went out.
   */
  private pullMore(): boolean {
    const { host } = this;
    if (this.open.length >= MAX_OPEN_REQUESTS) return false;
    const coming = this.open.reduce((n, r) => n + r.remaining, 0);
    const { free, share } = host.room(this.partition);
    const batch = Math.min(host.fetchBatch, free - coming);
    if (batch <= 0 || coming > host.fetchBatch / 2) return false;
    if (coming > 0 && batch < Math.max(1, Math.floor(Math.min(host.fetchBatch, share) / 2))) return false;
    const expires = Math.max(MIN_PULL_MS, Math.min(MAX_PULL_MS, host.maxPullMs()));
    const id = (++this.requestNumber).toString(36);
    this.inbox ??= new PullInbox(host.nc, host.stream, this.consumer, this);
    this.open.push({ id, remaining: batch, deadline: Date.now() + expires + REQUEST_MARGIN_MS });
    this.inbox.request(id, batch, expires);
    this.pulled?.();
    this.pulled = undefined;
    return true;
  }
}
