/**
 * `instrumentBus(bus)`: a `MessageBus` that does what `bus` does (same results, same errors, same
 * deliveries) and reports it to OpenTelemetry: spans for publishes and handler attempts, the trace
 * context carried in the envelope's metadata, and the bus's metrics as instruments.
 *
 * Without an SDK (no tracer provider behind the API's proxy, the no-op propagator and meter) every
 * call goes straight through after one check (tracing-source.ts; the `otel` case of tools/bench
 * measures it), as with `traces: false, metrics: false`; an SDK registered later is seen at once.
 */
import { SpanKind, SpanStatusCode, context, createNoopMeter, metrics as metricsApi, propagation, trace, type Link } from '@opentelemetry/api';
import {
  InvalidConfigError,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type EnvelopeInit,
  type HealthReport,
  type JsonObject,
  type MessageBus,
  type MessageEnvelope,
  type MessageHandler,
  type PublishResult,
  type PurgeResult,
  type RedriveResult,
  type SubscribeOptions,
} from '@woodwork/bus-core';
import { wrapHandler, type ConsumerTelemetry } from './consumer.js';
import { metadataGetter, NO_FIELDS, withoutTraceContext } from './metadata-carrier.js';
import { BusMetrics } from './metrics.js';
import { checkInstrumentOptions, type InstrumentBusOptions } from './options.js';
import { errorMessage, errorType } from './outcome.js';
import { publishWithTelemetry } from './producer.js';
import { Attr } from './semconv.js';
import { TracingSource } from './tracing-source.js';

/** The instrumentation scope of every tracer and meter this package makes. */
export const INSTRUMENTATION_NAME = '@woodwork/bus-otel';

/** Links a redrive span keeps to the traces of the messages it sent back, at most. */
const MAX_REDRIVE_LINKS = 128;

const BUS_METHODS = ['publish', 'subscribe', 'unsubscribe', 'createSessionQueue', 'deleteSessionQueue', 'getDeadLetterMessages', 'redriveDeadLetters', 'purgeDeadLetters', 'healthCheck', 'close'];

class InstrumentedBus implements MessageBus {
  private readonly telemetry: ConsumerTelemetry;

  constructor(
    private readonly inner: MessageBus,
    telemetry: ConsumerTelemetry,
  ) {
    this.telemetry = telemetry;
  }

  get backend(): string {
    return this.inner.backend;
  }

  publish<P extends object = JsonObject>(envelope: MessageEnvelope<P> | EnvelopeInit<P>): Promise<PublishResult> {
    return publishWithTelemetry(this.inner, envelope, this.telemetry);
  }

  subscribe<P extends object = JsonObject>(eventPattern: string, handler: MessageHandler<P>, options?: SubscribeOptions): Promise<string> {
    // Whatever the bus would refuse goes to it unchanged, so its error is the one the caller sees.
    if (typeof handler !== 'function' || typeof eventPattern !== 'string' || (this.telemetry.tracing === undefined && this.telemetry.metrics === undefined)) {
      return this.inner.subscribe(eventPattern, handler, options);
    }
    const wrapped = wrapHandler(handler as MessageHandler, eventPattern, options, this.telemetry);
    return this.inner.subscribe(eventPattern, wrapped as MessageHandler<P>, options);
  }

  unsubscribe(subscriptionId: string): Promise<boolean> {
    return this.inner.unsubscribe(subscriptionId);
  }

  createSessionQueue(sessionId: string): Promise<void> {
    return this.inner.createSessionQueue(sessionId);
  }

  deleteSessionQueue(sessionId: string): Promise<void> {
    return this.inner.deleteSessionQueue(sessionId);
  }

  /**
   * The records as the bus keeps them, each envelope's metadata without the trace context this
   * wrapper propagates (as a handler sees it): the metadata as published. The stored records keep
   * it, so a redriven message's attempts continue its trace.
   */
  async getDeadLetterMessages(limit?: number, filter?: Omit<DeadLetterFilter, 'limit'>): Promise<DeadLetterRecord[]> {
    const records = await this.inner.getDeadLetterMessages(limit, filter);
    const fields = this.propagatedFields();
    if (fields.length === 0) return records;
    return records.map((record) => {
      const envelope = withoutTraceContext(record.envelope, fields);
      return envelope === record.envelope ? record : { ...record, envelope };
    });
  }

  /** The metadata keys this wrapper writes and reads (none when tracing is off or nothing propagates). */
  private propagatedFields(): readonly string[] {
    const propagator = this.telemetry.propagator;
    return this.telemetry.tracing === undefined || propagator === undefined ? NO_FIELDS : propagator.fields();
  }

