/**
 * The stream protocol on the wire: event types and payloads (snake_case, so a Python woodwork
 * process can take part). Every message of a stream is `pattern: stream`, targeted, and in the
 * stream's session.
 *
 * Two kinds of address (`componentTarget`), see `stream-address.ts`:
 * - `<component>--streams`: the component's group, shared by all of its replicas. Only
 *   `stream.created` goes there; one replica takes it.
 * - `<component>--streams-<instance>`: one StreamManager's own group, which no other replica joins.
 *   Everything else goes to the instance that owns the other end of the stream, so replicas of the
 *   producer never take each other's credit, and replicas of the consumer never split a stream.
 *
 * The opening handshake:
 *   producer -> consumer component   stream.created  { stream_id, window, metadata, reply_to, protocol, token }
 *   consumer instance -> producer    stream.accepted { stream_id, reply_to, window, token }
 *   producer -> that consumer        stream.started  { stream_id, token }
 * `reply_to` is the sender's instance address. `window` in the acceptance is the credit the reader
 * grants: what the producer asked, or less (the consumer's `maxWindow`); absent, what it asked. The
 * producer writes within the smaller of the two. The first replica to take `stream.created` accepts
 * it; the producer binds the stream to the first acceptance and sends everything else there. A
 * second acceptance (the bus may deliver `stream.created` twice, to two replicas) gets
 *   producer -> consumer instance    stream.declined { stream_id, reason, token }
 * and that replica drops the stream without showing it to its app. A consumer shows a stream to its
 * listener once the producer has bound it (`stream.started`, or any later message of the stream).
 *
 * Then, producer -> the consumer instance that accepted:
 *   stream.chunk     { stream_id, seq, data, token }          seq = 1, 2, 3...
 *   stream.completed { stream_id, chunks, token }
 *   stream.failed    { stream_id, chunks, error: { name, message }, token }
 *   stream.keepalive { stream_id, written, token }            sent when the producer has sent nothing for a while
 * and consumer instance -> producer instance:
 *   stream.ack       { stream_id, taken, reply_to, token }    chunks the reader has taken so far (cumulative);
 *                                                             repeated when the reader has sent nothing for a while
 *   stream.cancelled { stream_id, reason, reply_to, token }   also the answer of a component that refuses a stream
 *
 * The token (protocol 2): the producer draws 256 random bits per stream and sends them in
 * `stream.created`; every later message of the stream, both ways, carries them back, and travels in
 * the stream's session. Each side drops (and counts) a message of one of its streams whose token or
 * session does not match: another participant of the bus can neither feed a reader chunks, end a
 * stream, nor cancel or grant credit to a producer. It does not hide the stream from whoever watches
 * the session's messages (they see the token); the bus's own access control is what guards that.
 *
 * Protocol versions: `protocol` in `stream.created` (absent: 1, the tokenless protocol). Following the
 * wire form's rules (a new key is optional and its absence means the old behaviour), a consumer
 * refuses a stream of another version with `stream.cancelled` and a reason (which a version 1
 * producer understands), and a producer answers a tokenless `stream.accepted` (a version 1 reader)
 * with a tokenless `stream.declined` and a reason (which makes a version 1 reader drop the stream).
 *
 * The producer acts on acks and cancels only from the instance it bound the stream to (or, before
 * binding, on a cancel: the component refused the stream). Within one instance's group the
 * contract keeps one session's messages in publish order, so the reader sees created, chunks and
 * completed in order. Repeated acks heal lost ones; an unbound reader repeats `stream.accepted`
 * instead, which heals a lost acceptance or a lost `stream.started`. `written` in a keepalive
 * reveals a chunk that was lost for good: it counts only chunks the bus had accepted before the
 * keepalive was published.
 *
 * A message malformed for the protocol is an `UnrecoverableError` (the bus dead-letters it at once:
 * retrying cannot make it well-formed); one that fails the token or session check is not thrown at
 * all (the manager drops it), so a forger cannot fill the dead-letter store either.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidMessageError, UnrecoverableError, describeValue, validateName, type JsonObject, type JsonValue, type MessageEnvelope } from '@woodwork/bus-core';

/** The protocol this package speaks: 2, the one with tokens. */
export const STREAM_PROTOCOL = 2;
/** What a `stream.created` without `protocol` speaks. */
const LEGACY_PROTOCOL = 1;
/** The largest window a stream may ask for (the producer's own limit, checked again by the consumer). */
export const MAX_WINDOW = 100_000;

