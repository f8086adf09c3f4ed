/**
 * The bad-input rules, the same on every backend. Each failure is an `InvalidMessageError` naming
 * the field and the rule, thrown before anything is sent.
 */
import { MessageDeliveryMode, MessagePattern, type MessageEnvelope } from './envelope.js';
import { InvalidMessageError } from './errors.js';

const TOKEN = '[A-Za-z0-9_-]+';
const EVENT_TYPE_RE = new RegExp(`^${TOKEN}(?:\\.${TOKEN})*$`);
/** Session ids, component names, group names: 1-128 letters, digits, `_`, `-`. */
export const NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const MAX_EVENT_TYPE_LENGTH = 255;
const MAX_MESSAGE_ID_LENGTH = 255;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_SPACE_RE = /[\s\u0000-\u001f\u007f]/;

export const EVENT_TYPE_RULE =
  'must be dot-separated tokens of letters, digits, "_" and "-" (no spaces, "*", ">", "{", "}", ":"), at most 255 characters';
export const NAME_RULE = 'must be 1-128 letters, digits, "_" or "-" (no dots, spaces, "*", ">", "{", "}", ":")';

const DELIVERY_MODES: readonly string[] = Object.values(MessageDeliveryMode);
const PATTERNS: readonly string[] = Object.values(MessagePattern);

export function validateEventType(value: unknown, field = 'eventType'): string {
  if (typeof value !== 'string' || value.length > MAX_EVENT_TYPE_LENGTH || !EVENT_TYPE_RE.test(value)) {
    throw new InvalidMessageError(field, `${EVENT_TYPE_RULE}; got ${describe(value)}`);
  }
  return value;
}

/** Session ids, component names and group names. */
export function validateName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !NAME_PATTERN.test(value)) {
    throw new InvalidMessageError(field, `${NAME_RULE}; got ${describe(value)}`);
  }
  return value;
}

/** A subscription pattern is an exact event type or `*`. */
export function validateEventPattern(value: unknown): string {
  if (value === '*') return value;
  return validateEventType(value, 'eventPattern');
}

export function validateMessageId(value: unknown): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > MAX_MESSAGE_ID_LENGTH ||
    CONTROL_OR_SPACE_RE.test(value)
  ) {
    throw new InvalidMessageError('messageId', `must be 1-255 characters without spaces or control characters; got ${describe(value)}`);
  }
  return value;
}

export function validateDeliveryMode(value: unknown, field = 'deliveryMode'): MessageDeliveryMode {
  if (typeof value !== 'string' || !DELIVERY_MODES.includes(value)) {
    throw new InvalidMessageError(field, `must be one of ${DELIVERY_MODES.join(', ')}; got ${describe(value)}`);
  }
  return value as MessageDeliveryMode;
}

export function validatePattern(value: unknown, field = 'pattern'): MessagePattern {
  if (typeof value !== 'string' || !PATTERNS.includes(value)) {
    throw new InvalidMessageError(field, `must be one of ${PATTERNS.join(', ')}; got ${describe(value)}`);
  }
  return value as MessagePattern;
}

function validateCount(value: unknown, field: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidMessageError(field, `must be an integer from 0 to ${max}; got ${describe(value)}`);
  }
  return value;
}

export const MAX_RETRIES_LIMIT = 100;

/**
 * Checks that a value is plain JSON (objects with a plain prototype, arrays, strings, finite numbers,
 * booleans, null) so what a handler receives equals what was published, on every backend.
 */
export function assertJsonObject(value: unknown, field: string): void {
  if (!isPlainObject(value)) {
    throw new InvalidMessageError(field, `must be a plain JSON object; got ${describe(value)}`);
  }
  assertJsonValue(value, field, new Set());
}

function assertJsonValue(value: unknown, path: string, ancestors: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(value)) throw new InvalidMessageError(path, `must be JSON-serialisable; ${value} is not a finite number`);
      return;
    case 'object': {
      if (value === null) return;
      if (ancestors.has(value)) throw new InvalidMessageError(path, 'must be JSON-serialisable; it refers to itself (cycle)');
      ancestors.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) assertJsonValue(value[i], `${path}[${i}]`, ancestors);
      } else if (isPlainObject(value)) {
        for (const key of Object.keys(value)) assertJsonValue((value as Record<string, unknown>)[key], `${path}.${key}`, ancestors);
      } else {
        throw new InvalidMessageError(path, `must be JSON-serialisable; got ${describe(value)}`);
      }
      ancestors.delete(value);
      return;
    }
    default:
      throw new InvalidMessageError(path, `must be JSON-serialisable; got ${describe(value)}`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
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
}

/**
 * Validates an envelope against every rule and returns its encoded payload+metadata size in bytes.
 * Throws `InvalidMessageError` naming the first broken field.
 */
export function validateEnvelope(envelope: MessageEnvelope, limits: EnvelopeLimits): number {
  return validateAndEncodeBody(envelope, limits).size;
}

/** `validateEnvelope`, also returning the JSON text it made (backends reuse it instead of encoding again). */
export function validateAndEncodeBody(envelope: MessageEnvelope, limits: EnvelopeLimits): EncodedBody {
  if (typeof envelope !== 'object' || envelope === null) {
    throw new InvalidMessageError('envelope', `must be an object; got ${describe(envelope)}`);
  }
  validateMessageId(envelope.messageId);
  validateName(envelope.sessionId, 'sessionId');
  validateEventType(envelope.eventType);
  validateName(envelope.componentSource, 'componentSource');
  if (envelope.componentTarget !== null && envelope.componentTarget !== undefined) {
    validateName(envelope.componentTarget, 'componentTarget');
  }
  if (typeof envelope.timestamp !== 'number' || !Number.isFinite(envelope.timestamp) || envelope.timestamp < 0) {
    throw new InvalidMessageError('timestamp', `must be a finite number of seconds since the epoch; got ${describe(envelope.timestamp)}`);
  }
  validateDeliveryMode(envelope.deliveryMode);
  validatePattern(envelope.pattern);
  validateCount(envelope.retryCount, 'retryCount', Number.MAX_SAFE_INTEGER);
  validateCount(envelope.maxRetries, 'maxRetries', MAX_RETRIES_LIMIT);
  assertJsonObject(envelope.payload, 'payload');
  assertJsonObject(envelope.metadata, 'metadata');
  const payloadJson = JSON.stringify(envelope.payload);
  const metadataJson = JSON.stringify(envelope.metadata);
  const size = utf8Length(payloadJson) + utf8Length(metadataJson);
  if (size > limits.maxPayloadBytes) {
    throw new InvalidMessageError('payload', `must be at most ${limits.maxPayloadBytes} bytes of JSON with metadata; got ${size} bytes`);
  }
  return { payloadJson, metadataJson, size };
}

function utf8Length(text: string): number {
  return Buffer.byteLength(text);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return `${typeof value} ${String(value)}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  if (Array.isArray(value)) return 'an array';
  const ctor = (value as object).constructor?.name;
  return ctor && ctor !== 'Object' ? `an instance of ${ctor}` : 'an object';
}
