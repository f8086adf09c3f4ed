/**
 * `StreamManager`: ordered chunk streams between components (the design's "Stream Data: Producer →
 * Consumer (ordered chunks with backpressure)"), written only on the core `MessageBus` contract,
 * so it works on every backend.
 *
 * One manager per component. Stream messages are targeted to `<component>--streams`, not to the
 * component itself: the contract routes a targeted message to every group of its target, so with
 * the component's own id a `*` component listener would get every chunk (and its queue would hold
 * the stream back), and a listener registering late would find its waiting messages taken by the
 * manager's group. The manager makes one subscription: every event type (`*`), messages targeted to
 * `<component>--streams` only, in the group of that name. Since all of a stream's messages carry
 * the stream's session and reach that one group, the contract's per-session order within a group
 * delivers created, chunks and completed in publish order; producers publish them one at a time.
 * The handler only hands messages to the reader (it never waits for the app), so one slow reader
 * does not hold up other streams of its session; the window bounds what a reader buffers.
 *
 * A stream lives in the process that opened it and the one that accepted it: run one replica per
 * component id that streams (replicas of a component share its group, and would split a stream).
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
  validateName,
  type JsonObject,
  type JsonValue,
  type MessageBus,
  type MessageEnvelope,
} from '@woodwork/bus-core';
import { MessageBusAdapter } from '../message-bus-adapter.js';
import { StreamEvent, isStreamEvent, parseStreamMessage, toPayload, type StreamMessage } from './stream-protocol.js';
import { LivenessTicker, resolveLiveness } from './stream-liveness.js';
import { StreamReader } from './stream-reader.js';
import { StreamWriter } from './stream-writer.js';

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

const STREAM_SUFFIX = '--streams';
/** The longest component id that can stream: the suffix must fit the 128-character name rule. */
const MAX_STREAMING_ID = 128 - STREAM_SUFFIX.length;

/** Where a component's stream messages are sent (`componentTarget`): its id plus `--streams`. */
export function streamTargetOf(componentId: string): string {
  return `${componentId}${STREAM_SUFFIX}`;
}

/** The manager's group: the same name as its target. */
export function streamGroupName(componentId: string): string {
  return streamTargetOf(componentId);
}

/** A name that can take the suffix: cutting a longer one would let two components share streams. */
function streamingName(value: unknown, field: string): string {
  const name = validateName(value, field);
  if (name.length > MAX_STREAMING_ID) {
    throw new InvalidMessageError(field, `must be at most ${MAX_STREAMING_ID} characters to stream (the "${STREAM_SUFFIX}" suffix must fit 128); got ${name.length}`);
  }
  return name;
}

export class StreamManager {
  readonly componentId: string;
  readonly window: number;
  readonly idleTimeoutMs: number;
  readonly keepaliveMs: number;
  private readonly bus: MessageBus;
  private readonly rememberFinished: number;
  private listener: StreamListener | undefined;
  private readonly writers = new Map<string, StreamWriter>();
  private readonly readers = new Map<string, StreamReader>();
  /**
   * Ended stream ids (both directions), oldest first, each with what to tell a producer that keeps
   * writing to it (a read stream this side stopped), if anything.
   */
  private readonly finished = new Map<string, string | undefined>();
  private readonly ticker: LivenessTicker;
  private subscriptionId: string | undefined;
  private starting: Promise<void> | undefined;
  private closed = false;

