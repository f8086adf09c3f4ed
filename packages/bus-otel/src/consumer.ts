/**
 * The consumer side: the handler a subscription gets through the wrapper. Each attempt runs in a
 * `process <event type>` span (kind CONSUMER) whose parent is the producer's context read from the
 * envelope's metadata, so the publish, every attempt (retries are siblings, numbered by
 * `woodwork.attempt`) and a redriven message's new attempts sit in one trace. The handler runs
 * inside the span's context (`context.with`): its own spans are children of the attempt.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Attributes, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { DeliveryContext, MessageEnvelope, MessageHandler, SubscribeOptions } from '@woodwork/bus-core';
import { groupAttributes } from './group-attributes.js';
import { metadataGetter } from './metadata-carrier.js';
import type { BusMetrics } from './metrics.js';
import { attemptOutcome, errorMessage, errorType, maxAttemptsOf } from './outcome.js';
import { Attr } from './semconv.js';

export interface ConsumerTelemetry {
  tracer: Tracer | undefined;
  propagator: TextMapPropagator | undefined;
  metrics: BusMetrics | undefined;
  system: string;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The subscription's group attributes for metrics, from its options (the group name comes per delivery). */
function subscriptionShape(options: SubscribeOptions | undefined): { componentId: string | null; sessionId: string | null; durable: boolean; observer: boolean } {
  const o = options ?? {};
  const componentId = typeof o.componentId === 'string' ? o.componentId : null;
  const named = componentId !== null || typeof o.group === 'string';
  return {
    componentId,
    sessionId: typeof o.sessionId === 'string' ? o.sessionId : null,
    durable: o.observe !== true && named && o.durable !== false,
    observer: o.observe === true,
  };
}

export function wrapHandler(handler: MessageHandler, eventPattern: string, options: SubscribeOptions | undefined, t: ConsumerTelemetry): MessageHandler {
  const shape = subscriptionShape(options);
  // Per group name, the metric attributes (a subscription has one group; kept as a tiny cache).
  let metricGroup: string | undefined;
  let metricAttributes: Attributes | undefined;
  const metricAttributesFor = (group: string, eventType: string): Attributes => {
    if (metricGroup !== group || metricAttributes === undefined) {
      metricGroup = group;
      metricAttributes = t.metrics!.withBase({ [Attr.messagingSystem]: t.system, ...groupAttributes({ group, eventPattern, ...shape }) });
    }
    // The event type is app vocabulary (bounded); with '*' it tells the series apart.
    return { ...metricAttributes, [Attr.destinationName]: eventType };
  };

  return function instrumentedHandler(envelope: MessageEnvelope, delivery: DeliveryContext): unknown {
    // Read before the handler runs: it may change its envelope.
    const eventType = envelope.eventType;
    const attempt = delivery.attempt;
    const maxAttempts = maxAttemptsOf(envelope);
    let span: ReturnType<Tracer['startSpan']> | undefined;
    let run = (): unknown => handler(envelope, delivery);
    if (t.tracer !== undefined) {
      const parent = t.propagator === undefined ? ROOT_CONTEXT : t.propagator.extract(ROOT_CONTEXT, envelope.metadata, metadataGetter);
      span = t.tracer.startSpan(`process ${eventType}`, { kind: SpanKind.CONSUMER }, parent);
      if (span.isRecording()) {
        span.setAttributes({
          [Attr.messagingSystem]: t.system,
          [Attr.operationName]: 'process',
          [Attr.operationType]: 'process',
          [Attr.destinationName]: eventType,
          [Attr.messageId]: envelope.messageId,
          [Attr.conversationId]: envelope.sessionId,
          [Attr.consumerGroup]: delivery.group,
          [Attr.componentSource]: envelope.componentSource,
          [Attr.deliveryMode]: envelope.deliveryMode,
          [Attr.pattern]: envelope.pattern,
          [Attr.attempt]: attempt,
          [Attr.maxAttempts]: maxAttempts,
        });
        if (envelope.componentTarget !== null) span.setAttribute(Attr.componentTarget, envelope.componentTarget);
      }
      const active = trace.setSpan(parent, span);
      run = () => context.with(active, handler, undefined, envelope, delivery);
    }
    if (span === undefined && t.metrics === undefined) return handler(envelope, delivery);

    const started = performance.now();
    const finish = (failed: boolean, error?: unknown): void => {
      try {
        record(failed, error);
      } catch {
        // Telemetry never changes what the bus sees of a handler (an exporter that throws, say).
      }
    };
    const record = (failed: boolean, error?: unknown): void => {
      const result = attemptOutcome(attempt, maxAttempts, delivery.signal, failed, error);
      const failure = result.error === undefined ? undefined : errorType(result.error);
      if (span !== undefined) {
        if (span.isRecording()) {
          span.setAttribute(Attr.outcome, result.outcome);
          if (failure !== undefined) {
            span.setAttribute(Attr.errorType, failure);
            if (result.error instanceof Error) span.recordException(result.error);
            span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(result.error) });
          }
        }
        span.end();
      }
      t.metrics?.recordProcess((performance.now() - started) / 1000, metricAttributesFor(delivery.group, eventType), result.outcome, failure);
    };

    let value: unknown;
    try {
      value = run();
    } catch (error) {
      finish(true, error);
      throw error;
    }
    if (!isThenable(value)) {
      finish(false);
      return value;
    }
    return Promise.resolve(value).then(
      (resolved) => {
        finish(false);
        return resolved;
      },
      (error: unknown) => {
        finish(true, error);
        throw error;
      },
    );
  };
}
