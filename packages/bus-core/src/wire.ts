/**
 * The wire form: exactly the design's `MessageEnvelope.to_dict()` / `from_dict()` JSON, so a Python
 * woodwork process and a TypeScript one can share one bus.
 *
 * Rules for evolving the wire form (also in the README):
 * - Keys are snake_case and never renamed or removed; their meaning never changes.
 * - A new key is optional, has a default that means "old behaviour", and old readers ignore it:
 *   `fromWire` ignores unknown keys, never fails on them.
 * - A new enum value is a breaking change: old readers reject it (they cannot honour it), so it
 *   needs a major version of every package and of the Python side.
 */
import {
  DEFAULT_MAX_RETRIES,
  MessageDeliveryMode,
  MessagePattern,
  nowSeconds,
  type JsonObject,
  type MessageEnvelope,
} from './envelope.js';
import { InvalidMessageError } from './errors.js';
import { describeValue } from './describe-value.js';
import { assertParsedJsonDepth, validateAndEncodeBody, validateDeliveryMode, validateEnvelopeFields, validatePattern, type EnvelopeLimits } from './validation.js';

export interface WireEnvelope {
  message_id: string;
  session_id: string;
  event_type: string;
  component_source: string;
  component_target: string | null;
  timestamp: number;
  delivery_mode: MessageDeliveryMode;
  pattern: MessagePattern;
  payload: JsonObject;
  metadata: JsonObject;
  retry_count: number;
  max_retries: number;
}

/** The design's `to_dict()`: every key, in its order. */
export function toWire(envelope: MessageEnvelope): WireEnvelope {
  return wireForm(envelope, envelope.payload, envelope.metadata);
}

/** The wire form of `envelope` with the given payload and metadata. */
function wireForm(envelope: MessageEnvelope, payload: JsonObject, metadata: JsonObject): WireEnvelope {
  return {
    message_id: envelope.messageId,
    session_id: envelope.sessionId,
    event_type: envelope.eventType,
    component_source: envelope.componentSource,
    component_target: envelope.componentTarget,
    timestamp: envelope.timestamp,
    delivery_mode: envelope.deliveryMode,
    pattern: envelope.pattern,
    payload,
    metadata,
    retry_count: envelope.retryCount,
    max_retries: envelope.maxRetries,
  };
}

/**
 * The design's `from_dict()`: the four identity keys are required, the rest take its defaults
 * (a missing or null timestamp is "now"). Unknown keys are ignored; unknown enum values and wrong
 * types are rejected with `InvalidMessageError` naming the wire key.
 *
 * This is the unchecked step: it maps the shape and types only. It does not apply the publish
 * rules (id characters, name and event-type syntax, timestamp and retry ranges, payload depth and
 * size), so its result may be an envelope `publish` would refuse. Anything read from a wire goes
 * through `decodeEnvelope` (text) or `checkWireEnvelope` (parsed data), which add those rules.
 */
export function fromWire(data: unknown): MessageEnvelope {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InvalidMessageError('envelope', `must be a JSON object; got ${describeValue(data)}`);
  }
  // Own keys only: a key inherited from a prototype is not part of the entry (read in place
  // through `own`: a copy into a null-prototype object cost a reader more than the checks).
  const d = data as Record<string, unknown>;
  return {
    messageId: requiredString(d, 'message_id'),
    sessionId: requiredString(d, 'session_id'),
    eventType: requiredString(d, 'event_type'),
    componentSource: requiredString(d, 'component_source'),
    componentTarget: optionalString(d, 'component_target'),
    timestamp: own(d, 'timestamp') == null ? nowSeconds() : number(d, 'timestamp'),
    deliveryMode: validateDeliveryMode(own(d, 'delivery_mode') ?? MessageDeliveryMode.AT_LEAST_ONCE, 'delivery_mode'),
    pattern: validatePattern(own(d, 'pattern') ?? MessagePattern.POINT_TO_POINT, 'pattern'),
    payload: object(d, 'payload'),
    metadata: object(d, 'metadata'),
    retryCount: own(d, 'retry_count') == null ? 0 : integer(d, 'retry_count'),
    maxRetries: own(d, 'max_retries') == null ? DEFAULT_MAX_RETRIES : integer(d, 'max_retries'),
  };
}

/** JSON text of the wire form. For a message being published, use `encodeWireText` with the checked body. */
export function encodeEnvelope(envelope: MessageEnvelope): string {
  return JSON.stringify(toWire(envelope));
}

/**
 * The wire JSON text of a checked message: the envelope's own fields around the payload and
 * metadata text `preparePublish` made while validating (`payloadJson`, `metadataJson`), so the
 * bytes sent are the bytes checked. Same text as `encodeEnvelope` for plain data.
 */
export function encodeWireText(envelope: MessageEnvelope, body: { payloadJson: string; metadataJson: string }): string {
  const head = JSON.stringify({
    message_id: envelope.messageId,
    session_id: envelope.sessionId,
    event_type: envelope.eventType,
    component_source: envelope.componentSource,
    component_target: envelope.componentTarget,
    timestamp: envelope.timestamp,
    delivery_mode: envelope.deliveryMode,
    pattern: envelope.pattern,
  });
  return `${head.slice(0, -1)},"payload":${body.payloadJson},"metadata":${body.metadataJson},"retry_count":${JSON.stringify(envelope.retryCount)},"max_retries":${JSON.stringify(envelope.maxRetries)}}`;
}