  constructor(bus: MessageBus | MessageBusAdapter, options: StreamManagerOptions) {
    this.bus = bus instanceof MessageBusAdapter ? bus.bus : bus;
    if (typeof this.bus !== 'object' || this.bus === null || typeof this.bus.subscribe !== 'function') {
      throw new InvalidConfigError('bus', `must be a MessageBus or a MessageBusAdapter; got ${describe(bus)}`);
    }
    if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describe(options)}`);
    for (const key of Object.keys(options)) if (!OPTION_KEYS.includes(key)) throw new InvalidConfigError(key, 'is not a known option', OPTION_KEYS);
    this.componentId = streamingName(options.componentId, 'componentId');
    this.window = configInteger(options.window ?? 16, 'window', 1, 100_000);
    const liveness = resolveLiveness(options.idleTimeoutMs, options.keepaliveMs);
    this.idleTimeoutMs = liveness.idleTimeoutMs;
    this.keepaliveMs = liveness.keepaliveMs;
    this.ticker = new LivenessTicker(liveness, () => [...this.writers.values(), ...this.readers.values()]);
    this.rememberFinished = configInteger(options.rememberFinished ?? 10_000, 'rememberFinished', 1);
    if (options.onStream !== undefined) this.onStream(options.onStream);
  }

  /** Subscribes; call before streams are opened to this component. Idempotent. */
  start(): Promise<void> {
    this.starting ??= (async () => {
      this.subscriptionId = await this.bus.subscribe('*', (envelope) => this.handle(envelope), {
        componentId: streamTargetOf(this.componentId),
        targetedOnly: true,
        group: streamGroupName(this.componentId),
      });
    })();
    return this.starting;
  }

  /** Sets the listener for incoming streams (replacing the previous one). */
  onStream(listener: StreamListener): void {
    if (typeof listener !== 'function') throw new InvalidConfigError('onStream', `must be a function; got ${describe(listener)}`);
    this.listener = listener;
  }

  /** Streams open now, by direction. */
  get openStreams(): { writing: number; reading: number } {
    return { writing: this.writers.size, reading: this.readers.size };
  }

  /**
   * Opens a stream to `target` in `sessionId`: publishes `stream.created` and resolves with the
   * writer once the bus accepted it. The manager must be started (acks come back through it).
   */
  async createStream<T extends JsonValue = JsonValue>(options: CreateStreamOptions): Promise<StreamWriter<T>> {
    if (this.closed) throw new BusClosedError('createStream');
    if (this.subscriptionId === undefined) throw new InvalidConfigError('StreamManager', 'must be started (await start()) before createStream');
    if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describe(options)}`);
    for (const key of Object.keys(options)) if (!CREATE_KEYS.includes(key)) throw new InvalidConfigError(key, 'is not a known option', CREATE_KEYS);
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
      send: (message) => this.send(message, sessionId, target),
      onFinished: () => this.forget(this.writers, streamId),
    });
    this.writers.set(streamId, writer as StreamWriter);
    try {
      await this.send({ event: StreamEvent.CREATED, streamId, window, metadata }, sessionId, target);
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
    if (this.subscriptionId !== undefined) await this.bus.unsubscribe(this.subscriptionId).catch(() => undefined);
  }

  private async handle(envelope: MessageEnvelope): Promise<void> {
    if (!isStreamEvent(envelope.eventType)) return; // not ours: only stream messages should reach <component>--streams
    const message = parseStreamMessage(envelope);
    switch (message.event) {
      case StreamEvent.ACK:
        this.writers.get(message.streamId)?.acknowledged(message.taken);
        return;
      case StreamEvent.CANCELLED:
        this.writers.get(message.streamId)?.cancelled(message.reason);
        return;
      case StreamEvent.CREATED:
        this.accept(envelope, message);
        return;
      default: {
        const reader = this.readers.get(message.streamId);
        if (reader) {
          reader.receive(message);
          return;
        }
        if (message.event !== StreamEvent.CHUNK && message.event !== StreamEvent.KEEPALIVE) return;
        const stopped = this.finished.get(message.streamId);
        let reason: string | undefined;
        if (!this.finished.has(message.streamId)) {
          // Its stream.created never reached us (or we restarted): stop the producer rather than let it write into nothing.
          reason = `${this.componentId} has no open stream ${message.streamId}`;
          this.remember(message.streamId, reason);
        } else if (stopped !== undefined && message.event === StreamEvent.KEEPALIVE) {
          // We stopped this stream, yet its producer is still there: our stream.cancelled was lost. Once per keepalive.
          reason = stopped;
        }
        if (reason !== undefined) {
          await this.send({ event: StreamEvent.CANCELLED, streamId: message.streamId, reason }, envelope.sessionId, envelope.componentSource);
        }
      }
    }
  }

  private accept(envelope: MessageEnvelope, message: Extract<StreamMessage, { event: 'stream.created' }>): void {
    const { streamId } = message;
    if (this.readers.has(streamId) || this.finished.has(streamId)) return; // redelivered
    const reader = new StreamReader({
      streamId,
      sessionId: envelope.sessionId,
      source: envelope.componentSource,
      window: message.window,
      metadata: message.metadata,
      send: (reply) => this.send(reply, envelope.sessionId, envelope.componentSource),
      onFinished: () => this.forget(this.readers, streamId, reader.stopReason),
    });
    this.readers.set(streamId, reader);
    if (!this.closed) this.ticker.start();
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

  private send(message: StreamMessage, sessionId: string, target: string): Promise<unknown> {
    return this.bus.publish({
      eventType: message.event,
      sessionId,
      componentSource: this.componentId,
      componentTarget: streamTargetOf(target),
      pattern: MessagePattern.STREAM,
      payload: toPayload(message),
    });
  }

  private forget(map: Map<string, unknown>, streamId: string, stopReason?: string): void {
    map.delete(streamId);
    this.remember(streamId, stopReason);
    if (this.writers.size === 0 && this.readers.size === 0) this.ticker.stop();
  }

  private remember(streamId: string, stopReason: string | undefined): void {
    this.finished.set(streamId, stopReason);
    if (this.finished.size > this.rememberFinished) {
      const oldest = this.finished.keys().next().value as string;
      this.finished.delete(oldest);
    }
  }
}
