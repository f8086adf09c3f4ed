/**
 * The interface between `SessionLanes` (the delivery engine every backend shares) and a backend:
 * what a delivery is, who runs it, the hooks that settle it on the server, and the observers that
 * only watch. A backend that redelivers after a crash (Redis Streams, NATS JetStream) builds on
 * these rules; memory uses the subset it needs.
 *
 * Two kinds of callback, kept apart on purpose:
 * - **Settling hooks** (`acknowledge`, `deadLetter`, `beginAttempt`) change what the server holds.
 *   A throw or rejection is taken seriously: the lane is held (its session's next delivery does not
 *   start) and the hook is called again after the retry backoff, until it succeeds, the lease is
 *   lost, the session is deleted or the lanes stop.
 * - **Observers** (`LaneObserver`: metrics, logs, admission of waiting publishes) only watch. Their
 *   throws are caught and ignored (counted in `stats.observerErrors`), so a broken logger can never
 *   stall a session, write a dead letter twice or crash the process.
 */
import type { MessageEnvelope } from './envelope.js';
import type { MessageHandler } from './bus.js';

export interface LaneDelivery {
  readonly envelope: MessageEnvelope;
  /**
   * Handler starts already counted, taken from the server where it keeps them (a start that crashed
   * its process counts). The lanes raise it when they start an attempt (after `beginAttempt`).
   */
  attemptsMade: number;
  /** Seconds since the epoch of the first failed attempt, if any. */
  firstFailedAt?: number;
  /**
   * The server's id of this delivery (Redis entry id, JetStream stream sequence). `push` is
   * idempotent by it: a redelivery of a delivery the lanes hold only raises `attemptsMade` of the
   * copy they hold. Without it every push is a new delivery.
   */
  readonly deliveryId?: string;
}

/** A subscription (replica) that runs attempts; the lanes count its running attempts. */
export interface LaneConsumer {
  readonly subscriptionId: string;
  readonly group: string;
  readonly handler: MessageHandler;
  /** 0: no timeout. */
  readonly handlerTimeoutMs: number;
  /** Attempts this consumer runs at once (on different sessions). */
  readonly concurrency: number;
}

/** Why a delivery is dead-lettered, and how many handler starts it had. */
export interface LaneFailure {
  /** The last attempt's error (a thrown value of any kind), or the lanes' own reason. */
  readonly error: unknown;
  /** Handler starts made. */
  readonly attempts: number;
  /**
   * `exhausted`: every allowed attempt failed (`at_most_once`: its one). `unrecoverable`: the
   * handler threw an `UnrecoverableError`. `exhausted-before-start`: pushed with every attempt
   * already used (its handler crashed processes or lost its lease each time): never run here.
   */
  readonly reason: 'exhausted' | 'unrecoverable' | 'exhausted-before-start';
}

/** What `acknowledge` is called for. */
export type AcknowledgeReason =
  /** The handler succeeded (at-least-once deliveries). */
  | 'handled'
  /** Before the handler of an `at_most_once` delivery runs: a crash then loses it, as promised. */
  | 'at-most-once'
  /** Its dead-letter record was written. */
  | 'dead-lettered';

