/**
 * `StreamManager`: ordered chunk streams between components (the design's "Stream Data: Producer →
 * Consumer (ordered chunks with backpressure)"), written only on the core `MessageBus` contract,
 * so it works on every backend.
 *
 * One manager per component per process; replicas of a component each run their own. A manager
 * makes two subscriptions (every event type, targeted messages only; addresses in
 * `stream-address.ts`): its component's group `<component>--streams`, shared with the component's
 * other replicas, where streams are opened (`stream.created`, one replica takes each); and its own
 * group `<component>--streams-<instance>`, which no other manager joins, for everything else. A
 * stream is bound to two managers: the producer's, whose address travels in `stream.created`, and
 * the consumer replica's that accepted it first, whose address travels in `stream.accepted`. So
 * credit and cancels reach the replica that writes, and one replica reads a stream whole: the
 * backend may hand one session's messages to different replicas of a shared group, but never
 * another manager's own group. Within that group the contract keeps a session's messages in
 * publish order, and producers publish them one at a time, so chunks arrive in order. The handler
 * only hands messages to the reader (it never waits for the app), so one slow reader does not hold
 * up other streams of its session; the window bounds what a reader buffers.
 */
import { randomUUID } from 'node:crypto';
import {
  BusClosedError,
  InvalidConfigError,
  InvalidMessageError,
  assertJsonObject,
  MessagePattern,
  configInteger,
  describe,
  rejectUnknownKeys,
  validateName,
  type JsonObject,
  type JsonValue,
  type MessageBus,
  type MessageEnvelope,
} from '@woodwork/bus-core';
import { MessageBusAdapter } from '../message-bus-adapter.js';
import { newInstanceId, streamInstanceAddress, streamTargetOf, streamingName } from './stream-address.js';
import { StreamEvent, isStreamEvent, parseStreamMessage, toPayload, type StreamMessage } from './stream-protocol.js';
import { LivenessTicker, resolveLiveness } from './stream-liveness.js';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';

export { MAX_STREAMING_ID, streamInstanceAddress, streamTargetOf } from './stream-address.js';

export type StreamListener = (reader: StreamReader) => unknown;

export interface StreamManagerOptions {
  /** The component this manager streams for: it receives streams targeted to it and acks for its own streams. */
  componentId: string;
  /** Chunks a producer may have unread before `write` waits. Default 16. */
  window?: number;
  /** Called with each stream opened to this component. Without a listener, incoming streams are cancelled. */
  onStream?: StreamListener;
  /**
   * A stream whose other side has sent nothing for this long fails (a reader's iterator throws, a
   * writer's write rejects, with `StreamFailedError`), so a crashed peer never leaves anyone
   * waiting forever. Default 30000; 0: never. Must exceed the peers' `keepaliveMs`.
   */
  idleTimeoutMs?: number;
  /**
   * Each open stream sends something at least this often: the producer a `stream.keepalive`, the
   * consumer its ack again (which also heals a lost ack). Default 5000; 0: never (then
   * `idleTimeoutMs` must be 0 too).
   */
  keepaliveMs?: number;
  /** Stream ids remembered after they end, to drop late duplicates quietly. Default 10000. */
  rememberFinished?: number;
}

export interface CreateStreamOptions {
  /** The consumer component. */
  target: string;
  /** The session all of the stream's messages travel in. */
  sessionId: string;
  /** Sent with `stream.created` (content type, model name...). */
  metadata?: JsonObject;
  /** Overrides the manager's window for this stream. */
  window?: number;
}

const OPTION_KEYS = ['componentId', 'window', 'onStream', 'idleTimeoutMs', 'keepaliveMs', 'rememberFinished'];
const CREATE_KEYS = ['target', 'sessionId', 'metadata', 'window'];

/** What is kept of an ended stream: for one this side stopped, what to tell its producer again, and where. */
interface Finished {
  stopReason: string;
  producer: string;
}

