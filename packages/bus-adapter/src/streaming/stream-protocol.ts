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
 *   producer -> consumer component   stream.created  { stream_id, window, metadata, reply_to }
 *   consumer instance -> producer    stream.accepted { stream_id, reply_to }
 *   producer -> that consumer        stream.started  { stream_id }
 * `reply_to` is the sender's instance address. The first replica to take `stream.created` accepts
 * it; the producer binds the stream to the first acceptance and sends everything else there. A
 * second acceptance (the bus may deliver `stream.created` twice, to two replicas) gets
 *   producer -> consumer instance    stream.declined { stream_id, reason }
 * and that replica drops the stream without showing it to its app. A consumer shows a stream to its
 * listener once the producer has bound it (`stream.started`, or any later message of the stream).
 *
 * Then, producer -> the consumer instance that accepted:
 *   stream.chunk     { stream_id, seq, data }          seq = 1, 2, 3...
 *   stream.completed { stream_id, chunks }
 *   stream.failed    { stream_id, chunks, error: { name, message } }
 *   stream.keepalive { stream_id, written }            sent when the producer has sent nothing for a while
 * and consumer instance -> producer instance:
 *   stream.ack       { stream_id, taken, reply_to }    chunks the reader has taken so far (cumulative);
 *                                                      repeated when the reader has sent nothing for a while
 *   stream.cancelled { stream_id, reason, reply_to }   also the answer of a component that refuses a stream
 *
 * The producer acts on acks and cancels only from the instance it bound the stream to (or, before
 * binding, on a cancel: the component refused the stream). Within one instance's group the
 * contract keeps one session's messages in publish order, so the reader sees created, chunks and
 * completed in order. Repeated acks heal lost ones; an unbound reader repeats `stream.accepted`
 * instead, which heals a lost acceptance or a lost `stream.started`. `written` in a keepalive
 * reveals a chunk that was lost for good: it counts only chunks the bus had accepted before the
 * keepalive was published.
 */
import { InvalidMessageError, describe, validateName, type JsonObject, type JsonValue, type MessageEnvelope } from '@woodwork/bus-core';

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

export type StreamMessage =
  | { event: typeof StreamEvent.CREATED; streamId: string; window: number; metadata: JsonObject; replyTo: string }
  | { event: typeof StreamEvent.ACCEPTED; streamId: string; replyTo: string }
  | { event: typeof StreamEvent.STARTED; streamId: string }
  | { event: typeof StreamEvent.DECLINED; streamId: string; reason: string }
  | { event: typeof StreamEvent.CHUNK; streamId: string; seq: number; data: JsonValue }
  | { event: typeof StreamEvent.COMPLETED; streamId: string; chunks: number }
  | { event: typeof StreamEvent.FAILED; streamId: string; chunks: number; error: RemoteError }
  | { event: typeof StreamEvent.KEEPALIVE; streamId: string; written: number }
  | { event: typeof StreamEvent.ACK; streamId: string; taken: number; replyTo: string }
  | { event: typeof StreamEvent.CANCELLED; streamId: string; reason: string; replyTo: string };

/** Messages the producer sends to the consumer instance it bound the stream to. */
export type ProducerMessage = Extract<StreamMessage, { event: 'stream.started' | 'stream.chunk' | 'stream.completed' | 'stream.failed' | 'stream.keepalive' }>;
/** Messages a consumer instance sends to the producer instance. */
export type ConsumerMessage = Extract<StreamMessage, { event: 'stream.accepted' | 'stream.ack' | 'stream.cancelled' }>;

