/**
 * MetricsRecorder: the design's counters, the processing-time summary over a sliding window of
 * samples, and the events it streams to `onMetric`.
 */
import { describe, expect, it } from 'vitest';
import { healthStatusValue, MessageBusMetrics, MetricsRecorder, type MetricEvent } from '../src/index.js';

describe('MetricsRecorder', () => {
  it('starts at zero', () => {
    expect(new MetricsRecorder().snapshot(0, 0, 'healthy')).toEqual({
      messagesPublishedTotal: 0,
      messagesConsumedTotal: 0,
      messagesFailedTotal: 0,
      messagesDeadLetteredTotal: 0,
      orderViolationsTotal: 0,
      messageProcessingTimeMs: { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 },
      activeSubscriptions: 0,
      deadLetterQueueSize: 0,
      backendHealthStatus: 1,
    });
  });

  it('counts and sends each change to onMetric with the design metric names and labels', () => {
    const events: MetricEvent[] = [];
    const m = new MetricsRecorder((e) => events.push(e));
    m.recordPublished('agent.input');
    m.recordPublished('agent.input');
    m.recordConsumed('agent.input', 'g1', 12.5);
    m.recordFailed('agent.input', 'g1');
    m.recordDeadLettered(4, 'g1');
    m.recordSubscriptions(3);
    m.recordOrderViolation('g1');
    expect(events).toEqual([
      { name: 'message_bus.messages_published_total', value: 1, labels: { eventType: 'agent.input' } },
      { name: 'message_bus.messages_published_total', value: 2, labels: { eventType: 'agent.input' } },
      { name: 'message_bus.messages_consumed_total', value: 1, labels: { eventType: 'agent.input', group: 'g1' } },
      { name: 'message_bus.message_processing_time_ms', value: 12.5, labels: { eventType: 'agent.input', group: 'g1' } },
      { name: 'message_bus.messages_failed_total', value: 1, labels: { eventType: 'agent.input', group: 'g1' } },
      { name: 'message_bus.dead_letter_queue_size', value: 4, labels: { group: 'g1' } },
      { name: 'message_bus.active_subscriptions_count', value: 3, labels: {} },
      { name: 'message_bus.order_violations_total', value: 1, labels: { group: 'g1' } },
    ]);
    const s = m.snapshot(3, 4, 'degraded');
    expect(s.messagesPublishedTotal).toBe(2);
    expect(s.messagesConsumedTotal).toBe(1);
    expect(s.messagesFailedTotal).toBe(1);
    expect(s.messagesDeadLetteredTotal).toBe(1);
    expect(s.orderViolationsTotal).toBe(1);
    expect(s.activeSubscriptions).toBe(3);
    expect(s.deadLetterQueueSize).toBe(4);
    expect(s.backendHealthStatus).toBe(0.5);
  });

  it('uses the names of the design (plus order_violations_total)', () => {
    expect(MessageBusMetrics).toEqual({
      messagesPublishedTotal: 'message_bus.messages_published_total',
      messagesConsumedTotal: 'message_bus.messages_consumed_total',
      messagesFailedTotal: 'message_bus.messages_failed_total',
      messageProcessingTime: 'message_bus.message_processing_time_ms',
      activeSubscriptions: 'message_bus.active_subscriptions_count',
      deadLetterQueueSize: 'message_bus.dead_letter_queue_size',
      backendHealthStatus: 'message_bus.backend_health_status',
      orderViolationsTotal: 'message_bus.order_violations_total',
    });
  });

  it('summarises processing times: count, mean, p50, p99, max', () => {
    const m = new MetricsRecorder();
    // 1..100 in a scrambled order: the summary must not depend on arrival order.
    for (let i = 0; i < 100; i++) m.recordConsumed('e', 'g', ((i * 37) % 100) + 1);
    expect(m.snapshot(0, 0, 'healthy').messageProcessingTimeMs).toEqual({ count: 100, meanMs: 50.5, p50Ms: 51, p99Ms: 100, maxMs: 100 });
  });

  it('percentiles cover the last 2048 samples; count, mean and max cover all of them', () => {
    const m = new MetricsRecorder();
    for (let i = 0; i < 1000; i++) m.recordConsumed('e', 'g', 10_000); // old and slow
    for (let i = 0; i < 2048; i++) m.recordConsumed('e', 'g', 1); // recent and fast
    const t = m.snapshot(0, 0, 'healthy').messageProcessingTimeMs;
    expect(t.count).toBe(3048);
    expect(t.p50Ms).toBe(1);
    expect(t.p99Ms).toBe(1);
    expect(t.maxMs).toBe(10_000);
    expect(t.meanMs).toBeCloseTo((1000 * 10_000 + 2048) / 3048, 6);
  });

  it('works without onMetric', () => {
    const m = new MetricsRecorder();
    m.recordPublished('e');
    m.recordConsumed('e', 'g', 1);
    m.recordFailed('e', 'g');
    m.recordDeadLettered(1, 'g');
    m.recordSubscriptions(1);
    expect(m.snapshot(1, 1, 'unhealthy')).toMatchObject({ messagesPublishedTotal: 1, backendHealthStatus: 0 });
  });

  it('maps health status to 1 / 0.5 / 0', () => {
    expect(healthStatusValue('healthy')).toBe(1);
    expect(healthStatusValue('degraded')).toBe(0.5);
    expect(healthStatusValue('unhealthy')).toBe(0);
  });
});

