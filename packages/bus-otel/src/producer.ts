/**
 * The producer side: one `publish <event type>` span (kind PRODUCER) per publish, its context
 * written into the envelope's metadata, and the publish duration histogram.
 *
 * The span's parent is the context active at the call. With no active span, a `traceparent`
 * already in the metadata (a message forwarded from another process, a Python publisher's) is the
 * parent instead, so forwarding keeps the trace. The metadata then gets this span's context.
 */
import { SpanKind, SpanStatusCode, context, trace, type Attributes, type Context, type Span, type TextMapPropagator } from '@opentelemetry/api';
import type { MessageBus, PublishResult } from '@woodwork/bus-core';
import { hasAnyField, hasValidContext, inputMetadata, metadataGetter, NO_FIELDS, recordSetter, withMetadataEntries } from './metadata-carrier.js';
import type { BusMetrics } from './metrics.js';
import { errorMessage, errorType } from './outcome.js';
import { Attr } from './semconv.js';
import type { TracingSource } from './tracing-source.js';

export interface ProducerTelemetry {
  /** Undefined when traces are off. */
  tracing: TracingSource | undefined;
  propagator: TextMapPropagator | undefined;
  metrics: BusMetrics | undefined;
  system: string;
}

/** Only a valid-looking event type names a span or a metric series (bad input can be anything). */
function destinationOf(input: unknown): string | undefined {
  if (typeof input !== 'object' || input === null) return undefined;
  let eventType: unknown;
  try {
    eventType = (input as { eventType?: unknown }).eventType;
  } catch {
    return undefined;
  }
  return typeof eventType === 'string' && eventType.length > 0 && eventType.length <= 255 && /^[A-Za-z0-9_.-]+$/.test(eventType) ? eventType : undefined;
}

export function publishWithTelemetry<T>(bus: MessageBus, input: T, t: ProducerTelemetry): Promise<PublishResult> {
  const tracer = t.tracing?.current();
  // Nothing records and nothing propagates (no SDK): the call goes straight through.
  if (tracer === undefined && t.metrics === undefined) return bus.publish(input as never);
  let span: Span | undefined;
  let destination: string | undefined;
  let toSend: T = input;
  if (tracer !== undefined) {
    let parent: Context = context.active();
    // The API's no-op propagator has no fields: then there is nothing to read or write.
    const fields = t.propagator === undefined ? NO_FIELDS : t.propagator.fields();
    if (fields.length > 0 && trace.getSpan(parent) === undefined) {
      const metadata = inputMetadata(input);
      if (metadata !== undefined && hasAnyField(metadata, fields)) parent = t.propagator!.extract(parent, metadata, metadataGetter);
    }
    const started = tracer.startSpan('publish', { kind: SpanKind.PRODUCER }, parent);
    if (started.isRecording()) {
      span = started;
      destination = destinationOf(input);
      if (destination !== undefined) span.updateName(`publish ${destination}`);
      span.setAttributes(producerAttributes(input, destination, t.system));
    }
    // A span that neither records nor carries a valid context (no SDK, no parent) has nothing to
    // propagate: the input goes as it is.
    if (fields.length > 0 && (span !== undefined || hasValidContext(started))) {
      const entries: Record<string, string> = {};
      t.propagator!.inject(trace.setSpan(parent, started), entries, recordSetter);
      for (const _key in entries) {
        toSend = withMetadataEntries(input, entries);
        break;
      }
    }
    if (span === undefined) started.end();
  }
  if (span === undefined && t.metrics === undefined) return bus.publish(toSend as never);
  if (destination === undefined) destination = destinationOf(input);
  const started = performance.now();
  let pending: Promise<PublishResult>;
  try {
    pending = bus.publish(toSend as never);
  } catch (error) {
    pending = Promise.reject(error);
  }
  return pending.then(
    (result) => {
      if (span !== undefined) {
        span.setAttribute(Attr.messageId, result.messageId);
        if (result.duplicate) span.setAttribute(Attr.duplicate, true);
        span.end();
      }
      t.metrics?.recordPublish((performance.now() - started) / 1000, publishMetricAttributes(t, destination, undefined));
      return result;
    },
    (error: unknown) => {
      if (span !== undefined) {
        span.setAttribute(Attr.errorType, errorType(error));
        if (error instanceof Error) span.recordException(error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
        span.end();
      }
      t.metrics?.recordPublish((performance.now() - started) / 1000, publishMetricAttributes(t, destination, errorType(error)));
      throw error;
    },
  );
}

function publishMetricAttributes(t: ProducerTelemetry, destination: string | undefined, failure: string | undefined): Attributes {
  return t.metrics!.cachedAttributes(`publish\u0000${destination ?? ''}\u0000${failure ?? ''}`, () => buildPublishMetricAttributes(t, destination, failure));
}

function buildPublishMetricAttributes(t: ProducerTelemetry, destination: string | undefined, failure: string | undefined): Attributes {
  const attributes: Attributes = { [Attr.messagingSystem]: t.system, [Attr.operationName]: 'publish', [Attr.operationType]: 'send' };
  // A refused publish may carry any text as its event type: only accepted ones name a series.
  if (failure === undefined && destination !== undefined) attributes[Attr.destinationName] = destination;
  if (failure !== undefined) attributes[Attr.errorType] = failure;
  return t.metrics!.withBase(attributes);
}

function producerAttributes(input: unknown, destination: string | undefined, system: string): Attributes {
  const attributes: Attributes = { [Attr.messagingSystem]: system, [Attr.operationName]: 'publish', [Attr.operationType]: 'send' };
  if (destination !== undefined) attributes[Attr.destinationName] = destination;
  const fields = input as Record<string, unknown>;
  const text = (key: string, attr: string): void => {
    const value = fields[key];
    if (typeof value === 'string' && value.length <= 256) attributes[attr] = value;
  };
  try {
    text('messageId', Attr.messageId);
    text('sessionId', Attr.conversationId);
    text('componentSource', Attr.componentSource);
    text('componentTarget', Attr.componentTarget);
    text('deliveryMode', Attr.deliveryMode);
    text('pattern', Attr.pattern);
  } catch {
    // A getter that throws: the bus will say what is wrong with the input.
  }
  return attributes;
}
