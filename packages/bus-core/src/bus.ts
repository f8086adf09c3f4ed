/**
 * The `MessageBus` contract. Every backend (memory, Redis Streams, NATS JetStream) implements it and
 * passes the one conformance suite (`@woodwork/bus-conformance`), so components behave the same on
 * a laptop and in a cluster.
 */
import type { EnvelopeInit, JsonObject, MessageEnvelope } from './envelope.js';
import type { DeadLetterFilter, DeadLetterRecord, PurgeResult, RedriveResult } from './dead-letters.js';
import type { HealthReport } from './health.js';

export interface PublishResult {
  messageId: string;
  /** True when an `exactly_once` message with this id was already accepted within the dedupe window. */
  duplicate: boolean;
}

export interface DeliveryContext {
  /**
   * Fires, with the reason as its `reason`, when the handler timed out (`HandlerTimeoutError`), its
   * session was deleted (`SessionDeletedError`), the bus is closing (`BusClosedError`), or another
   * consumer took the message over (`LeaseLostError`).
   */
  signal: AbortSignal;
  /** 1 for the first attempt; the envelope's `retryCount` is `attempt - 1`. */
  attempt: number;
  group: string;
  subscriptionId: string;
}

/**
 * A handler is done when its promise resolves. A throw or a rejection of any value, or a timeout, is
 * a failed attempt (retried, then dead-lettered). An `UnrecoverableError` (any error whose `code` is
 * `UNRECOVERABLE`) is dead-lettered at once, without retries, the record keeping its `cause`. Each
 * attempt gets its own envelope: changing it changes nothing for other groups, later attempts or the
 * dead letter.
 */
export type MessageHandler<P extends object = JsonObject> = (envelope: MessageEnvelope<P>, context: DeliveryContext) => unknown;

export interface SubscribeOptions {
  /** See only this session's messages. */
  sessionId?: string;
  /**
   * The component this subscription belongs to: it receives `point_to_point` / `stream` messages
   * whose `componentTarget` is this id, and its group is durable.
   */
  componentId?: string;
  /** Explicit group name; replicas with the same group share its work. Durable. */
  group?: string;
  /**
   * Attempts this subscription runs at once (different sessions), a bound each replica of a group
   * keeps for itself. Default: the bus's `concurrency`.
   */
  concurrency?: number;
  /** An attempt running longer fails with `HandlerTimeoutError` and its signal aborts. */
  handlerTimeoutMs?: number;
  /** Only messages targeted at `componentId` (no pub_sub broadcasts). Requires `componentId`. */
  targetedOnly?: boolean;
  /**
   * Watch without taking part (tools such as `woodwork-bus tail`): a private group that receives
   * every message matching the pattern (and session), targeted ones included, while the target's
   * own group still gets each of them, and a target that has not subscribed yet still finds its
   * messages waiting. Cannot be combined with `componentId`, `group` or `targetedOnly`.
   */
  observe?: boolean;
  /**
   * With `componentId` or `group`: `false` makes the group end with its last subscription (removed
   * on `unsubscribe` / `close`, like a private group) instead of outliving it. Default `true`.
   * For per-instance addresses (reply channels) that nobody will come back to.
   */
  durable?: boolean;
}

export interface MessageBus {
  /** `memory`, `redis`, `nats`. */
  readonly backend: string;

  /**
   * Validates the envelope (a `MessageEnvelope`, or the fields to build one with the design's
   * defaults; `maxRetries` defaults to the bus's config) and hands it to the backend.
   *
   * Resolves only when the backend has accepted the message (memory: queued for every group it
   * routes to; Redis: XADD answered; NATS: PubAck received). A backend that buffers while its server
   * is away keeps the promise pending until the server accepts, and rejects when its buffer is full
   * or the publish deadline passes. Rejects with `InvalidMessageError` (nothing sent),
   * `QueueFullError`, `BackendUnavailableError` or `BusClosedError`; a failure is never silent.
   *
   * Routing: `pub_sub` reaches every group whose pattern matches the event type. `point_to_point`
   * and `stream` with a `componentTarget` reach only the groups of subscriptions made with that
   * `componentId` (one replica of each handles it); waiting, bounded, until the target subscribes.
   * Untargeted `point_to_point` / `stream` messages route like `pub_sub`.
   * `exactly_once` messages are deduplicated by `messageId` within the dedupe window.
   */
  publish<P extends object = JsonObject>(envelope: MessageEnvelope<P> | EnvelopeInit<P>): Promise<PublishResult>;

