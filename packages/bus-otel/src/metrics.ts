/**
 * The bus's metrics as OpenTelemetry instruments. Counts and sizes are observed from
 * `healthCheck()` when the SDK collects (so they equal what `healthCheck()` reports, undecodable
 * entries and other backend-side events included); durations are recorded by the wrapper around
 * each publish and each handler attempt. Every instrument carries `messaging.system` (the backend)
 * and the app's `attributes`; none carries a session id or a message id.
 */
import type { Attributes, BatchObservableCallback, BatchObservableResult, Histogram, Meter, Observable } from '@opentelemetry/api';
import type { MessageBus } from '@woodwork/bus-core';
import { attributesKey, groupAttributes } from './group-attributes.js';
import { Attr, Instruments, MILLISECONDS_BUCKETS, SECONDS_BUCKETS } from './semconv.js';

const MAX_CACHED = 4096;

export class BusMetrics {
  private readonly publishDuration: Histogram;
  private readonly processDuration: Histogram;
  private readonly processingTime: Histogram;
  private readonly observables: Observable[];
  private readonly callback: BatchObservableCallback;
  private stopped = false;
  private readonly attributeCache = new Map<string, Attributes>();

  constructor(
    private readonly meter: Meter,
    bus: MessageBus,
    private readonly base: Attributes,
  ) {
    const histogram = (spec: { name: string; unit: string; description: string }): Histogram =>
      meter.createHistogram(spec.name, {
        unit: spec.unit,
        description: spec.description,
        advice: { explicitBucketBoundaries: spec.unit === 'ms' ? MILLISECONDS_BUCKETS : SECONDS_BUCKETS },
      });
    this.publishDuration = histogram(Instruments.publishDuration);
    this.processDuration = histogram(Instruments.processDuration);
    this.processingTime = histogram(Instruments.processingTime);

    const counter = (spec: { name: string; unit: string; description: string }) =>
      meter.createObservableCounter(spec.name, { unit: spec.unit, description: spec.description });
    const gauge = (spec: { name: string; unit: string; description: string }) =>
      meter.createObservableGauge(spec.name, { unit: spec.unit, description: spec.description });
    const published = counter(Instruments.published);
    const consumed = counter(Instruments.consumed);
    const failed = counter(Instruments.failed);
    const deadLettered = counter(Instruments.deadLettered);
    const orderViolations = counter(Instruments.orderViolations);
    const activeSubscriptions = gauge(Instruments.activeSubscriptions);
    const deadLetterQueueSize = gauge(Instruments.deadLetterQueueSize);
    const healthStatus = gauge(Instruments.healthStatus);
    const groupPending = gauge(Instruments.groupPending);
    const groupLag = gauge(Instruments.groupLag);
    const groupConsumers = gauge(Instruments.groupConsumers);
    this.observables = [published, consumed, failed, deadLettered, orderViolations, activeSubscriptions, deadLetterQueueSize, healthStatus, groupPending, groupLag, groupConsumers];

    this.callback = async (batch: BatchObservableResult) => {
      if (this.stopped) return;
      // healthCheck never rejects for a down server (it reports `unhealthy`); a closed bus rejects,
      // and then there is nothing to observe.
      const report = await bus.healthCheck().catch(() => undefined);
      if (report === undefined || this.stopped) return;
      const m = report.metrics;
      batch.observe(published, m.messagesPublishedTotal, base);
      batch.observe(consumed, m.messagesConsumedTotal, base);
      batch.observe(failed, m.messagesFailedTotal, base);
      batch.observe(deadLettered, m.messagesDeadLetteredTotal, base);
      batch.observe(orderViolations, m.orderViolationsTotal, base);
      batch.observe(activeSubscriptions, m.activeSubscriptions, base);
      batch.observe(deadLetterQueueSize, m.deadLetterQueueSize, base);
      batch.observe(healthStatus, m.backendHealthStatus, base);
      const perGroup = new Map<string, { attributes: Attributes; pending: number; lag: number; consumers: number }>();
      for (const g of report.groups) {
        const observer = !g.durable && g.componentId === null && g.group.startsWith('observer-');
        const attributes = { ...base, ...groupAttributes({ ...g, observer }) };
        const key = attributesKey(attributes);
        const sum = perGroup.get(key) ?? { attributes, pending: 0, lag: 0, consumers: 0 };
        sum.pending += g.pending;
        sum.lag += g.lag;
        sum.consumers += g.consumers;
        perGroup.set(key, sum);
      }
      for (const sum of perGroup.values()) {
        batch.observe(groupPending, sum.pending, sum.attributes);
        batch.observe(groupLag, sum.lag, sum.attributes);
        batch.observe(groupConsumers, sum.consumers, sum.attributes);
      }
    };
    meter.addBatchObservableCallback(this.callback, this.observables);
  }

  /** `attributes` already include the base ones (`withBase`). */
  recordPublish(seconds: number, attributes: Attributes): void {
    this.publishDuration.record(seconds, attributes);
  }

  /**
   * One handler attempt: `withOutcome` (group, event type, outcome, error type) for the process
   * duration; `succeeded` (the same without outcome) when it succeeded, for the design's processing
   * time, which counts successes only, as core's recorder does.
   */
  recordProcess(seconds: number, withOutcome: Attributes, succeeded: Attributes | undefined): void {
    this.processDuration.record(seconds, withOutcome);
    if (succeeded !== undefined) this.processingTime.record(seconds * 1000, succeeded);
  }

  withBase(attributes: Attributes): Attributes {
    return { ...this.base, ...attributes };
  }

  /**
   * The attribute set under `key`, built once: a few sets (event type x group x outcome) serve
   * every message, so recording allocates nothing. Past `MAX_CACHED` sets (an app with very many
   * event types) they are built per call instead.
   */
  cachedAttributes(key: string, build: () => Attributes): Attributes {
    let attributes = this.attributeCache.get(key);
    if (attributes === undefined) {
      attributes = build();
      if (this.attributeCache.size < MAX_CACHED) this.attributeCache.set(key, attributes);
    }
    return attributes;
  }

  /** Stops observing `healthCheck()` (before the bus closes: a closed bus has no health to read). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.meter.removeBatchObservableCallback(this.callback, this.observables);
  }
}