/** The payload a stream message travels with. */
export function toPayload(message: StreamMessage): JsonObject {
  switch (message.event) {
    case StreamEvent.CREATED:
      return { stream_id: message.streamId, window: message.window, metadata: message.metadata, reply_to: message.replyTo };
    case StreamEvent.ACCEPTED:
      return { stream_id: message.streamId, reply_to: message.replyTo };
    case StreamEvent.STARTED:
      return { stream_id: message.streamId };
    case StreamEvent.DECLINED:
      return { stream_id: message.streamId, reason: message.reason };
    case StreamEvent.CHUNK:
      return { stream_id: message.streamId, seq: message.seq, data: message.data };
    case StreamEvent.COMPLETED:
      return { stream_id: message.streamId, chunks: message.chunks };
    case StreamEvent.FAILED:
      return { stream_id: message.streamId, chunks: message.chunks, error: { name: message.error.name, message: message.error.message } };
    case StreamEvent.KEEPALIVE:
      return { stream_id: message.streamId, written: message.written };
    case StreamEvent.ACK:
      return { stream_id: message.streamId, taken: message.taken, reply_to: message.replyTo };
    case StreamEvent.CANCELLED:
      return { stream_id: message.streamId, reason: message.reason, reply_to: message.replyTo };
  }
}

function field<T>(payload: JsonObject, key: string, ok: (v: unknown) => v is T, rule: string): T {
  const value = payload[key];
  if (!ok(value)) throw new InvalidMessageError(`payload.${key}`, `${rule}; got ${describe(value)}`);
  return value;
}

const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 200;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;
const isPositive = (v: unknown): v is number => isCount(v) && v > 0;
const isString = (v: unknown): v is string => typeof v === 'string';
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAny = (v: unknown): v is JsonValue => v !== undefined;

/**
 * Reads a stream message from an envelope. A malformed one throws `InvalidMessageError` naming the
 * field (the bus then retries and dead-letters it, so it is visible, not silently dropped).
 */
export function parseStreamMessage(envelope: MessageEnvelope): StreamMessage {
  const p = envelope.payload;
  const streamId = field(p, 'stream_id', isId, 'must be a stream id (1-200 characters)');
  // The bus's name rule: a reply address becomes the `componentTarget` of the answers.
  const replyTo = (): string => validateName(p['reply_to'], 'payload.reply_to');
  switch (envelope.eventType) {
    case StreamEvent.CREATED:
      return {
        event: StreamEvent.CREATED,
        streamId,
        window: field(p, 'window', isPositive, 'must be a positive integer'),
        metadata: p['metadata'] === undefined ? {} : field(p, 'metadata', isObject, 'must be an object'),
        replyTo: replyTo(),
      };
    case StreamEvent.ACCEPTED:
      return { event: StreamEvent.ACCEPTED, streamId, replyTo: replyTo() };
    case StreamEvent.STARTED:
      return { event: StreamEvent.STARTED, streamId };
    case StreamEvent.DECLINED:
      return { event: StreamEvent.DECLINED, streamId, reason: field(p, 'reason', isString, 'must be a string') };
    case StreamEvent.CHUNK:
      return { event: StreamEvent.CHUNK, streamId, seq: field(p, 'seq', isPositive, 'must be a positive integer'), data: field(p, 'data', isAny, 'is required') };
    case StreamEvent.COMPLETED:
      return { event: StreamEvent.COMPLETED, streamId, chunks: field(p, 'chunks', isCount, 'must be a count') };
    case StreamEvent.FAILED: {
      const error = field(p, 'error', isObject, 'must be an object with name and message');
      return {
        event: StreamEvent.FAILED,
        streamId,
        chunks: field(p, 'chunks', isCount, 'must be a count'),
        error: { name: String(error['name'] ?? 'Error'), message: String(error['message'] ?? '') },
      };
    }
    case StreamEvent.KEEPALIVE:
      return { event: StreamEvent.KEEPALIVE, streamId, written: field(p, 'written', isCount, 'must be a count') };
    case StreamEvent.ACK:
      return { event: StreamEvent.ACK, streamId, taken: field(p, 'taken', isCount, 'must be a count'), replyTo: replyTo() };
    case StreamEvent.CANCELLED:
      return { event: StreamEvent.CANCELLED, streamId, reason: field(p, 'reason', isString, 'must be a string'), replyTo: replyTo() };
    default:
      throw new InvalidMessageError('eventType', `must be a stream event (${STREAM_EVENTS.join(', ')}); got ${describe(envelope.eventType)}`);
  }
}
