/**
 * The options of a StreamManager and of `createStream`, and their checks: each wrong one is an
 * `InvalidConfigError` (or, for names, `InvalidMessageError`) naming it, before anything is sent.
 */
import {
  InvalidConfigError,
  assertJsonObject,
  configInteger,
  describeValue,
  quietLogger,
  rejectUnknownKeys,
  validateName,
  type BusLogger,
  type JsonObject,
} from '@woodwork/bus-core';
import { streamingName } from './stream-address.js';
import { resolveClock, resolveLiveness, type LivenessSettings, type StreamClock } from './stream-liveness.js';
import { MAX_WINDOW } from './stream-protocol.js';
import type { StreamReader } from './stream-reader.js';

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
  /**
   * Streams accepted here that wait for their producer to start them, at most. Past it, a new
   * `stream.created` is refused at once (`stream.cancelled`, the producer's writes reject with
   * `StreamCancelledError`) and counted in `stats.refusedOverCap`, so unsolicited `stream.created`
   * messages cannot pile up readers. Default 1000.
   */
  maxPendingStreams?: number;
  /**
   * The largest window this manager grants a stream it reads: a producer asking for more gets this
   * much credit (it learns it from `stream.accepted`), so a reader buffers at most this many chunks
   * of a stream. Default 1024, at most 100000.
   */
  maxWindow?: number;
  /** Where rejected messages and refused streams are logged (once each, see `stats`). Default: quiet. */
  logger?: BusLogger;
  /** The time source of the liveness checks. Default: the system's; tests inject one they move by hand. */
  clock?: StreamClock;
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

const OPTION_KEYS = ['componentId', 'window', 'onStream', 'idleTimeoutMs', 'keepaliveMs', 'rememberFinished', 'maxPendingStreams', 'maxWindow', 'logger', 'clock'];
const CREATE_KEYS = ['target', 'sessionId', 'metadata', 'window'];

export interface ResolvedManagerOptions {
  componentId: string;
  window: number;
  liveness: LivenessSettings;
  clock: StreamClock;
  rememberFinished: number;
  maxPendingStreams: number;
  maxWindow: number;
  logger: BusLogger;
}

export function resolveManagerOptions(options: StreamManagerOptions): ResolvedManagerOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
  rejectUnknownKeys(options, OPTION_KEYS);
  const logger = options.logger ?? quietLogger;
  if (typeof logger !== 'object' || logger === null || typeof logger.warn !== 'function') {
    throw new InvalidConfigError('logger', `must be a logger (an object with debug, info, warn and error); got ${describeValue(logger)}`);
  }
  return {
    componentId: streamingName(options.componentId, 'componentId'),
    window: configInteger(options.window ?? 16, 'window', 1, MAX_WINDOW),
    liveness: resolveLiveness(options.idleTimeoutMs, options.keepaliveMs),
    clock: resolveClock(options.clock),
    rememberFinished: configInteger(options.rememberFinished ?? 10_000, 'rememberFinished', 1),
    maxPendingStreams: configInteger(options.maxPendingStreams ?? 1000, 'maxPendingStreams', 1),
    maxWindow: configInteger(options.maxWindow ?? 1024, 'maxWindow', 1, MAX_WINDOW),
    logger,
  };
}

export function resolveCreateOptions(options: CreateStreamOptions, defaultWindow: number): { target: string; sessionId: string; window: number; metadata: JsonObject } {
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
  rejectUnknownKeys(options, CREATE_KEYS);
  const target = streamingName(options.target, 'target');
  const sessionId = validateName(options.sessionId, 'sessionId');
  const window = options.window === undefined ? defaultWindow : configInteger(options.window, 'window', 1, MAX_WINDOW);
  // Checked here: the consumer would reject a non-object and dead-letter the stream.created.
  const metadata = options.metadata ?? {};
  assertJsonObject(metadata, 'metadata');
  return { target, sessionId, window, metadata };
}