export interface SessionLanesHooks<D extends LaneDelivery> {
  /**
   * SETTLING. Removes the delivery from the server's pending list. Called once per delivery and
   * reason; a failure holds the lane (the session's next delivery would otherwise overtake the
   * redelivery) and is retried with the retry backoff until `stop()`.
   */
  acknowledge(delivery: D, reason: AcknowledgeReason): void | Promise<void>;
  /**
   * SETTLING. Writes the dead-letter record (then `acknowledge(delivery, 'dead-lettered')` follows).
   * Retried with backoff while it fails; once it succeeded it is never called again for the
   * delivery, whatever fails after it.
   */
  deadLetter(delivery: D, failure: LaneFailure): void | Promise<void>;
  /**
   * SETTLING, optional. Runs before each handler start and may be async; the handler waits for it.
   * `attempt` is the number this start will have (`attemptsMade + 1`): a backend that counts starts
   * on the server records it here. If it throws or rejects, the handler does not run, the attempt
   * is not counted, the delivery stays held (pending on the server) and the start is tried again
   * after the retry backoff. NATS tells the server the message is in progress here.
   */
  beginAttempt?(delivery: D, attempt: number, consumer: LaneConsumer): void | Promise<void>;
  /**
   * LEASES, optional (with `SessionLanesOptions.leaseMs`). Called every third of the lease with
   * every delivery the lanes hold (queued, starting, running, waiting for a retry, waiting to
   * settle), in one batch, so the server never hands a held message to another consumer. Resolves
   * with the deliveries whose lease is lost (another consumer owns them now): each is dropped
   * without acknowledging it, its running attempt aborted (`LeaseLostError`) and its outcome
   * ignored. A throw or rejection loses nothing (reported to `renewFailed`; the next tick tries
   * again). A renewal still running when the next is due makes the lanes skip that tick.
   */
  renew?(deliveries: readonly D[]): void | readonly D[] | Promise<void | readonly D[]>;
  /**
   * POSITION, optional: negative when `a` was published before `b` in their stream. A delivery
   * pushed (claimed) behind newer deliveries of its session that the lanes hold goes ahead of them;
   * if a newer one has already started, the pushed one goes right after it and `outOfOrder` is
   * reported. Without it, push order is the order.
   */
  comparePositions?(a: D, b: D): number;
  /** Delay before the next try after `failures` failed ones (attempts, starts or settling hooks). */
  retryDelayMs(failures: number): number;
  /**
   * The envelope an attempt's handler gets (default: the delivery's, with `retryCount` set). A
   * backend without a wire (memory) decodes a fresh copy here, so a handler that changes its
   * envelope's objects changes nothing for other groups, later attempts or the dead letter.
   */
  envelopeFor?(delivery: D, attempt: number): MessageEnvelope;
}

/**
 * OBSERVERS: metrics, logs, admission. Every method is optional; a throw is caught, counted in
 * `stats.observerErrors` and otherwise ignored: it never changes delivery.
 */
export interface LaneObserver<D extends LaneDelivery> {
  /** The handler succeeded (before its acknowledgement). */
  handled?(delivery: D, durationMs: number, consumer: LaneConsumer): void;
  /** One attempt failed (threw, rejected, timed out). */
  attemptFailed?(delivery: D, error: unknown, attempt: number, durationMs: number): void;
  /** The dead-letter record was written. */
  deadLettered?(delivery: D, failure: LaneFailure): void;
  /** A settling hook failed; `tries` counts its failures for this delivery. */
  settleFailed?(delivery: D, hook: 'acknowledge' | 'deadLetter' | 'beginAttempt', error: unknown, tries: number): void;
  /** `renew` threw or rejected. */
  renewFailed?(error: unknown, deliveries: readonly D[]): void;
  /** The delivery's lease was lost: dropped without acknowledging. */
  leaseLost?(delivery: D): void;
  /** `pushed` is older than `started`, which already began: `pushed` runs right after it. */
  outOfOrder?(pushed: D, started: D): void;
  /**
   * The delivery left the lanes (settled, lease lost, or the aborted attempt of a deleted session
   * ended), so `size` is already lower: a backend with bounded queues admits waiting publishes here.
   * Not called for deliveries `abortSession` / `stop` return.
   */
  left?(delivery: D): void;
}

export interface SessionLanesOptions {
  /**
   * The server's lease (claim idle time, ack wait) in ms; with a `renew` hook the lanes renew held
   * deliveries every third of it. 0 or absent: no renewal.
   */
  leaseMs?: number;
}

export interface LaneStats {
  /** Held, not started (including a head whose retry is due). */
  queued: number;
  /** Attempts starting (`beginAttempt` running) or running. */
  running: number;
  /** Heads waiting for a retry (of the handler or of `beginAttempt`). */
  retrying: number;
  /** Heads whose acknowledgement or dead-letter record is being written, or waits to be retried. */
  settling: number;
  /** Settling-hook failures not yet overcome (deliveries whose ack or dead letter keeps failing). */
  failingSettles: number;
  /** Observer throws caught and ignored since creation. */
  observerErrors: number;
}
