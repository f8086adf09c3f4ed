/**
 * The bad-input rules, the same on every backend, on publish and on decode. Each failure is an
 * `InvalidMessageError` naming the field and the rule, thrown before anything is sent (publish) or
 * before a handler sees it (decode).
 */
import { describeRange, describeValue } from './describe-value.js';
import { MessageDeliveryMode, MessagePattern, type JsonObject, type MessageEnvelope } from './envelope.js';
import { InvalidMessageError } from './errors.js';
import { encodeJsonCopy, encodeJsonObject, measureJsonCopy } from './json-text.js';
import { hasUnsafeCharacters } from './text-safety.js';

export { describeValue } from './describe-value.js';
export { MAX_JSON_DEPTH, assertParsedJsonDepth, encodeJsonCopy, encodeJsonObject, isPlainObject, measureJsonCopy, type EncodedJson, type MeasuredJson } from './json-text.js';
export { escapeControlCharacters, hasLoneSurrogate, hasUnsafeCharacters } from './text-safety.js';

const TOKEN = '[A-Za-z0-9_-]+';
const EVENT_TYPE_RE = new RegExp(`^${TOKEN}(?:\\.${TOKEN})*$`);
/** Session ids, component names, group names: 1-128 letters, digits, `_`, `-`. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_EVENT_TYPE_LENGTH = 255;
const MAX_MESSAGE_ID_LENGTH = 255;
const SPACE_RE = /\s/;

/** Largest timestamp: 9999-12-31T23:59:59Z in seconds, the last second Python's `datetime` shows. */
export const MAX_TIMESTAMP_SECONDS = 253_402_300_799;

export const EVENT_TYPE_RULE =
  'must be dot-separated tokens of letters, digits, "_" and "-" (no spaces, "*", ">", "{", "}", ":"), at most 255 characters';
export const NAME_RULE = 'must be 1-128 letters, digits, "_" or "-" (no dots, spaces, "*", ">", "{", "}", ":")';
export const MESSAGE_ID_RULE =
  'must be 1-255 characters without spaces, control characters (C0, C1), bidirectional overrides or lone surrogates';

const DELIVERY_MODES: readonly string[] = Object.values(MessageDeliveryMode);
const PATTERNS: readonly string[] = Object.values(MessagePattern);

export function validateEventType(value: unknown, field = 'eventType'): string {
  if (typeof value !== 'string' || value.length > MAX_EVENT_TYPE_LENGTH || !EVENT_TYPE_RE.test(value)) {
    throw new InvalidMessageError(field, `${EVENT_TYPE_RULE}; got ${describeValue(value)}`);
  }
  return value;
}

/** Session ids, component names and group names. */
export function validateName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new InvalidMessageError(field, `${NAME_RULE}; got ${describeValue(value)}`);
  }
  return value;
}

/** A subscription pattern is an exact event type or `*`. */
export function validateEventPattern(value: unknown): string {
  if (value === '*') return value;
  return validateEventType(value, 'eventPattern');
}

/** Message ids are free text chosen by callers, so they are where terminal and bidi tricks would hide. */
export function validateMessageId(value: unknown, field = 'messageId'): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_MESSAGE_ID_LENGTH ||
    SPACE_RE.test(value) ||
    hasUnsafeCharacters(value)
  ) {
    throw new InvalidMessageError(field, `${MESSAGE_ID_RULE}; got ${describeValue(value)}`);
  }
  return value;
}

/** Seconds since the epoch from 0 to `MAX_TIMESTAMP_SECONDS`. */
export function validateTimestamp(value: unknown, field = 'timestamp'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIMESTAMP_SECONDS) {
    throw new InvalidMessageError(
      field,
      `must be seconds since the epoch from 0 to ${MAX_TIMESTAMP_SECONDS} (the year 9999); got ${describeValue(value)}`,
    );
  }
  return value;
}

export function validateDeliveryMode(value: unknown, field = 'deliveryMode'): MessageDeliveryMode {
  if (typeof value !== 'string' || !DELIVERY_MODES.includes(value)) {
    throw new InvalidMessageError(field, `must be one of ${DELIVERY_MODES.join(', ')}; got ${describeValue(value)}`);
  }
  return value as MessageDeliveryMode;
}

export function validatePattern(value: unknown, field = 'pattern'): MessagePattern {
  if (typeof value !== 'string' || !PATTERNS.includes(value)) {
    throw new InvalidMessageError(field, `must be one of ${PATTERNS.join(', ')}; got ${describeValue(value)}`);
  }
  return value as MessagePattern;
}

function validateCount(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidMessageError(field, `must be ${describeRange('an integer', 0, max)}; got ${describeValue(value)}`);
  }
  return value;
}

