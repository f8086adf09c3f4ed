/**
 * W3C trace context in the envelope's `metadata` (the design's dict), read and written through
 * OpenTelemetry's propagation API. With the W3C propagator the keys are `traceparent` and
 * `tracestate`, the names a Python process's `opentelemetry.propagate.extract(metadata)` reads.
 */
import { INVALID_SPAN_CONTEXT, isSpanContextValid, type Span, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import type { JsonObject } from '@woodwork/bus-core';

export const metadataGetter: TextMapGetter<JsonObject> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    if (!Object.prototype.hasOwnProperty.call(carrier, key)) return undefined;
    const value = carrier[key];
    // Only strings are trace context; anything else someone stored under the key is ignored.
    return typeof value === 'string' ? value : undefined;
  },
};

export const recordSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** The metadata of a publish input, when it is one the bus would accept as a JSON object. */
export function inputMetadata(input: unknown): JsonObject | undefined {
  if (!isPlainObject(input)) return undefined;
  const metadata = input['metadata'];
  return isPlainObject(metadata) ? (metadata as JsonObject) : undefined;
}

/**
 * The publish input with `entries` added to its metadata, as a new object (the caller's envelope
 * and metadata are never changed). An input the bus will reject (not a plain object, metadata that
 * is not an object) is returned as it is, so the bus's own error reaches the caller unchanged.
 */
export function withMetadataEntries<T>(input: T, entries: Record<string, string>): T {
  if (!isPlainObject(input)) return input;
  const metadata = input['metadata'];
  if (metadata !== undefined && !isPlainObject(metadata)) return input;
  return { ...input, metadata: { ...(metadata ?? {}), ...entries } } as T;
}

export const NO_FIELDS: readonly string[] = Object.freeze([]);

/** True when the metadata holds one of the propagator's fields (else there is nothing to extract). */
export function hasAnyField(metadata: JsonObject, fields: readonly string[]): boolean {
  for (const field of fields) if (Object.prototype.hasOwnProperty.call(metadata, field)) return true;
  return false;
}

/**
 * The metadata without the propagator's fields, as a new object (the same object when it holds
 * none). Trace context is the wrapper's transport: what a handler or a dead-letter reader sees
 * through the wrapper is the metadata as it was published, the context reaching the handler as
 * OpenTelemetry's active context instead.
 */
export function withoutFields(metadata: JsonObject, fields: readonly string[]): JsonObject {
  if (!hasAnyField(metadata, fields)) return metadata;
  // fromEntries defines own properties: a `__proto__` key stays a key, as in the original.
  return Object.fromEntries(Object.entries(metadata).filter(([key]) => !fields.includes(key))) as JsonObject;
}

/** The envelope with its metadata stripped of the propagator's fields (itself when there are none). */
export function withoutTraceContext<E extends { readonly metadata: JsonObject }>(envelope: E, fields: readonly string[]): E {
  const metadata = withoutFields(envelope.metadata, fields);
  return metadata === envelope.metadata ? envelope : { ...envelope, metadata };
}

/** A span whose context can be propagated (the no-op tracer's root span's cannot). */
export function hasValidContext(span: Span): boolean {
  const spanContext = span.spanContext();
  return spanContext !== INVALID_SPAN_CONTEXT && isSpanContextValid(spanContext);
}
