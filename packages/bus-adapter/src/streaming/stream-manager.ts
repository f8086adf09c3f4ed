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
 *
 * Streams accept only their own participants: each message of a stream must carry the stream's
 * token and travel in its session (see `stream-protocol.ts`); anything else is dropped and counted
 * (`stats`, `stream-guard.ts`). Streams accepted here and not yet started by their producer are
 * capped (`maxPendingStreams`), so a flood of `stream.created` costs a refusal each, not memory.
 */
import { randomUUID } from 'node:crypto';
import { BusClosedError, InvalidConfigError, MessagePattern, describeValue, type JsonValue, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import { MessageBusAdapter } from '../message-bus-adapter.js';
import { newInstanceId, streamInstanceAddress, streamTargetOf } from './stream-address.js';
import { STREAM_PROTOCOL, sameToken, StreamEvent, isStreamEvent, malformed, newStreamToken, parseStreamMessage, toPayload, type StreamMessage } from './stream-protocol.js';
import { LivenessTicker, type StreamClock } from './stream-liveness.js';
import { resolveCreateOptions, resolveManagerOptions, type CreateStreamOptions, type StreamListener, type StreamManagerOptions } from './stream-options.js';
import { StreamGuard, type StreamManagerStats } from './stream-guard.js';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';

export { MAX_STREAMING_ID, streamInstanceAddress, streamTargetOf } from './stream-address.js';
export { MAX_WINDOW, STREAM_PROTOCOL } from './stream-protocol.js';
export type { StreamClock } from './stream-liveness.js';
export type { StreamManagerStats } from './stream-guard.js';
export type { CreateStreamOptions, StreamListener, StreamManagerOptions } from './stream-options.js';

/** What is kept of an ended stream: for one this side stopped, what to tell its producer again, and where. */
interface Finished {
  stopReason: string;
  producer: string;
  sessionId: string;
  token: string;
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
  readonly maxPendingStreams: number;
  /** The largest window this manager grants a stream it reads. */
  readonly maxWindow: number;
  private readonly clock: StreamClock;
  private readonly guard: StreamGuard;
  /** Streams accepted here that their producer has not started yet (bounded by `maxPendingStreams`). */
  private readonly pending = new Set<string>();
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
      throw new InvalidConfigError('bus', `must be a MessageBus or a MessageBusAdapter; got ${describeValue(bus)}`);
    }
    const resolved = resolveManagerOptions(options);
    this.componentId = resolved.componentId;
    this.instanceId = newInstanceId();
    this.address = streamInstanceAddress(this.componentId, this.instanceId);
    this.window = resolved.window;
    this.idleTimeoutMs = resolved.liveness.idleTimeoutMs;
    this.keepaliveMs = resolved.liveness.keepaliveMs;
    this.clock = resolved.clock;
    this.ticker = new LivenessTicker(resolved.liveness, this.clock, () => [...this.writers.values(), ...this.readers.values()]);
    this.rememberFinished = resolved.rememberFinished;
    this.maxPendingStreams = resolved.maxPendingStreams;
    this.maxWindow = resolved.maxWindow;
    this.guard = new StreamGuard(resolved.logger, this.componentId);
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
    if (typeof listener !== 'function') throw new InvalidConfigError('onStream', `must be a function; got ${describeValue(listener)}`);
    this.listener = listener;
  }

  /** Streams open now, by direction (reading includes streams accepted here that the producer has not bound yet). */
  get openStreams(): { writing: number; reading: number } {
    return { writing: this.writers.size, reading: this.readers.size };
  }

  /** What this manager turned away so far (forged or stray messages, refused streams), and its pending streams now. */
  get stats(): StreamManagerStats {
    return this.guard.stats(this.pending.size);
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
    const { target, sessionId, window, metadata } = resolveCreateOptions(options, this.window);
    const streamId = `stream-${randomUUID()}`;
    const token = newStreamToken();
    const writer = new StreamWriter<T>({
      streamId,
      sessionId,
      target,
      window,
      token,
      now: () => this.clock.now(),
      send: (message, address) => this.send({ ...message, token }, sessionId, address),
      onFinished: () => this.forget(this.writers, streamId),
    });
    this.writers.set(streamId, writer as StreamWriter);
    try {
      await this.send({ event: StreamEvent.CREATED, streamId, window, metadata, replyTo: this.address, protocol: STREAM_PROTOCOL, token }, sessionId, streamTargetOf(target));
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
      // A peer that addresses the wrong group: dead-lettered at once, so it shows.
      throw malformed(
        message.event,
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
        return this.onAccepted(envelope, message);
      case StreamEvent.ACK:
      case StreamEvent.CANCELLED: {
        const writer = this.writers.get(message.streamId);
        if (writer === undefined || !this.authentic(writer, envelope, message)) return;
        if (message.event === StreamEvent.ACK) writer.acknowledged(message.taken, message.replyTo);
        else writer.cancelled(message.reason, message.replyTo);
        return;
      }
      case StreamEvent.DECLINED: {
        const reader = this.readers.get(message.streamId);
        if (reader !== undefined && this.authentic(reader, envelope, message)) reader.declined(message.reason);
        return;
      }
      default:
        return this.fromProducer(envelope, message);
    }
  }

  /**
   * The token and session check every message of an open stream passes: one that fails is dropped
   * here, counted and logged once; never handed to the stream, never thrown (so never dead-lettered).
   */
  private authentic(stream: StreamReader | StreamWriter, envelope: MessageEnvelope, message: StreamMessage): boolean {
    if (stream.owns(envelope.sessionId, message.token)) return true;
    this.guard.reject(message.streamId, envelope);
    return false;
  }

  /**
   * A replica of the consumer took the stream: bind it there, or decline. A tokenless acceptance is
   * a version 1 reader (or a forgery): declined without the token, with the reason, which a version
   * 1 reader heeds and a version 2 one ignores; the stream stays open for a reader that speaks 2.
   * One with another token is dropped. The token only ever goes back to whoever showed it.
   */
  private async onAccepted(envelope: MessageEnvelope, message: Extract<StreamMessage, { event: 'stream.accepted' }>): Promise<void> {
    const { streamId, replyTo, token } = message;
    const { sessionId } = envelope;
    const writer = this.writers.get(streamId);
    if (writer !== undefined && token === undefined) {
      const reason = `${this.componentId} speaks stream protocol ${STREAM_PROTOCOL}; ${replyTo} accepted without a token (protocol 1)`;
      writer.refused(`${replyTo} speaks stream protocol 1 and was declined`);
      this.guard.refuseProtocol(streamId, reason, envelope);
      await this.send({ event: StreamEvent.DECLINED, streamId, reason }, sessionId, replyTo);
      return;
    }
    if (writer !== undefined && !this.authentic(writer, envelope, message)) return;
    if (writer !== undefined && writer.accepted(replyTo, message.window) !== 'declined') return;
    const reason =
      writer === undefined
        ? this.finished.has(streamId)
          ? `stream ${streamId} has ended`
          : `${this.componentId} has no stream ${streamId}`
        : writer.readerAddress === undefined
          ? `stream ${streamId} ended before a reader accepted it`
          : `stream ${streamId} is read by ${writer.readerAddress}`;
    await this.send({ event: StreamEvent.DECLINED, streamId, reason, token }, sessionId, replyTo);
  }

  /** A message of the producer, to this manager's own group: a stream read here. */
  private async fromProducer(envelope: MessageEnvelope, message: StreamMessage): Promise<void> {
    const reader = this.readers.get(message.streamId);
    if (reader) {
      if (!this.authentic(reader, envelope, message)) return;
      // The producer bound the stream here: now the app may see it.
      if (reader.start()) {
        this.unpend(message.streamId);
        this.show(reader);
      }
      reader.receive(message);
      return;
    }
    // We stopped this stream, yet its producer is still there: our stream.cancelled was lost. Once per keepalive.
    // (A stream never accepted here cannot reach this group; one forgotten since is left to the producer's idle timeout.)
    const stopped = this.finished.get(message.streamId);
    if (stopped !== undefined && message.event === StreamEvent.KEEPALIVE && envelope.sessionId === stopped.sessionId && sameToken(stopped.token, message.token)) {
      const { stopReason: reason, producer, token } = stopped;
      await this.send({ event: StreamEvent.CANCELLED, streamId: message.streamId, reason, replyTo: this.address, token }, envelope.sessionId, producer);
    }
  }

  /**
   * A replica's share of the component's group: take the stream, or refuse it (`stream.cancelled`
   * with the reason, echoing the producer's token): no listener, closing, another protocol version,
   * or `maxPendingStreams` streams already waiting for their producer.
   */
  private async accept(envelope: MessageEnvelope, message: Extract<StreamMessage, { event: 'stream.created' }>): Promise<void> {
    const { streamId, replyTo: producer, token } = message;
    const { sessionId } = envelope;
    if (this.readers.has(streamId) || this.finished.has(streamId)) return; // redelivered
    const refuse = (reason: string) => this.send({ event: StreamEvent.CANCELLED, streamId, reason, replyTo: this.address, token }, sessionId, producer);
    // Refusals of what may be a flood are answered at the pace the bus takes them, best effort (a
    // lost one leaves the producer to its idle timeout), and not remembered, so a flood neither
    // fills the dead letters through retries nor pushes the streams that really ended out of memory.
    const refuseFlood = (reason: string) => refuse(reason).catch(() => undefined);
    if (message.protocol !== STREAM_PROTOCOL || token === undefined) {
      const reason = `${this.componentId} speaks stream protocol ${STREAM_PROTOCOL}; stream.created carries protocol ${message.protocol}`;
      this.guard.refuseProtocol(streamId, reason, envelope);
      await refuseFlood(reason);
      return;
    }
    if (!this.listener || this.closed) {
      await refuse(this.closed ? 'the consumer closed its stream manager' : `${this.componentId} has no stream listener`);
      this.remember(streamId, undefined);
      return;
    }
    if (this.pending.size >= this.maxPendingStreams) {
      this.guard.refuseOverCap(streamId, this.maxPendingStreams, envelope);
      await refuseFlood(`${this.componentId} has ${this.maxPendingStreams} streams waiting for their producer (maxPendingStreams)`);
      return;
    }
    const reader = new StreamReader({
      streamId,
      sessionId,
      source: envelope.componentSource,
      address: this.address,
      window: Math.min(message.window, this.maxWindow),
      metadata: message.metadata,
      token,
      now: () => this.clock.now(),
      send: (reply) => this.send({ ...reply, token }, sessionId, producer),
      onFinished: () => {
        const stopReason = reader.stopReason;
        this.forget(this.readers, streamId, stopReason === undefined ? undefined : { stopReason, producer, sessionId, token });
      },
    });
    // Registered before the acceptance goes out: the producer's answer may come before publish resolves.
    this.readers.set(streamId, reader);
    this.pending.add(streamId);
    try {
      await reader.accept();
    } catch (error) {
      // Not accepted: the bus retries stream.created (here or at another replica).
      this.readers.delete(streamId);
      this.unpend(streamId);
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
    this.unpend(streamId);
    this.guard.forget(streamId);
    this.remember(streamId, finished);
    if (this.writers.size === 0 && this.readers.size === 0) this.ticker.stop();
  }

  private unpend(streamId: string): void {
    if (this.pending.delete(streamId) && this.pending.size < this.maxPendingStreams) this.guard.belowCap();
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