export const MAX_RETRIES_LIMIT = 100;

/**
 * Checks that a value is plain JSON (objects with a plain prototype, arrays, strings, finite numbers,
 * booleans, null) nested at most `MAX_JSON_DEPTH` levels, so what a handler receives equals what
 * was published, on every backend. `encodeJsonObject` does the same and returns the JSON text.
 */
export function assertJsonObject(value: unknown, field: string): void {
  encodeJsonObject(value, field);
}

export interface EnvelopeLimits {
  /** Largest UTF-8 size of the JSON payload plus metadata, in bytes. */
  maxPayloadBytes: number;
}

/** An envelope's payload and metadata as JSON text, made once while validating. */
export interface EncodedBody {
  payloadJson: string;
  metadataJson: string;
  /** UTF-8 bytes of both. */
  size: number;
  /**
   * The plain copies of payload and metadata that the checks read and the text encodes: fresh
   * objects no one else holds, equal to decoding the text (`encodeJsonCopy`). A backend without a
   * wire (memory) may give them to one handler instead of decoding the text; never to two.
   */
  payloadCopy: JsonObject;
  metadataCopy: JsonObject;
}

/**
 * Validates an envelope against every rule and returns its encoded payload+metadata size in bytes.
 * Throws `InvalidMessageError` naming the first broken field.
 */
export function validateEnvelope(envelope: MessageEnvelope, limits: EnvelopeLimits): number {
  return validateAndEncodeBody(envelope, limits).size;
}

/**
 * `validateEnvelope`, also returning the JSON text of payload and metadata. That text is what the
 * checks saw (one pass, each property read once, `toJSON` never called): send it, or decode the
 * handler's copy from it, and never stringify the original objects again.
 */
export function validateAndEncodeBody(envelope: MessageEnvelope, limits: EnvelopeLimits): EncodedBody {
  validateEnvelopeFields(envelope);
  const payload = encodeJsonCopy(envelope.payload, 'payload');
  const metadata = encodeJsonCopy(envelope.metadata, 'metadata');
  const payloadJson = payload.json;
  const metadataJson = metadata.json;
  const size = Buffer.byteLength(payloadJson) + Buffer.byteLength(metadataJson);
  if (size > limits.maxPayloadBytes) {
    throw new InvalidMessageError('payload', `must be at most ${limits.maxPayloadBytes} bytes of JSON with metadata; got ${size} bytes`);
  }
  return { payloadJson, metadataJson, size, payloadCopy: payload.copy, metadataCopy: metadata.copy };
}

/** The checked plain copies of payload and metadata and the size of their JSON text, without the text. */
export type MeasuredBody = Omit<EncodedBody, 'payloadJson' | 'metadataJson'>;

/**
 * `validateAndEncodeBody` for a backend that sends no text (memory): the same checks, the same copies
 * and the same `size`, without making the text (`measureJsonCopy`).
 */
export function validateAndMeasureBody(envelope: MessageEnvelope, limits: EnvelopeLimits): MeasuredBody {
  validateEnvelopeFields(envelope);
  const payload = measureJsonCopy(envelope.payload, 'payload');
  const metadata = measureJsonCopy(envelope.metadata, 'metadata');
  const size = payload.bytes + metadata.bytes;
  if (size > limits.maxPayloadBytes) {
    throw new InvalidMessageError('payload', `must be at most ${limits.maxPayloadBytes} bytes of JSON with metadata; got ${size} bytes`);
  }
  return { size, payloadCopy: payload.copy, metadataCopy: metadata.copy };
}

/** Every rule of `validateEnvelope` but the payload and metadata ones (ids, names, ranges, enums). */
export function validateEnvelopeFields(envelope: MessageEnvelope): void {
  if (typeof envelope !== 'object' || envelope === null) {
    throw new InvalidMessageError('envelope', `must be an object; got ${describeValue(envelope)}`);
  }
  validateMessageId(envelope.messageId);
  validateName(envelope.sessionId, 'sessionId');
  validateEventType(envelope.eventType);
  validateName(envelope.componentSource, 'componentSource');
  if (envelope.componentTarget !== null && envelope.componentTarget !== undefined) {
    validateName(envelope.componentTarget, 'componentTarget');
  }
  validateTimestamp(envelope.timestamp);
  validateDeliveryMode(envelope.deliveryMode);
  validatePattern(envelope.pattern);
  validateCount(envelope.retryCount, 'retryCount', Number.MAX_SAFE_INTEGER);
  validateCount(envelope.maxRetries, 'maxRetries', MAX_RETRIES_LIMIT);
}
