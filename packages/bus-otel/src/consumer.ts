/**
 * The consumer side: the handler a subscription gets through the wrapper. Each attempt runs in a
 * `process <event type>` span (kind CONSUMER) whose parent is the producer's context read from the
 * envelope's metadata, so the publish, every attempt (retries are siblings, numbered by
 * `woodwork.attempt`) and a redriven message's new attempts sit in one trace. The handler runs
 * inside the span's context (`context.with`): its own spans are children of the attempt.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, trace, type Attributes, type Context, type Span, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { DeliveryContext, MessageEnvelope, MessageHandler, SubscribeOptions } from '@woodwork/bus-core';
import { groupAttributes } from './group-attributes.js';
import { hasAnyField, hasValidContext, metadataGetter, NO_FIELDS, withoutTraceContext } from './metadata-carrier.js';
import type { BusMetrics } from './metrics.js';
import { attemptOutcome, errorMessage, errorType, maxAttemptsOf } from './outcome.js';
import { Attr, Outcome } from './semconv.js';
import type { TracingSource } from './tracing-source.js';

export interface ConsumerTelemetry {
  /** Undefined when traces are off. */
  tracing: TracingSource | undefined;
  propagator: TextMapPropagator | undefined;
  metrics: BusMetrics | undefined;
  system: string;
}

/**
 * Below this, a successful attempt is not checked for an abort. Reading `DeliveryContext.signal`
 * makes the bus create an AbortController for the attempt (it does so lazily: most handlers never
 * read it), which costs more than everything else here together; an attempt that settled within a
 * millisecond cannot have hit a handler timeout (at least 1 ms).
 */
const ABORT_CHECK_AFTER_MS = 1;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The subscription's group shape for metrics, from its options (the group name comes per delivery). */
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
  const metrics = t.metrics;
  // `succeeded` has no outcome: the design's processing time (successes only) keeps its attributes.
  const metricAttributes = (group: string, eventType: string, outcome: string, failure: string | undefined): { withOutcome: Attributes; succeeded: Attributes | undefined } => {
    const key = `${group}\u0000${eventType}`;
    const base = metrics!.cachedAttributes(`process\u0000${key}`, () =>
      // The event type is app vocabulary (bounded); with '*' it tells the series apart.
      metrics!.withBase({ [Attr.messagingSystem]: t.system, ...groupAttributes({ group, eventPattern, ...shape }), [Attr.destinationName]: eventType }),
    );
    const withOutcome = metrics!.cachedAttributes(`process\u0000${key}\u0000${outcome}\u0000${failure ?? ''}`, () => {
      const attributes: Attributes = { ...base, [Attr.outcome]: outcome };
      if (failure !== undefined) attributes[Attr.errorType] = failure;
      return attributes;
    });
    return { withOutcome, succeeded: outcome === Outcome.ACKNOWLEDGED ? base : undefined };
  };

  const tracing = t.tracing;
  return function instrumentedHandler(delivered: MessageEnvelope, delivery: DeliveryContext): unknown {
    const tracer = tracing?.current();
    // Nothing records and nothing propagates (no SDK): the handler gets the call as it came.
    if (tracer === undefined && metrics === undefined) return handler(delivered, delivery);
    return instrumentedAttempt(delivered, delivery, tracer);
  };

  function instrumentedAttempt(delivered: MessageEnvelope, delivery: DeliveryContext, tracer: Tracer | undefined): unknown {
    // The handler gets the metadata as published: the trace context reaches it as the active context.
    let envelope = delivered;
    // Read before the handler runs: it may change its envelope.
    const eventType = envelope.eventType;
    const attempt = delivery.attempt;
    const maxAttempts = maxAttemptsOf(envelope);
    let span: Span | undefined;
    let active: Context | undefined;
    if (tracer !== undefined) {
      const fields = t.propagator === undefined ? NO_FIELDS : t.propagator.fields();
      let parent: Context = ROOT_CONTEXT;
      if (fields.length > 0 && hasAnyField(delivered.metadata, fields)) {
        parent = t.propagator!.extract(ROOT_CONTEXT, delivered.metadata, metadataGetter);
        envelope = withoutTraceContext(delivered, fields);
      }
      // Named once it records: no string is built for the no-op tracer.
      const started = tracer.startSpan('process', { kind: SpanKind.CONSUMER }, parent);
      if (started.isRecording()) {
        span = started;
        span.updateName(`process ${eventType}`);
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
      } else started.end();
      // A sampled-out span still carries the context (the handler's publishes propagate it); a span
      // with no valid context (no SDK, no parent) has nothing to give the handler.
      if (span !== undefined || hasValidContext(started)) active = trace.setSpan(parent, started);
    }
    if (span === undefined && metrics === undefined) {
      return active === undefined ? handler(envelope, delivery) : context.with(active, handler, undefined, envelope, delivery);
    }

    const startedAt = performance.now();
    const finish = (failed: boolean, error?: unknown): void => {
      try {
        record(failed, error);
      } catch {
        // Telemetry never changes what the bus sees of a handler (an exporter that throws, say).
      }
    };
    const record = (failed: boolean, error?: unknown): void => {
      const elapsedMs = performance.now() - startedAt;
      const result =
        failed || elapsedMs >= ABORT_CHECK_AFTER_MS ? attemptOutcome(attempt, maxAttempts, delivery.signal, failed, error) : { outcome: Outcome.ACKNOWLEDGED, error: undefined };
      const failure = result.error === undefined ? undefined : errorType(result.error);
      if (span !== undefined) {
        span.setAttribute(Attr.outcome, result.outcome);
        if (failure !== undefined) {
          span.setAttribute(Attr.errorType, failure);
          if (result.error instanceof Error) span.recordException(result.error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(result.error) });
        }
        span.end();
      }
      if (metrics !== undefined) {
        const attributes = metricAttributes(delivery.group, eventType, result.outcome, failure);
        metrics.recordProcess(elapsedMs / 1000, attributes.withOutcome, attributes.succeeded);
      }
    };

    let value: unknown;
    try {
      value = active === undefined ? handler(envelope, delivery) : context.with(active, handler, undefined, envelope, delivery);
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
  }
}
