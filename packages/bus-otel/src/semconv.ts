/**
 * The attribute and instrument names this package writes, in one place. OpenTelemetry's messaging
 * semantic conventions where they have a name (`messaging.*`, `error.type`); `woodwork.*` for what
 * they do not (attempt, outcome, component, delivery mode). Kept as strings here rather than a
 * runtime dependency on `@opentelemetry/semantic-conventions`: the package depends on core and the
 * API only.
 */
import { MessageBusMetrics } from '@woodwork/bus-core';

export const Attr = {
  messagingSystem: 'messaging.system',
  operationType: 'messaging.operation.type',
  operationName: 'messaging.operation.name',
  destinationName: 'messaging.destination.name',
  messageId: 'messaging.message.id',
  /** The session: the conventions' "conversation to which the message belongs". */
  conversationId: 'messaging.message.conversation_id',
  consumerGroup: 'messaging.consumer.group.name',
  errorType: 'error.type',
  componentSource: 'woodwork.component.source',
  componentTarget: 'woodwork.component.target',
  deliveryMode: 'woodwork.delivery_mode',
  pattern: 'woodwork.pattern',
  attempt: 'woodwork.attempt',
  maxAttempts: 'woodwork.max_attempts',
  outcome: 'woodwork.outcome',
  duplicate: 'woodwork.duplicate',
  groupKind: 'woodwork.group.kind',
  component: 'woodwork.component',
  eventPattern: 'woodwork.event_pattern',
  redriven: 'woodwork.redrive.redriven',
  skipped: 'woodwork.redrive.skipped',
} as const;

/** What became of one handler attempt (`woodwork.outcome`). */
export const Outcome = {
  /** The handler succeeded; the bus acknowledges the message. */
  ACKNOWLEDGED: 'acknowledged',
  /** The attempt failed and another one follows after the backoff. */
  RETRIED: 'retried',
  /** The attempt failed and was the last one (or the error was unrecoverable). */
  DEAD_LETTERED: 'dead_lettered',
  /** The session was deleted while it ran: the bus ignores the outcome. */
  DISCARDED: 'discarded',
  /** Another consumer took the delivery over while it ran (its lease was lost). */
  LEASE_LOST: 'lease_lost',
} as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/**
 * Every instrument, name -> unit and description. The design's seven (`message_bus.*`) keep the
 * design's names so a Python woodwork process and this one chart on the same dashboard.
 */
export const Instruments = {
  published: { name: MessageBusMetrics.messagesPublishedTotal, unit: '{message}', description: 'Messages the backend accepted (healthCheck().metrics.messagesPublishedTotal).' },
  consumed: { name: MessageBusMetrics.messagesConsumedTotal, unit: '{message}', description: 'Handler attempts that succeeded (healthCheck().metrics.messagesConsumedTotal).' },
  failed: { name: MessageBusMetrics.messagesFailedTotal, unit: '{attempt}', description: 'Handler attempts that failed, each retry counted (healthCheck().metrics.messagesFailedTotal).' },
  processingTime: { name: MessageBusMetrics.messageProcessingTime, unit: 'ms', description: 'Duration of each handler attempt that succeeded.' },
  activeSubscriptions: { name: MessageBusMetrics.activeSubscriptions, unit: '{subscription}', description: 'Subscriptions attached to this bus (healthCheck().metrics.activeSubscriptions).' },
  deadLetterQueueSize: { name: MessageBusMetrics.deadLetterQueueSize, unit: '{message}', description: 'Dead-letter records kept (healthCheck().metrics.deadLetterQueueSize).' },
  healthStatus: { name: MessageBusMetrics.backendHealthStatus, unit: '1', description: 'Backend status: 1 healthy, 0.5 degraded, 0 unhealthy (healthCheck().status).' },
  deadLettered: { name: 'message_bus.messages_dead_lettered_total', unit: '{message}', description: 'Messages dead-lettered by this bus (healthCheck().metrics.messagesDeadLetteredTotal).' },
  orderViolations: { name: MessageBusMetrics.orderViolationsTotal, unit: '{message}', description: 'Messages run after a newer one of their session had started (healthCheck().metrics.orderViolationsTotal).' },
  groupPending: { name: 'message_bus.group.pending', unit: '{message}', description: 'Delivered, not yet acknowledged, per group (healthCheck().groups[].pending; session-bound groups summed).' },
  groupLag: { name: 'message_bus.group.lag', unit: '{message}', description: 'Waiting, not yet delivered, per group (healthCheck().groups[].lag; session-bound groups summed).' },
  groupConsumers: { name: 'message_bus.group.consumers', unit: '{subscription}', description: 'Subscriptions attached per group (healthCheck().groups[].consumers; session-bound groups summed).' },
  publishDuration: { name: 'messaging.client.operation.duration', unit: 's', description: 'Duration of each publish, until the backend accepted or refused it.' },
  processDuration: { name: 'messaging.process.duration', unit: 's', description: 'Duration of each handler attempt, whatever its outcome.' },
} as const;

/**
 * Histogram buckets (the SDK's defaults, 0 to 10,000, are made for milliseconds of HTTP calls: a
 * duration in seconds, or a handler of a few milliseconds, would all fall in the first one).
 * Seconds: the messaging conventions' boundaries, with finer ones below 5 ms, where an in-memory
 * bus and most handlers are. Milliseconds: the same points.
 */
export const SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
export const MILLISECONDS_BUCKETS = SECONDS_BUCKETS.map((s) => Number((s * 1000).toPrecision(6)));