  /**
   * Subscribes `handler` to an exact event type or `'*'` (every type, including types first
   * published later). Returns the subscription id.
   *
   * Groups: replicas sharing a group share its work, one replica per message. The default group is
   * the `componentId` (plus the pattern, and the session when bound), and is durable: a restarted
   * component continues where it stopped. Without `componentId` or `group` the subscription has a
   * private group starting now, removed on `unsubscribe` / `close`. A new group never replays
   * pub_sub history; a target's waiting messages are delivered when it subscribes. No handler runs
   * before the returned promise has resolved (a handler may use the subscription id).
   *
   * Delivery: at least once. Within a group one session's messages run one at a time in publish
   * order; the next starts when the previous has settled: succeeded and been acknowledged, or been
   * dead-lettered (an `at_most_once` message is acknowledged before its handler runs). Different
   * sessions run in parallel, each replica up to its `concurrency`. A failed attempt is retried after
   * exponential backoff with jitter, `maxRetries + 1` attempts in all (`at_most_once`: one), then
   * dead-lettered once.
   *
   * Errors: a pattern that is neither `'*'` nor an event type rejects with `InvalidMessageError`
   * (field `eventPattern`, the event-type rule); every bad option, names included (`sessionId`,
   * `componentId`, `group`: 1-128 letters, digits, `_`, `-`), a handler that is not a function and a
   * group asked for with another spec than it has reject with `InvalidConfigError` naming its key.
   */
  subscribe<P extends object = JsonObject>(eventPattern: string, handler: MessageHandler<P>, options?: SubscribeOptions): Promise<string>;

  /**
   * Detaches the subscription: no new deliveries start on it; attempts already running finish
   * (they are not aborted, and unsubscribe does not wait for them: a handler may unsubscribe its
   * own subscription). A durable group keeps its messages for its next replica. A private group
   * ends with its one subscription: what it had not delivered is dropped, and a running attempt
   * that fails is not retried. Resolves false for an unknown id.
   */
  unsubscribe(subscriptionId: string): Promise<boolean>;

  /** Optional and idempotent: prepares a session's storage. */
  createSessionQueue(sessionId: string): Promise<void>;

  /**
   * Removes everything the session left: waiting and pending messages in every group and target
   * queue, running attempts (their signal aborted with `SessionDeletedError`, outcome ignored),
   * retries, and its dead letters. A publish of
   * the session still waiting for room (bounded buffers) is accepted and removed with it. A later
   * publish to the session starts it afresh.
   */
  deleteSessionQueue(sessionId: string): Promise<void>;

  /** Dead-letter records, oldest first, at most `limit` (default 100). */
  getDeadLetterMessages(limit?: number, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<DeadLetterRecord[]>;

  /**
   * Sends matching records back to their own group (not to others) with a fresh attempt count,
   * and removes them. Idempotent: a record already redriven or purged is not sent again.
   */
  redriveDeadLetters(filter?: DeadLetterFilter): Promise<RedriveResult>;

  /** Removes matching records (all without a filter). */
  purgeDeadLetters(filter?: DeadLetterFilter): Promise<PurgeResult>;

  /** Status, the design's metrics, and pending / lag per group. Never rejects for a down server. */
  healthCheck(): Promise<HealthReport>;

  /**
   * Stops taking work, aborts running handlers' signals and waits up to `closeTimeoutMs` for them
   * (one that still succeeds is acknowledged), then releases every connection and timer. Private
   * groups are removed. Every call afterwards rejects with `BusClosedError`. Idempotent.
   */
  close(): Promise<void>;
}
