/**
 * The message envelope of the design (section 1), in TypeScript form. Inside TypeScript fields are
 * camelCase; `wire.ts` maps them to the design's snake_case `to_dict()` form in one place.
 */
// Node's own uuid v4: a flat string (a JS-built one is a tree of ~19 concatenated pieces, ~600 B).
import { randomUUID } from 'node:crypto';

export const MessageDeliveryMode = {
  AT_MOST_ONCE: 'at_most_once',
  AT_LEAST_ONCE: 'at_least_once',
  EXACTLY_ONCE: 'exactly_once',
} as const;
export type MessageDeliveryMode = (typeof MessageDeliveryMode)[keyof typeof MessageDeliveryMode];

export const MessagePattern = {
  PUB_SUB: 'pub_sub',
  POINT_TO_POINT: 'point_to_point',
  STREAM: 'stream',
} as const;
export type MessagePattern = (typeof MessagePattern)[keyof typeof MessagePattern];

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/**
 * `P` is the payload's type, for code that knows it (`MessageEnvelope<Thought>`): a handler written
 * against it is type-checked, field by field. It is a promise about the shape, not a conversion:
 * at run time `publish` still checks that the payload is a JSON object, and a handler gets what was
 * published. Interfaces and type aliases both work; without `P` the payload is a `JsonObject`.
 */
export interface MessageEnvelope<P extends object = JsonObject> {
  /** Unique id; the adapter makes `msg-<uuid v4>`. Used for dedupe of `exactly_once`. */
  readonly messageId: string;
  readonly sessionId: string;
  /** Dot-separated tokens, e.g. `stream.chunk`. */
  readonly eventType: string;
  readonly componentSource: string;
  /** With `point_to_point` / `stream`: the one component (group) that receives it. */
  readonly componentTarget: string | null;
  /** Seconds since the epoch, as a float (Python's `time.time()`). */
  readonly timestamp: number;
  readonly deliveryMode: MessageDeliveryMode;
  readonly pattern: MessagePattern;
  readonly payload: P;
  readonly metadata: JsonObject;
  /** On delivery: attempt number minus one. */
  readonly retryCount: number;
  /** Attempts = maxRetries + 1. */
  readonly maxRetries: number;
}

/**
 * What a caller gives to make an envelope; everything else takes the design's defaults. With a
 * payload type `P` that has required fields, `payload` is required too (an empty `{}` is not a `P`).
 */
export type EnvelopeInit<P extends object = JsonObject> = EnvelopeFields & ({} extends P ? { payload?: P } : { payload: P });

interface EnvelopeFields {
  messageId?: string;
  sessionId: string;
  eventType: string;
  componentSource: string;
  componentTarget?: string | null;
  timestamp?: number;
  deliveryMode?: MessageDeliveryMode;
  pattern?: MessagePattern;
  metadata?: JsonObject;
  retryCount?: number;
  maxRetries?: number;
}

export const DEFAULT_MAX_RETRIES = 3;

export function newMessageId(): string {
  return `msg-${randomUUID()}`;
}

/** Seconds since the epoch as a float, like Python's `time.time()`. */
export function nowSeconds(): number {
  return Date.now() / 1000;
}

/**
 * Builds an envelope with the design's defaults (`__post_init__`): a fresh id, the current time,
 * `at_least_once`, `point_to_point`, empty payload and metadata, `retryCount` 0, `maxRetries` 3
 * (or `defaults.maxRetries`: a bus passes its configured default).
 * It does not validate; `publish` does, before anything is sent.
 */
export function createEnvelope<P extends object = JsonObject>(init: EnvelopeInit<P>, defaults?: { maxRetries?: number }): MessageEnvelope<P> {
  return {
    messageId: init.messageId ?? newMessageId(),
    sessionId: init.sessionId,
    eventType: init.eventType,
    componentSource: init.componentSource,
    componentTarget: init.componentTarget ?? null,
    timestamp: init.timestamp ?? nowSeconds(),
    deliveryMode: init.deliveryMode ?? MessageDeliveryMode.AT_LEAST_ONCE,
    pattern: init.pattern ?? MessagePattern.POINT_TO_POINT,
    payload: init.payload ?? ({} as P),
    metadata: init.metadata ?? {},
    retryCount: init.retryCount ?? 0,
    maxRetries: init.maxRetries ?? defaults?.maxRetries ?? DEFAULT_MAX_RETRIES,
  };
}

/** True for messages routed to one component: `point_to_point` or `stream` with a target. */
export function isTargeted(envelope: Pick<MessageEnvelope, 'pattern' | 'componentTarget'>): boolean {
  return envelope.componentTarget !== null && envelope.pattern !== MessagePattern.PUB_SUB;
}