  /**
   * A `redrive dead letters` span (INTERNAL) with the counts, linked to the trace of each message
   * sent back: the redriven message's next attempts continue the trace it was published in (its
   * metadata still holds that context), and this span says who sent it back, and when.
   */
  async redriveDeadLetters(filter?: DeadLetterFilter): Promise<RedriveResult> {
    const tracer = this.telemetry.tracing?.current();
    if (tracer === undefined) return this.inner.redriveDeadLetters(filter);
    const span = tracer.startSpan('redrive dead letters', { kind: SpanKind.INTERNAL, attributes: { [Attr.messagingSystem]: this.inner.backend } });
    if (!span.isRecording()) {
      span.end();
      return this.inner.redriveDeadLetters(filter);
    }
    // The records about to be sent back, read first for their trace context (a redrive is rare,
    // and an admin's act: one more read is cheap). A filter the bus refuses is refused below.
    let before: DeadLetterRecord[] = [];
    try {
      const { limit, ...rest } = filter ?? {};
      before = await this.inner.getDeadLetterMessages(typeof limit === 'number' ? limit : 10_000, rest);
    } catch {
      before = [];
    }
    try {
      const result = await context.with(trace.setSpan(context.active(), span), () => this.inner.redriveDeadLetters(filter));
      span.setAttribute(Attr.redriven, result.redriven.length);
      span.setAttribute(Attr.skipped, result.skipped.length);
      const sent = new Set(result.redriven);
      const links: Link[] = [];
      for (const record of before) {
        if (links.length >= MAX_REDRIVE_LINKS || !sent.has(record.id)) continue;
        const propagator = this.telemetry.propagator;
        const linked = propagator === undefined ? undefined : trace.getSpanContext(propagator.extract(context.active(), record.envelope.metadata, metadataGetter));
        if (linked !== undefined) links.push({ context: linked, attributes: { [Attr.messageId]: record.envelope.messageId, [Attr.consumerGroup]: record.group } });
      }
      if (links.length > 0) span.addLinks(links);
      return result;
    } catch (error) {
      span.setAttribute(Attr.errorType, errorType(error));
      if (error instanceof Error) span.recordException(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(error) });
      throw error;
    } finally {
      span.end();
    }
  }

  purgeDeadLetters(filter?: DeadLetterFilter): Promise<PurgeResult> {
    return this.inner.purgeDeadLetters(filter);
  }

  healthCheck(): Promise<HealthReport> {
    return this.inner.healthCheck();
  }

  close(): Promise<void> {
    this.telemetry.metrics?.stop();
    return this.inner.close();
  }
}

/**
 * Wraps `bus` so that it reports to OpenTelemetry. The result is a `MessageBus` that behaves exactly
 * as `bus` does (the conformance suite runs through it); use it in place of `bus`, and close it
 * (closing it closes `bus`). Spans: `publish <event type>` (PRODUCER) and `process <event type>`
 * (CONSUMER, one per attempt, child of the producer's context read from the metadata). Metrics: the
 * design's seven and more, observed from `healthCheck()` when the SDK collects; see the README.
 */
export function instrumentBus(bus: MessageBus, options?: InstrumentBusOptions): MessageBus {
  if (typeof bus !== 'object' || bus === null || !BUS_METHODS.every((m) => typeof (bus as unknown as Record<string, unknown>)[m] === 'function')) {
    throw new InvalidConfigError('bus', `must be a MessageBus (with ${BUS_METHODS.join(', ')})`);
  }
  const o = checkInstrumentOptions(options);
  const system = bus.backend;
  const propagator = o.traces === false ? undefined : (o.propagator ?? propagation);
  // The global provider is the API's proxy: an SDK registered after this call is seen by the next message.
  const tracing = propagator === undefined ? undefined : new TracingSource(o.tracerProvider ?? trace.getTracerProvider(), INSTRUMENTATION_NAME, propagator);
  const provided = o.metrics === false ? undefined : (o.meterProvider ?? metricsApi.getMeterProvider()).getMeter(INSTRUMENTATION_NAME);
  // The API's no-op meter never records, and (unlike tracing) the metrics API has no proxy that an
  // SDK registered later would fill in: with it, nothing is measured at all.
  const meter = provided === createNoopMeter() ? undefined : provided;
  const metrics = meter === undefined ? undefined : new BusMetrics(meter, bus, { [Attr.messagingSystem]: system, ...(o.attributes ?? {}) });
  return new InstrumentedBus(bus, { tracing, propagator, metrics, system });
}
