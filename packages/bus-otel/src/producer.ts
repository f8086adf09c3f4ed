/**
 * The producer side: one `publish <event type>` span (kind PRODUCER) per publish, its context
 * written into the envelope's metadata, and the publish duration histogram.
 *
 * The span's parent is the context active at the call. With no active span, a `traceparent`
 * already in the metadata (a message forwarded from another process, a Python publisher's) is the
 * parent instead, so forwarding keeps the trace. The metadata then gets this span's context.
 */
import { SpanKind, SpanStatusCode, context, trace, type Attributes, type Context, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { MessageBus, PublishResult } from '@woodwork/bus-core';
import { inputMetadata, metadataGetter, recordSetter, withMetadataEntries } from './metadata-carrier.js';
import type { BusMetrics } from './metrics.js';
import { errorMessage, errorType } from './outcome.js';
import { Attr } from './semconv.js';

export interface ProducerTelemetry {
  tracer: Tracer | undefined;
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
  const destination = destinationOf(input);
  let span: ReturnType<Tracer['startSpan']> | undefined;
  let toSend: T = input;
  if (t.tracer !== undefined) {
    let parent: Context = context.active();
    const metadata = inputMetadata(input);
    if (trace.getSpan(parent) === undefined && metadata !== undefined && t.propagator !== undefined) {
      parent = t.propagator.extract(parent, metadata, metadataGetter);
    }
    span = t.tracer.startSpan(destination === undefined ? 'publish' : `publish ${destination}`, { kind: SpanKind.PRODUCER }, parent);
    if (span.isRecording()) span.setAttributes(producerAttributes(input, destination, t.system));
    if (t.propagator !== undefined) {
      const entries: Record<string, string> = {};
      t.propagator.inject(trace.setSpan(parent, span), entries, recordSetter);
      // No propagator registered (the API's no-op) writes nothing: the input goes as it is.
      for (const _key in entries) {
        toSend = withMetadataEntries(input, entries);
        break;
      }
    }
  }
  if (span === undefined && t.metrics === undefined) return bus.publish(input as never);
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
        if (span.isRecording()) {
          span.setAttribute(Attr.messageId, result.messageId);
          if (result.duplicate) span.setAttribute(Attr.duplicate, true);
        }
        span.end();
      }
      t.metrics?.recordPublish((performance.now() - started) / 1000, publishMetricAttributes(t, destination, undefined));
      return result;
    },
    (error: unknown) => {
      if (span !== undefined) {
        if (span.isRecording()) {
          span.setAttribute(Attr.errorType, errorType(error));
          if (error instanceof Error) span.recordException(error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
        }
        span.end();
      }
      t.metrics?.recordPublish((performance.now() - started) / 1000, publishMetricAttributes(t, destination, errorType(error)));
      throw error;
    },
  );
}

function publishMetricAttributes(t: ProducerTelemetry, destination: string | undefined, failure: string | undefined): Attributes {
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