describe('MetricsRecorder with a failing onMetric', () => {
  it('never throws: the error goes to onError with the event, and counting goes on', () => {
    const reported: Array<{ error: unknown; event: MetricEvent }> = [];
    const m = new MetricsRecorder(
      () => {
        throw new Error('metrics sink down');
      },
      (error, event) => reported.push({ error, event }),
    );
    expect(() => {
      m.recordPublished('a.b');
      m.recordConsumed('a.b', 'g', 1);
      m.recordFailed('a.b', 'g');
      m.recordDeadLettered(1, 'g');
      m.recordSubscriptions(1);
    }).not.toThrow();
    expect(reported.map((r) => r.event.name)).toEqual([
      'message_bus.messages_published_total',
      'message_bus.messages_consumed_total',
      'message_bus.message_processing_time_ms',
      'message_bus.messages_failed_total',
      'message_bus.dead_letter_queue_size',
      'message_bus.active_subscriptions_count',
    ]);
    expect((reported[0]?.error as Error).message).toBe('metrics sink down');
    expect(m.snapshot(1, 1, 'healthy')).toMatchObject({ messagesPublishedTotal: 1, messagesConsumedTotal: 1, messagesFailedTotal: 1 });
  });

  it('never throws when onError throws too, or without onError', () => {
    const boom = (): never => {
      throw new Error('boom');
    };
    expect(() => new MetricsRecorder(boom, boom).recordPublished('a')).not.toThrow();
    expect(() => new MetricsRecorder(boom).recordPublished('a')).not.toThrow();
  });
});

describe('MetricsRecorder gauges', () => {
  it('sends the dead-letter queue size when it shrinks, and the health status when it changes', () => {
    const events: MetricEvent[] = [];
    const m = new MetricsRecorder((e) => events.push(e));
    m.recordDeadLetterQueueSize(0);
    m.recordHealthStatus('healthy');
    m.recordHealthStatus('healthy');
    m.recordHealthStatus('degraded');
    m.recordHealthStatus('unhealthy');
    expect(events).toEqual([
      { name: 'message_bus.dead_letter_queue_size', value: 0, labels: {} },
      { name: 'message_bus.backend_health_status', value: 1, labels: { status: 'healthy' } },
      { name: 'message_bus.backend_health_status', value: 0.5, labels: { status: 'degraded' } },
      { name: 'message_bus.backend_health_status', value: 0, labels: { status: 'unhealthy' } },
    ]);
  });
});
