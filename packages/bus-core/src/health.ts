/**
 * Health and metrics: the design's `MessageBusMetrics` names, the snapshot every backend reports,
 * and the recorder that counts them and streams each change to an app's callback.
 */

/** The design's metric names, plus `order_violations_total` (ours: claimed messages run behind newer ones). */
export const MessageBusMetrics = {
  messagesPublishedTotal: 'message_bus.messages_published_total',
  messagesConsumedTotal: 'message_bus.messages_consumed_total',
  messagesFailedTotal: 'message_bus.messages_failed_total',
  messageProcessingTime: 'message_bus.message_processing_time_ms',
  activeSubscriptions: 'message_bus.active_subscriptions_count',
  deadLetterQueueSize: 'message_bus.dead_letter_queue_size',
  backendHealthStatus: 'message_bus.backend_health_status',
  orderViolationsTotal: 'message_bus.order_violations_total',
} as const;
export type MessageBusMetricName = (typeof MessageBusMetrics)[keyof typeof MessageBusMetrics];

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface MetricEvent {
  name: MessageBusMetricName;
  value: number;
  labels: Record<string, string>;
}

export interface ProcessingTimeSummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface MetricsSnapshot {
  messagesPublishedTotal: number;
  messagesConsumedTotal: number;
  /** Failed handler attempts (each retry that failed counts). */
  messagesFailedTotal: number;
  messagesDeadLetteredTotal: number;
  /**
   * Messages run after a newer message of their session had already started: a message claimed from
   * a dead consumer arrived too late to go first (a backend that redelivers; never on memory).
   */
  orderViolationsTotal: number;
  messageProcessingTimeMs: ProcessingTimeSummary;
  activeSubscriptions: number;
  deadLetterQueueSize: number;
  /** 1 healthy, 0.5 degraded, 0 unhealthy. */
  backendHealthStatus: number;
}

export interface GroupHealth {
  group: string;
  eventPattern: string;
  componentId: string | null;
  sessionId: string | null;
  durable: boolean;
  /** Subscriptions attached now. */
  consumers: number;
  /** Delivered, not yet acknowledged (running or waiting for a retry). */
  pending: number;
  /** Waiting, not yet delivered. */
  lag: number;
  /** Seconds since the epoch a replica was last attached. */
  lastActiveAt: number;
  /**
   * Milliseconds since the oldest message the group holds (waiting, running or waiting for a retry)
   * was published, from its envelope's `timestamp` (never negative); `null` when it holds none.
   * Optional: a backend that cannot tell cheaply leaves it out (memory always fills it).
   */
  oldestPendingAgeMs?: number | null;
}

export interface HealthReport {
  status: HealthStatus;
  backend: string;
  metrics: MetricsSnapshot;
  groups: GroupHealth[];
  /**
   * Durable groups removed for being unused longer than `groupExpiryMs`, and queues of targets that
   * never subscribed in that time (as `target:<name>`).
   */
  expiredGroups: string[];
  /** Backend specifics (bounds, buffer use, server info). */
  details: Record<string, unknown>;
  /** Why the status is not healthy. */
  error?: string;
}

export function healthStatusValue(status: HealthStatus): number {
  return status === 'healthy' ? 1 : status === 'degraded' ? 0.5 : 0;
}

const SAMPLE_WINDOW = 2048;

/**
 * Counts the design's metrics for one bus and sends each change to `onMetric`. A callback that throws
 * never reaches the bus's caller (a publish already accepted must not look failed, a delivery must
 * not stall): the error goes to `onError`, and the count is kept.
 */
export class MetricsRecorder {
  published = 0;
  consumed = 0;
  failed = 0;
  deadLettered = 0;
  orderViolations = 0;
  private readonly samples = new Float64Array(SAMPLE_WINDOW);
  private sampleCount = 0;
  private sampleSum = 0;
  private sampleMax = 0;
  private lastStatus: HealthStatus | undefined;

  private readonly onMetric: ((event: MetricEvent) => void) | undefined;