export class StreamManager {
  readonly componentId: string;
  /** This manager's own id, random: no other manager (replica) has it. */
  readonly instanceId: string;
  /** This manager's own address and group, `<component>--streams-<instanceId>`. */
  readonly address: string;
  readonly window: number;
  readonly idleTimeoutMs: number;
  readonly keepaliveMs: number;
  private readonly bus: MessageBus;
  private readonly rememberFinished: number;
  private listener: StreamListener | undefined;
  private readonly writers = new Map<string, StreamWriter>();
  private readonly readers = new Map<string, StreamReader>();
  /** Ended stream ids (both directions), oldest first, each with what to tell a producer that keeps writing to it, if anything. */
  private readonly finished = new Map<string, Finished | undefined>();
  private readonly ticker: LivenessTicker;
  private readonly subscriptionIds: string[] = [];
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(bus: MessageBus | MessageBusAdapter, options: StreamManagerOptions) {
    this.bus = bus instanceof MessageBusAdapter ? bus.bus : bus;
    if (typeof this.bus !== 'object' || this.bus === null || typeof this.bus.subscribe !== 'function') {
      throw new InvalidConfigError('bus', `must be a MessageBus or a MessageBusAdapter; got ${describe(bus)}`);
    }
    if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describe(options)}`);
    rejectUnknownKeys(options, OPTION_KEYS);
    this.componentId = streamingName(options.componentId, 'componentId');
    this.instanceId = newInstanceId();
    this.address = streamInstanceAddress(this.componentId, this.instanceId);
    this.window = configInteger(options.window ?? 16, 'window', 1, 100_000);
    const liveness = resolveLiveness(options.idleTimeoutMs, options.keepaliveMs);
    this.idleTimeoutMs = liveness.idleTimeoutMs;
    this.keepaliveMs = liveness.keepaliveMs;
    this.ticker = new LivenessTicker(liveness, () => [...this.writers.values(), ...this.readers.values()]);
    this.rememberFinished = configInteger(options.rememberFinished ?? 10_000, 'rememberFinished', 1);
    if (options.onStream !== undefined) this.onStream(options.onStream);
  }

  /**
   * Subscribes (its own group first: a stream accepted from the component's group is answered
   * there); call before streams are opened to this component. Idempotent.
   */
  start(): Promise<void> {
    this.starting ??= this.subscribe().catch((error: unknown) => {
      this.starting = undefined; // nothing half done: a later start() tries again
      throw error;
    });
    return this.starting;
  }

  /** Sets the listener for incoming streams (replacing the previous one). */
  onStream(listener: StreamListener): void {
    if (typeof listener !== 'function') throw new InvalidConfigError('onStream', `must be a function; got ${describe(listener)}`);
    this.listener = listener;
  }

  /** Streams open now, by direction (reading includes streams accepted here that the producer has not bound yet). */
  get openStreams(): { writing: number; reading: number } {
    return { writing: this.writers.size, reading: this.readers.size };
  }

  /**
   * Opens a stream to `target` in `sessionId`: publishes `stream.created` and resolves with the
   * writer once the bus accepted it (until a replica of `target` accepts the stream, the writer
   * holds what is written, up to the window). The manager must be started (acceptance and acks
   * come back through it).
   */
  async createStream<T extends JsonValue = JsonValue>(options: CreateStreamOptions): Promise<StreamWriter<T>> {
    if (this.closed) throw new BusClosedError('createStream');
    if (this.subscriptionIds.length < 2) throw new InvalidConfigError('StreamManager', 'must be started (await start()) before createStream');
    if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describe(options)}`);
    rejectUnknownKeys(options, CREATE_KEYS);
    const target = streamingName(options.target, 'target');
    const sessionId = validateName(options.sessionId, 'sessionId');
    const window = options.window === undefined ? this.window : configInteger(options.window, 'window', 1, 100_000);
    // Checked here: the consumer would reject a non-object and dead-letter the stream.created.
    const metadata = options.metadata ?? {};
    assertJsonObject(metadata, 'metadata');
    const streamId = `stream-${randomUUID()}`;
    const writer = new StreamWriter<T>({
      streamId,
      sessionId,
      target,
      window,
      send: (message, address) => this.send(message, sessionId, address),
      onFinished: () => this.forget(this.writers, streamId),
    });
    this.writers.set(streamId, writer as StreamWriter);
    try {
      await this.send({ event: StreamEvent.CREATED, streamId, window, metadata, replyTo: this.address }, sessionId, streamTargetOf(target));
    } catch (error) {
      this.writers.delete(streamId);
      throw error;
    }
    writer.opened();
    // close() may have ended it while stream.created was on its way.
    if (!this.closed && writer.state === 'open') this.ticker.start();
    return writer;
  }

  /**
   * Unsubscribes and ends what is open here: readers are cancelled (their producers are told),
   * writers fail (their consumers are told), as far as the bus still accepts messages.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.starting?.catch(() => undefined);
    const endings = [
      ...[...this.readers.values()].map((reader) => reader.cancel('the consumer closed its stream manager')),
      ...[...this.writers.values()].map((writer) => writer.fail(new Error('the producer closed its stream manager'))),
    ];
    await Promise.allSettled(endings);
    this.ticker.stop();
    await Promise.allSettled(this.subscriptionIds.splice(0).map((id) => this.bus.unsubscribe(id)));
  }

  private async subscribe(): Promise<void> {
    const subscribe = (address: string, via: Via) =>
      this.bus.subscribe('*', (envelope) => this.handle(envelope, via), {
        componentId: address,
        targetedOnly: true,
        group: address,
        // The instance address dies with this manager; the component's shared group outlives it.
        durable: via === 'component',
      });
    const own = await subscribe(this.address, 'instance');
    try {
      this.subscriptionIds.push(own, await subscribe(streamTargetOf(this.componentId), 'component'));
    } catch (error) {
      await this.bus.unsubscribe(own).catch(() => undefined);
      throw error;
    }
  }

  private async handle(envelope: MessageEnvelope, via: Via): Promise<void> {
    if (!isStreamEvent(envelope.eventType)) return; // not ours: only stream messages should reach a stream address
    const message = parseStreamMessage(envelope);
    if ((message.event === StreamEvent.CREATED) !== (via === 'component')) {
      // A peer that addresses the wrong group: dead-lettered (after the bus's retries), so it shows.
      throw new InvalidMessageError(
        'componentTarget',
        via === 'component'
          ? `${envelope.componentTarget} takes only ${StreamEvent.CREATED}; ${message.event} goes to the manager address the stream's peer sent (reply_to)`
          : `${StreamEvent.CREATED} goes to the component's address (${streamTargetOf(this.componentId)}), not to a manager's own`,
      );
    }
    switch (message.event) {
      case StreamEvent.CREATED:
        return this.accept(envelope, message);
      case StreamEvent.ACCEPTED:
        return this.onAccepted(envelope.sessionId, message);
      case StreamEvent.ACK:
        this.writers.get(message.streamId)?.acknowledged(message.taken, message.replyTo);
        return;
      case StreamEvent.CANCELLED:
        this.writers.get(message.streamId)?.cancelled(message.reason, message.replyTo);
        return;
      case StreamEvent.DECLINED:
        this.readers.get(message.streamId)?.declined(message.reason);
        return;
      default:
        return this.fromProducer(envelope, message);
    }
  }

  /** A replica of the consumer took the stream: bind it there, or decline. */
  private async onAccepted(sessionId: string, message: Extract<StreamMessage, { event: 'stream.accepted' }>): Promise<void> {
    const { streamId, replyTo } = message;
    const writer = this.writers.get(streamId);
    if (writer !== undefined && writer.accepted(replyTo) !== 'declined') return;
    const reason =
      writer === undefined
        ? this.finished.has(streamId)
          ? `stream ${streamId} has ended`
          : `${this.componentId} has no stream ${streamId}`
        : writer.readerAddress === undefined
          ? `stream ${streamId} ended before a reader accepted it`
          : `stream ${streamId} is read by ${writer.readerAddress}`;
    await this.send({ event: StreamEvent.DECLINED, streamId, reason }, sessionId, replyTo);
  }

  /** A message of the producer, to this manager's own group: a stream read here. */
  private async fromProducer(envelope: MessageEnvelope, message: StreamMessage): Promise<void> {
    const reader = this.readers.get(message.streamId);
    if (reader) {
      // The producer bound the stream here: now the app may see it.
      if (reader.start()) this.show(reader);
      reader.receive(message);
      return;
    }
    // We stopped this stream, yet its producer is still there: our stream.cancelled was lost. Once per keepalive.
    // (A stream never accepted here cannot reach this group; one forgotten since is left to the producer's idle timeout.)
    const stopped = this.finished.get(message.streamId);
    if (stopped !== undefined && message.event === StreamEvent.KEEPALIVE) {
      await this.send({ event: StreamEvent.CANCELLED, streamId: message.streamId, reason: stopped.stopReason, replyTo: this.address }, envelope.sessionId, stopped.producer);
    }
  }

  /** A replica's share of the component's group: take the stream, or refuse it. */
  private async accept(envelope: MessageEnvelope, message: Extract<StreamMessage, { event: 'stream.created' }>): Promise<void> {
    const { streamId, replyTo: producer } = message;
    const { sessionId } = envelope;
    if (this.readers.has(streamId) || this.finished.has(streamId)) return; // redelivered
    if (!this.listener || this.closed) {
      const reason = this.closed ? 'the consumer closed its stream manager' : `${this.componentId} has no stream listener`;
      await this.send({ event: StreamEvent.CANCELLED, streamId, reason, replyTo: this.address }, sessionId, producer);
      this.remember(streamId, undefined);
      return;
    }
    const reader = new StreamReader({
      streamId,
      sessionId,
      source: envelope.componentSource,
      address: this.address,
      window: message.window,
      metadata: message.metadata,
      send: (reply) => this.send(reply, sessionId, producer),
      onFinished: () => this.forget(this.readers, streamId, reader.stopReason === undefined ? undefined : { stopReason: reader.stopReason, producer }),
    });
    // Registered before the acceptance goes out: the producer's answer may come before publish resolves.
    this.readers.set(streamId, reader);
    try {
      await reader.accept();
    } catch (error) {
      // Not accepted: the bus retries stream.created (here or at another replica).
      this.readers.delete(streamId);
      throw error;
    }
    if (!this.closed) this.ticker.start();
  }

  /** Hands a stream the producer bound here to the listener. */
  private show(reader: StreamReader): void {
    const listener = this.listener;
    if (!listener || this.closed) {
      void reader.cancel(`${this.componentId} has no stream listener`).catch(() => undefined);
      return;
    }
    // The listener reads at its own pace; the bus handler returns now so the session's lane moves on.
    Promise.resolve()
      .then(() => listener(reader))
      .catch((error: unknown) => reader.cancel(`the stream listener failed: ${error instanceof Error ? error.message : String(error)}`))
      .catch(() => undefined);
  }

  private send(message: StreamMessage, sessionId: string, address: string): Promise<unknown> {
    return this.bus.publish({
      eventType: message.event,
      sessionId,
      componentSource: this.componentId,
      componentTarget: address,
      pattern: MessagePattern.STREAM,
      payload: toPayload(message),
    });
  }

  private forget(map: Map<string, unknown>, streamId: string, finished?: Finished): void {
    map.delete(streamId);
    this.remember(streamId, finished);
    if (this.writers.size === 0 && this.readers.size === 0) this.ticker.stop();
  }

  private remember(streamId: string, finished: Finished | undefined): void {
    this.finished.set(streamId, finished);
    if (this.finished.size > this.rememberFinished) {
      const oldest = this.finished.keys().next().value as string;
      this.finished.delete(oldest);
    }
  }
}

/** Which of the manager's two groups a message came through. */
type Via = 'component' | 'instance';