/**
 * The wire JSON text of a message checked by `prepareCheckedPublish`: the wire form with its checked
 * plain copies as payload and metadata, made by one `JSON.stringify`, so the bytes sent are those of
 * what was checked. The same text as `encodeWireText`, with a third less garbage (no separate
 * payload text to measure and splice: a 1 KiB payload made 5.9 KB per publish that way and 3.9 KB
 * this way, against 2.7 KB for a bare `JSON.stringify`: `npm run bench -- publish-garbage`), which
 * the collector of a busy publisher pays for in pauses.
 */
export function encodeCheckedWire(envelope: MessageEnvelope, body: { payloadCopy: JsonObject; metadataCopy: JsonObject }): string {
  return JSON.stringify(wireForm(envelope, body.payloadCopy, body.metadataCopy));
}

/**
 * Reads JSON text of the wire form and checks it as `publish` checks a new message: the shape
 * (`fromWire`) and then every rule of `validateEnvelope` (ids, names, event type, timestamp from 0
 * to the year 9999, retry counts, payload and metadata plain JSON at most `MAX_JSON_DEPTH` deep,
 * and at most `limits.maxPayloadBytes` when given). Anything that fails is an
 * `InvalidMessageError` naming the wire-side field (bad JSON: `envelope`); a backend dead-letters
 * such an entry once, with `undecodableDeadLetter`, and never retries it.
 */
export function decodeEnvelope(text: string, limits?: Partial<EnvelopeLimits>): MessageEnvelope {
  if (typeof text !== 'string') throw new InvalidMessageError('envelope', `must be JSON text; got ${describeValue(text)}`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new InvalidMessageError('envelope', `must be valid JSON (${(cause as Error).message})`, { cause });
  }
  const maxPayloadBytes = limits?.maxPayloadBytes ?? Number.POSITIVE_INFINITY;
  if (maxPayloadBytes !== Number.POSITIVE_INFINITY) return checkWireEnvelope(data, limits);
  // No size limit: what JSON.parse made is plain JSON already, so only the depth is left to check
  // (no copy, no second encode of the payload).
  try {
    const envelope = fromWire(data);
    validateEnvelopeFields(envelope);
    assertParsedJsonDepth(envelope.payload, 'payload');
    assertParsedJsonDepth(envelope.metadata, 'metadata');
    return envelope;
  } catch (error) {
    throw withWireFieldName(error);
  }
}

/** `decodeEnvelope` for data already parsed from JSON (or read from a field map). */
export function checkWireEnvelope(data: unknown, limits?: Partial<EnvelopeLimits>): MessageEnvelope {
  const envelope = fromWire(data);
  try {
    validateAndEncodeBody(envelope, { maxPayloadBytes: limits?.maxPayloadBytes ?? Number.POSITIVE_INFINITY });
    return envelope;
  } catch (error) {
    throw withWireFieldName(error);
  }
}

/**
 * A failed publish check of a decoded envelope, its field named by its wire key (`message_id`,
 * `payload.items[3]`) as the writer wrote it, not our camelCase field; any other error as it is.
 */
function withWireFieldName(error: unknown): unknown {
  if (!(error instanceof InvalidMessageError)) return error;
  const dot = error.field.search(/[.[]/);
  const head = dot < 0 ? error.field : error.field.slice(0, dot);
  const wireHead = WIRE_KEY_OF[head];
  if (wireHead === undefined) return error;
  return new InvalidMessageError(wireHead + (dot < 0 ? '' : error.field.slice(dot)), error.rule, { cause: error.cause });
}

const WIRE_KEY_OF: Readonly<Record<string, string>> = {
  messageId: 'message_id',
  sessionId: 'session_id',
  eventType: 'event_type',
  componentSource: 'component_source',
  componentTarget: 'component_target',
  timestamp: 'timestamp',
  deliveryMode: 'delivery_mode',
  pattern: 'pattern',
  payload: 'payload',
  metadata: 'metadata',
  retryCount: 'retry_count',
  maxRetries: 'max_retries',
};

/** The value of `key` when it is an own key of `d`, else undefined. */
function own(d: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(d, key) ? d[key] : undefined;
}

function requiredString(d: Record<string, unknown>, key: string): string {
  const value = own(d, key);
  if (typeof value !== 'string') throw new InvalidMessageError(key, `is required and must be a string; got ${describeValue(value)}`);
  return value;
}

function optionalString(d: Record<string, unknown>, key: string): string | null {
  const value = own(d, key);
  if (value == null) return null;
  if (typeof value !== 'string') throw new InvalidMessageError(key, `must be a string or null; got ${describeValue(value)}`);
  return value;
}

function number(d: Record<string, unknown>, key: string): number {
  const value = own(d, key);
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidMessageError(key, `must be a number; got ${describeValue(value)}`);
  return value;
}

function integer(d: Record<string, unknown>, key: string): number {
  const value = number(d, key);
  if (!Number.isInteger(value)) throw new InvalidMessageError(key, `must be an integer; got ${describeValue(value)}`);
  return value;
}

function object(d: Record<string, unknown>, key: string): JsonObject {
  const value = own(d, key);
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidMessageError(key, `must be an object; got ${describeValue(value)}`);
  return value as JsonObject;
}
