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
import { describe, validateDeliveryMode, validatePattern } from './validation.js';

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
  return {
    message_id: envelope.messageId,
    session_id: envelope.sessionId,
    event_type: envelope.eventType,
    component_source: envelope.componentSource,
    component_target: envelope.componentTarget,
    timestamp: envelope.timestamp,
    delivery_mode: envelope.deliveryMode,
    pattern: envelope.pattern,
    payload: envelope.payload,
    metadata: envelope.metadata,
    retry_count: envelope.retryCount,
    max_retries: envelope.maxRetries,
  };
}

/**
 * The design's `from_dict()`: the four identity keys are required, the rest take its defaults
 * (a missing or null timestamp is "now"). Unknown keys are ignored; unknown enum values and wrong
 * types are rejected with `InvalidMessageError` naming the wire key.
 */
export function fromWire(data: unknown): MessageEnvelope {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InvalidMessageError('envelope', `must be a JSON object; got ${describe(data)}`);
  }
  const d = data as Record<string, unknown>;
  return {
    messageId: requiredString(d, 'message_id'),
    sessionId: requiredString(d, 'session_id'),
    eventType: requiredString(d, 'event_type'),
    componentSource: requiredString(d, 'component_source'),
    componentTarget: optionalString(d, 'component_target'),
    timestamp: d['timestamp'] == null ? nowSeconds() : number(d, 'timestamp'),
    deliveryMode: validateDeliveryMode(d['delivery_mode'] ?? MessageDeliveryMode.AT_LEAST_ONCE, 'delivery_mode'),
    pattern: validatePattern(d['pattern'] ?? MessagePattern.POINT_TO_POINT, 'pattern'),
    payload: object(d, 'payload'),
    metadata: object(d, 'metadata'),
    retryCount: d['retry_count'] == null ? 0 : integer(d, 'retry_count'),
    maxRetries: d['max_retries'] == null ? DEFAULT_MAX_RETRIES : integer(d, 'max_retries'),
  };
}

/** JSON text of the wire form. */
export function encodeEnvelope(envelope: MessageEnvelope): string {
  return JSON.stringify(toWire(envelope));
}

/** Parses JSON text of the wire form; bad JSON is an `InvalidMessageError` on `envelope`. */
export function decodeEnvelope(text: string): MessageEnvelope {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new InvalidMessageError('envelope', `must be valid JSON (${(cause as Error).message})`, { cause });
  }
  return fromWire(data);
}

function requiredString(d: Record<string, unknown>, key: string): string {
  const value = d[key];
  if (typeof value !== 'string') throw new InvalidMessageError(key, `is required and must be a string; got ${describe(value)}`);
  return value;
}

function optionalString(d: Record<string, unknown>, key: string): string | null {
  const value = d[key];
  if (value == null) return null;
  if (typeof value !== 'string') throw new InvalidMessageError(key, `must be a string or null; got ${describe(value)}`);
  return value;
}

function number(d: Record<string, unknown>, key: string): number {
  const value = d[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new InvalidMessageError(key, `must be a number; got ${describe(value)}`);
  return value;
}

function integer(d: Record<string, unknown>, key: string): number {
  const value = number(d, key);
  if (!Number.isInteger(value)) throw new InvalidMessageError(key, `must be an integer; got ${describe(value)}`);
  return value;
}

function object(d: Record<string, unknown>, key: string): JsonObject {
  const value = d[key];
  if (value == null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new InvalidMessageError(key, `must be an object; got ${describe(value)}`);
  return value as JsonObject;
}
