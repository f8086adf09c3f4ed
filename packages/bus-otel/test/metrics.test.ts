/**
 * Metrics over memory, read with an on-demand reader: every observed value equals what
 * `healthCheck()` reports at that moment, the duration histograms count what happened, no point
 * carries a session or message id, session-bound and private groups are summed per component and
 * pattern, and a closed bus stops reporting.
 */
import type { Attributes } from '@opentelemetry/api';
import type { DataPoint, Histogram, MetricData } from '@opentelemetry/sdk-metrics';
import { FAST_RETRY, randomName, waitFor } from '@woodwork/bus-conformance';
import type { MessageBus } from '@woodwork/bus-core';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { instrumentBus } from '../src/index.js';
import { pointSum, startTestSdk } from './support/otel.js';

const sdk = startTestSdk();
afterAll(() => sdk.shutdown());

function points(metric: MetricData | undefined): Array<DataPoint<number | Histogram>> {
  return (metric?.dataPoints ?? []) as Array<DataPoint<number | Histogram>>;
}

describe('metrics', () => {
  it('equal healthCheck(), with bounded attributes, and stop when the bus closes', async () => {
    const prefix = randomName('otelm');
    const inner = new MemoryMessageBus({ streamPrefix: prefix, retry: FAST_RETRY });
    const healthChecks = vi.spyOn(inner, 'healthCheck');
    const bus: MessageBus = instrumentBus(inner, {
      tracerProvider: sdk.tracerProvider,
      meterProvider: sdk.meterProvider,
      propagator: sdk.propagator,
      attributes: { 'woodwork.bus': 'metrics-test' },
    });
    const sessions = ['s-alpha', 's-beta', 's-gamma'];
    const messageIds: string[] = [];
    // A durable group that fails twice per message before succeeding.
    const failures = new Map<string, number>();
    await bus.subscribe(
      'work.item',
      (e) => {
        const n = failures.get(e.messageId) ?? 0;
        failures.set(e.messageId, n + 1);
        if (n < 2) throw new Error('flaky');
      },
      { componentId: 'worker' },
    );
    // A poison consumer: everything it gets is dead-lettered (one retry).
    await bus.subscribe('poison.item', () => Promise.reject(new Error('poison')), { componentId: 'sink' });
    // Session-bound groups, one per session: aggregated into one series.
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    for (const sessionId of sessions) await bus.subscribe('chat.turn', () => held, { componentId: 'chat', sessionId });
    // A private subscription: aggregated by kind, never by its private-<uuid> name.
    await bus.subscribe('chat.turn', () => {});

    for (const sessionId of sessions) {
      for (let i = 0; i < 2; i++) messageIds.push((await bus.publish({ sessionId, eventType: 'work.item', componentSource: 'src', componentTarget: 'worker' })).messageId);
      messageIds.push((await bus.publish({ sessionId, eventType: 'poison.item', componentSource: 'src', componentTarget: 'sink', maxRetries: 1 })).messageId);
      // Two turns per session: the first runs (pending), the second waits behind it (lag).
      for (let i = 0; i < 2; i++) messageIds.push((await bus.publish({ sessionId, eventType: 'chat.turn', componentSource: 'src', pattern: 'pub_sub' })).messageId);
    }
    await waitFor(async () => {
      const h = await bus.healthCheck();
      return h.metrics.messagesConsumedTotal === 6 + 6 && h.metrics.deadLetterQueueSize === 3 && h.groups.filter((g) => g.sessionId !== null).every((g) => g.pending === 1 && g.lag === 1);
    }, 'work settled, chat turns held');

    const health = await bus.healthCheck();
    const metrics = await sdk.metrics();
    const value = (name: string): number => pointSum(metrics.get(name));
    expect(value('message_bus.messages_published_total')).toBe(health.metrics.messagesPublishedTotal);
    expect(health.metrics.messagesPublishedTotal).toBe(messageIds.length);
    expect(value('message_bus.messages_consumed_total')).toBe(health.metrics.messagesConsumedTotal);
    expect(value('message_bus.messages_failed_total')).toBe(health.metrics.messagesFailedTotal);
    expect(health.metrics.messagesFailedTotal).toBe(6 * 2 + 3 * 2);
    expect(value('message_bus.messages_dead_lettered_total')).toBe(health.metrics.messagesDeadLetteredTotal);
    expect(value('message_bus.dead_letter_queue_size')).toBe(health.metrics.deadLetterQueueSize);
    expect(value('message_bus.active_subscriptions_count')).toBe(health.metrics.activeSubscriptions);
    expect(value('message_bus.backend_health_status')).toBe(health.metrics.backendHealthStatus);
    expect(value('message_bus.order_violations_total')).toBe(health.metrics.orderViolationsTotal);
    for (const [name, field] of [
      ['message_bus.group.pending', 'pending'],
      ['message_bus.group.lag', 'lag'],
      ['message_bus.group.consumers', 'consumers'],
    ] as const) {
      expect(value(name), name).toBe(health.groups.reduce((sum, g) => sum + g[field], 0));
    }

    // Session-bound groups: one series for component chat / pattern chat.turn, summed.
    const sessionPoints = points(metrics.get('message_bus.group.lag')).filter((p) => p.attributes['woodwork.group.kind'] === 'session');
    expect(sessionPoints).toHaveLength(1);
    expect(sessionPoints[0]!.attributes).toEqual({
      'messaging.system': 'memory',
      'woodwork.bus': 'metrics-test',
      'woodwork.group.kind': 'session',
      'woodwork.component': 'chat',
      'woodwork.event_pattern': 'chat.turn',
    });
    expect(sessionPoints[0]!.value).toBe(3);
    const durable = points(metrics.get('message_bus.group.pending')).find((p) => p.attributes['messaging.consumer.group.name'] === 'worker~work~item');
    expect(durable?.attributes['woodwork.group.kind']).toBe('durable');
    expect(points(metrics.get('message_bus.group.pending')).filter((p) => p.attributes['woodwork.group.kind'] === 'private')).toHaveLength(1);

    // Durations: every handler attempt, every publish; the design's processing time counts successes.
    const processDuration = metrics.get('messaging.process.duration');
    const finishedAttempts = health.metrics.messagesConsumedTotal + health.metrics.messagesFailedTotal;
    expect(pointSum(processDuration)).toBe(finishedAttempts);
    expect(pointSum(processDuration, { 'woodwork.outcome': 'retried' })).toBe(6 * 2 + 3);
    expect(pointSum(processDuration, { 'woodwork.outcome': 'dead_lettered', 'error.type': 'Error' })).toBe(3);
    expect(pointSum(metrics.get('message_bus.message_processing_time_ms'))).toBe(health.metrics.messagesConsumedTotal);
    expect(pointSum(metrics.get('messaging.client.operation.duration'))).toBe(messageIds.length);
    expect(pointSum(metrics.get('messaging.client.operation.duration'), { 'messaging.destination.name': 'chat.turn' })).toBe(6);
    expect(metrics.get('messaging.process.duration')?.descriptor.unit).toBe('s');
    expect(metrics.get('message_bus.message_processing_time_ms')?.descriptor.unit).toBe('ms');
    // Buckets fit the unit: sub-millisecond handlers do not all land in one bucket.
    const secondsPoint = points(metrics.get('messaging.process.duration'))[0]!.value as Histogram;
    expect(secondsPoint.buckets.boundaries.slice(0, 4)).toEqual([0.0001, 0.00025, 0.0005, 0.001]);
    const msPoint = points(metrics.get('message_bus.message_processing_time_ms'))[0]!.value as Histogram;
    expect(msPoint.buckets.boundaries.slice(0, 4)).toEqual([0.1, 0.25, 0.5, 1]);

    // Bounded cardinality: no attribute anywhere holds a session id, a message id or a private group name.
    const forbidden = new Set<unknown>([...sessions, ...messageIds]);
    for (const metric of metrics.values()) {
      for (const point of points(metric)) {
        const attributes: Attributes = point.attributes;
        for (const [key, v] of Object.entries(attributes)) {
          expect(forbidden.has(v), `${metric.descriptor.name} ${key}=${String(v)}`).toBe(false);
          expect(String(v), `${metric.descriptor.name} ${key}`).not.toMatch(/^(private|observer)-|@/);
        }
        expect(attributes['woodwork.bus'], metric.descriptor.name).toBe('metrics-test');
      }
    }

    // Closed: the SDK's next collection no longer asks the bus (a closed bus has no health to read).
    release();
    await bus.close();
    const asked = healthChecks.mock.calls.length;
    await sdk.metrics();
    expect(healthChecks.mock.calls.length).toBe(asked);
  });

  it('metrics: false registers no instrument', async () => {
    const { MeterProvider } = await import('@opentelemetry/sdk-metrics');
    const { MetricReader } = await import('@opentelemetry/sdk-metrics');
    class Reader extends MetricReader {
      protected override async onForceFlush(): Promise<void> {}
      protected override async onShutdown(): Promise<void> {}
    }
    const reader = new Reader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    const bus = instrumentBus(new MemoryMessageBus({ streamPrefix: randomName('off') }), { meterProvider, metrics: false, traces: false });
    await bus.subscribe('a.b', () => {});
    await bus.publish({ sessionId: 's', eventType: 'a.b', componentSource: 'x' });
    await waitFor(async () => (await bus.healthCheck()).metrics.messagesConsumedTotal === 1, 'delivery');
    const { resourceMetrics } = await reader.collect();
    expect(resourceMetrics.scopeMetrics.flatMap((s) => s.metrics)).toEqual([]);
    await bus.close();
    await meterProvider.shutdown();
  });
});