export const StreamEvent = {
  CREATED: 'stream.created',
  ACCEPTED: 'stream.accepted',
  STARTED: 'stream.started',
  DECLINED: 'stream.declined',
  CHUNK: 'stream.chunk',
  COMPLETED: 'stream.completed',
  FAILED: 'stream.failed',
  KEEPALIVE: 'stream.keepalive',
  ACK: 'stream.ack',
  CANCELLED: 'stream.cancelled',
} as const;
export type StreamEvent = (typeof StreamEvent)[keyof typeof StreamEvent];

const STREAM_EVENTS: readonly string[] = Object.values(StreamEvent);

export function isStreamEvent(eventType: string): eventType is StreamEvent {
  return STREAM_EVENTS.includes(eventType);
}

export interface RemoteError {
  name: string;
  message: string;
}

/**
 * `token` is optional in the type: a message read from the wire may lack it (a forgery, or a
 * version 1 peer), and the answers to a version 1 peer go without one. Everything this package
 * sends on a stream of its own carries it.
 */
export type StreamMessage = { token?: string | undefined } & (
  | { event: typeof StreamEvent.CREATED; streamId: string; window: number; metadata: JsonObject; replyTo: string; protocol: number }
  | { event: typeof StreamEvent.ACCEPTED; streamId: string; replyTo: string; window?: number | undefined }
  | { event: typeof StreamEvent.STARTED; streamId: string }
  | { event: typeof StreamEvent.DECLINED; streamId: string; reason: string }
  | { event: typeof StreamEvent.CHUNK; streamId: string; seq: number; data: JsonValue }
  | { event: typeof StreamEvent.COMPLETED; streamId: string; chunks: number }
  | { event: typeof StreamEvent.FAILED; streamId: string; chunks: number; error: RemoteError }
  | { event: typeof StreamEvent.KEEPALIVE; streamId: string; written: number }
  | { event: typeof StreamEvent.ACK; streamId: string; taken: number; replyTo: string }
  | { event: typeof StreamEvent.CANCELLED; streamId: string; reason: string; replyTo: string }
);

/** Messages the producer sends to the consumer instance it bound the stream to. */
export type ProducerMessage = Extract<StreamMessage, { event: 'stream.started' | 'stream.chunk' | 'stream.completed' | 'stream.failed' | 'stream.keepalive' }>;
/** Messages a consumer instance sends to the producer instance. */
export type ConsumerMessage = Extract<StreamMessage, { event: 'stream.accepted' | 'stream.ack' | 'stream.cancelled' }>;

/** A fresh stream token: 256 random bits, base64url (43 characters). */
export function newStreamToken(): string {
  return randomBytes(32).toString('base64url');
}