  constructor(
    onMetric?: (event: MetricEvent) => void,
    private readonly onError?: (error: unknown, event: MetricEvent) => void,
  ) {
    this.onMetric = onMetric ? (event) => this.emit(onMetric, event) : undefined;
  }

  recordPublished(eventType: string): void {
    this.published++;
    this.onMetric?.({ name: MessageBusMetrics.messagesPublishedTotal, value: this.published, labels: { eventType } });
  }

  recordConsumed(eventType: string, group: string, durationMs: number): void {
    this.consumed++;
    this.samples[this.sampleCount % SAMPLE_WINDOW] = durationMs;
    this.sampleCount++;
    this.sampleSum += durationMs;
    if (durationMs > this.sampleMax) this.sampleMax = durationMs;
    if (this.onMetric) {
      this.onMetric({ name: MessageBusMetrics.messagesConsumedTotal, value: this.consumed, labels: { eventType, group } });
      this.onMetric({ name: MessageBusMetrics.messageProcessingTime, value: durationMs, labels: { eventType, group } });
    }
  }

  recordFailed(eventType: string, group: string): void {
    this.failed++;
    this.onMetric?.({ name: MessageBusMetrics.messagesFailedTotal, value: this.failed, labels: { eventType, group } });
  }

  recordDeadLettered(deadLetterQueueSize: number, group: string): void {
    this.deadLettered++;
    this.onMetric?.({ name: MessageBusMetrics.deadLetterQueueSize, value: deadLetterQueueSize, labels: { group } });
  }

  /** A message runs after a newer one of its session already started (the lanes' `outOfOrder`). */
  recordOrderViolation(group: string): void {
    this.orderViolations++;
    this.onMetric?.({ name: MessageBusMetrics.orderViolationsTotal, value: this.orderViolations, labels: { group } });
  }

  /** The dead-letter store changed size without a new record (purge, redrive, retention, a deleted session). */
  recordDeadLetterQueueSize(deadLetterQueueSize: number): void {
    this.onMetric?.({ name: MessageBusMetrics.deadLetterQueueSize, value: deadLetterQueueSize, labels: {} });
  }

  /** Sends `backend_health_status` (1, 0.5, 0) when the status differs from the last one sent. */
  recordHealthStatus(status: HealthStatus): void {
    if (status === this.lastStatus) return;
    this.lastStatus = status;
    this.onMetric?.({ name: MessageBusMetrics.backendHealthStatus, value: healthStatusValue(status), labels: { status } });
  }

  recordSubscriptions(active: number): void {
    this.onMetric?.({ name: MessageBusMetrics.activeSubscriptions, value: active, labels: {} });
  }

  private emit(onMetric: (event: MetricEvent) => void, event: MetricEvent): void {
    try {
      onMetric(event);
    } catch (error) {
      try {
        this.onError?.(error, event);
      } catch {
        // The error reporter failed too; the metric is still counted.
      }
    }
  }

  snapshot(activeSubscriptions: number, deadLetterQueueSize: number, status: HealthStatus): MetricsSnapshot {
    const n = Math.min(this.sampleCount, SAMPLE_WINDOW);
    const sorted = Array.from(this.samples.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number): number => (n === 0 ? 0 : (sorted[Math.min(n - 1, Math.floor(q * n))] as number));
    return {
      messagesPublishedTotal: this.published,
      messagesConsumedTotal: this.consumed,
      messagesFailedTotal: this.failed,
      messagesDeadLetteredTotal: this.deadLettered,
      orderViolationsTotal: this.orderViolations,
      messageProcessingTimeMs: {
        count: this.sampleCount,
        meanMs: this.sampleCount === 0 ? 0 : this.sampleSum / this.sampleCount,
        p50Ms: at(0.5),
        p99Ms: at(0.99),
        maxMs: this.sampleMax,
      },
      activeSubscriptions,
      deadLetterQueueSize,
      backendHealthStatus: healthStatusValue(status),
    };
  }
}