/** True when `got` is the stream's token (compared in constant time). */
export function sameToken(expected: string, got: string | undefined): boolean {
  if (typeof got !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(got);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The payload a stream message travels with. */
export function toPayload(message: StreamMessage): JsonObject {
  const token: JsonObject = message.token === undefined ? {} : { token: message.token };
  switch (message.event) {
    case StreamEvent.CREATED:
      return { stream_id: message.streamId, window: message.window, metadata: message.metadata, reply_to: message.replyTo, protocol: message.protocol, ...token };
    case StreamEvent.ACCEPTED:
      return { stream_id: message.streamId, reply_to: message.replyTo, ...(message.window === undefined ? {} : { window: message.window }), ...token };
    case StreamEvent.STARTED:
      return { stream_id: message.streamId, ...token };
    case StreamEvent.DECLINED:
      return { stream_id: message.streamId, reason: message.reason, ...token };
    case StreamEvent.CHUNK:
      return { stream_id: message.streamId, seq: message.seq, data: message.data, ...token };
    case StreamEvent.COMPLETED:
      return { stream_id: message.streamId, chunks: message.chunks, ...token };
    case StreamEvent.FAILED:
      return { stream_id: message.streamId, chunks: message.chunks, error: { name: message.error.name, message: message.error.message }, ...token };
    case StreamEvent.KEEPALIVE:
      return { stream_id: message.streamId, written: message.written, ...token };
    case StreamEvent.ACK:
      return { stream_id: message.streamId, taken: message.taken, reply_to: message.replyTo, ...token };
    case StreamEvent.CANCELLED:
      return { stream_id: message.streamId, reason: message.reason, reply_to: message.replyTo, ...token };
  }
}

/**
 * A message the stream protocol cannot take, whatever the retry: `UnrecoverableError`, so the bus
 * dead-letters it at once instead of retrying it with backoff (which would hold up its session).
 * Its `cause` is the `InvalidMessageError` naming the field and the rule.
 */
export function malformed(eventType: string, field: string, rule: string): UnrecoverableError {
  const invalid = new InvalidMessageError(field, rule);
  return new UnrecoverableError(`malformed ${eventType}: ${invalid.message}`, { cause: invalid });
}

function field<T>(eventType: string, payload: JsonObject, key: string, ok: (v: unknown) => v is T, rule: string): T {
  const value = payload[key];
  if (!ok(value)) throw malformed(eventType, `payload.${key}`, `${rule}; got ${describeValue(value)}`);
  return value;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 200;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isPositive = (v: unknown): v is number => isCount(v) && v > 0;
const isWindow = (v: unknown): v is number => isPositive(v) && v <= MAX_WINDOW;
const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAny = (v: unknown): v is JsonValue => v !== undefined;
/** A token as this package draws them, or longer: 32-200 URL-safe characters. */
const isToken = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{32,200}$/.test(v);

/**
 * Reads a stream message from an envelope. A malformed one throws `UnrecoverableError` naming the
 * field (the bus dead-letters it at once, so it is visible, not silently dropped, and does not hold
 * up its session). A `token` that is missing or not a string is not malformed: it reads as
 * undefined, and fails the manager's token check (dropped and counted, never dead-lettered).
 */
export function parseStreamMessage(envelope: MessageEnvelope): StreamMessage {
  const p = envelope.payload;
  const event = envelope.eventType;
  const streamId = field(event, p, 'stream_id', isId, 'must be a stream id (1-200 characters)');
  // The bus's name rule: a reply address becomes the `componentTarget` of the answers.
  const replyTo = (): string => {
    try {
      return validateName(p['reply_to'], 'payload.reply_to');
    } catch (error) {
      throw error instanceof InvalidMessageError ? malformed(event, error.field, error.rule) : error;
    }
  };
  const token = typeof p['token'] === 'string' ? p['token'] : undefined;
  switch (event) {
    case StreamEvent.CREATED: {
      const protocol = p['protocol'] === undefined ? LEGACY_PROTOCOL : field(event, p, 'protocol', isPositive, 'must be a positive integer (the stream protocol version)');
      return {
        event: StreamEvent.CREATED,
        streamId,
        window: field(event, p, 'window', isWindow, `must be an integer from 1 to ${MAX_WINDOW}`),
        metadata: p['metadata'] === undefined ? {} : field(event, p, 'metadata', isObject, 'must be an object'),
        replyTo: replyTo(),
        protocol,
        // The token of this version is required and well formed: every answer carries it back.
        token: protocol === STREAM_PROTOCOL ? field(event, p, 'token', isToken, 'must be the stream token (32-200 URL-safe characters)') : token,
      };
    }
    case StreamEvent.ACCEPTED:
      return {
        event: StreamEvent.ACCEPTED,
        streamId,
        replyTo: replyTo(),
        window: p['window'] === undefined ? undefined : field(event, p, 'window', isWindow, `must be an integer from 1 to ${MAX_WINDOW}`),
        token,
      };
    case StreamEvent.STARTED:
      return { event: StreamEvent.STARTED, streamId, token };
    case StreamEvent.DECLINED:
      return { event: StreamEvent.DECLINED, streamId, reason: field(event, p, 'reason', isString, 'must be a string'), token };
    case StreamEvent.CHUNK:
      return {
        event: StreamEvent.CHUNK,
        streamId,
        seq: field(event, p, 'seq', isPositive, 'must be a positive integer'),
        data: field(event, p, 'data', isAny, 'is required'),
        token,
      };
    case StreamEvent.COMPLETED:
      return { event: StreamEvent.COMPLETED, streamId, chunks: field(event, p, 'chunks', isCount, 'must be a count'), token };
    case StreamEvent.FAILED: {
      const error = field(event, p, 'error', isObject, 'must be an object with name and message');
      return {
        event: StreamEvent.FAILED,
        streamId,
        chunks: field(event, p, 'chunks', isCount, 'must be a count'),
        error: { name: String(error['name'] ?? 'Error'), message: String(error['message'] ?? '') },
        token,
      };
    }
    case StreamEvent.KEEPALIVE:
      return { event: StreamEvent.KEEPALIVE, streamId, written: field(event, p, 'written', isCount, 'must be a count'), token };
    case StreamEvent.ACK:
      return { event: StreamEvent.ACK, streamId, taken: field(event, p, 'taken', isCount, 'must be a count'), replyTo: replyTo(), token };
    case StreamEvent.CANCELLED:
      return { event: StreamEvent.CANCELLED, streamId, reason: field(event, p, 'reason', isString, 'must be a string'), replyTo: replyTo(), token };
    default:
      throw malformed(event, 'eventType', `must be a stream event (${STREAM_EVENTS.join(', ')}); got ${describeValue(event)}`);
  }
}
