/**
 * Health of a routed bus: every member's own report, and one report over them.
 * - `status`: healthy when every member is, unhealthy when every member is, degraded otherwise (a
 *   member down while the others work is `degraded`, not down: the events routed to the others
 *   still flow). A member whose `healthCheck` itself rejects counts as unhealthy.
 * - `metrics`: the members' counts added up; processing time: counts and means combined exactly,
 *   p50 / p99 / max the largest of the members' (an upper bound, not a merged percentile);
 *   `activeSubscriptions` the routed bus's own subscriptions (one spanning several members is one).
 * - `groups`: one entry per group name: a group that a subscription spanning members has on each
 *   of them is shown once: its pending and lag added up, its consumers counted once (every replica
 *   of a group spans the same members), with the members it lives on.
 * - `members`: each member's report by name (also under `details.members`).
 */
import { healthStatusValue, type GroupHealth, type HealthReport, type HealthStatus, type MessageBus, type MetricsSnapshot } from '@woodwork/bus-core';

export interface RoutedGroupHealth extends GroupHealth {
  /** The members the group lives on. */
  members: string[];
}

export interface RoutedHealthReport extends HealthReport {
  backend: 'routed';
  groups: RoutedGroupHealth[];
  /** Each member's own report. */
  members: Record<string, HealthReport>;
}

export function overallStatus(statuses: readonly HealthStatus[]): HealthStatus {
  if (statuses.every((s) => s === 'healthy')) return 'healthy';
  if (statuses.every((s) => s === 'unhealthy')) return 'unhealthy';
  return 'degraded';
}

/** A report for a member whose `healthCheck` rejected (the contract says it never should). */
function failedReport(bus: MessageBus, error: unknown): HealthReport {
  return {
    status: 'unhealthy',
    backend: bus.backend,
    metrics: emptyMetrics(),
    groups: [],
    expiredGroups: [],
    details: {},
    error: `healthCheck failed: ${error instanceof Error ? error.message : String(error)}`,
  };
}

function emptyMetrics(): MetricsSnapshot {
  return {
    messagesPublishedTotal: 0,
    messagesConsumedTotal: 0,
    messagesFailedTotal: 0,
    messagesDeadLetteredTotal: 0,
    orderViolationsTotal: 0,
    messageProcessingTimeMs: { count: 0, meanMs: 0, p50Ms: 0, p99Ms: 0, maxMs: 0 },
    activeSubscriptions: 0,
    deadLetterQueueSize: 0,
    backendHealthStatus: 0,
  };
}

export async function routedHealth(members: ReadonlyMap<string, MessageBus>, activeSubscriptions: number): Promise<RoutedHealthReport> {
  const names = [...members.keys()];
  const reports = await Promise.all(
    names.map((name) => {
      const bus = members.get(name)!;
      return bus.healthCheck().then(
        (report) => report,
        (error: unknown) => failedReport(bus, error),
      );
    }),
  );
  const byName: Record<string, HealthReport> = {};
  names.forEach((name, i) => (byName[name] = reports[i]!));
  const status = overallStatus(reports.map((r) => r.status));
  const metrics = emptyMetrics();
  let timeSum = 0;
  for (const r of reports) {
    const m = r.metrics;
    metrics.messagesPublishedTotal += m.messagesPublishedTotal;
    metrics.messagesConsumedTotal += m.messagesConsumedTotal;
    metrics.messagesFailedTotal += m.messagesFailedTotal;
    metrics.messagesDeadLetteredTotal += m.messagesDeadLetteredTotal;
    metrics.orderViolationsTotal += m.orderViolationsTotal;
    metrics.deadLetterQueueSize += m.deadLetterQueueSize;
    const t = m.messageProcessingTimeMs;
    metrics.messageProcessingTimeMs.count += t.count;
    timeSum += t.meanMs * t.count;
    metrics.messageProcessingTimeMs.p50Ms = Math.max(metrics.messageProcessingTimeMs.p50Ms, t.p50Ms);
    metrics.messageProcessingTimeMs.p99Ms = Math.max(metrics.messageProcessingTimeMs.p99Ms, t.p99Ms);
    metrics.messageProcessingTimeMs.maxMs = Math.max(metrics.messageProcessingTimeMs.maxMs, t.maxMs);
  }
  const count = metrics.messageProcessingTimeMs.count;
  metrics.messageProcessingTimeMs.meanMs = count === 0 ? 0 : timeSum / count;
  metrics.activeSubscriptions = activeSubscriptions;
  metrics.backendHealthStatus = healthStatusValue(status);

  const groups = new Map<string, RoutedGroupHealth>();
  const expired = new Set<string>();
  names.forEach((name, i) => {
    const report = reports[i]!;
    for (const g of report.groups) {
      const seen = groups.get(g.group);
      if (!seen) {
        groups.set(g.group, { ...g, members: [name] });
        continue;
      }
      // One routed subscription is a consumer on each member it spans: count it once.
      seen.consumers = Math.max(seen.consumers, g.consumers);
      seen.pending += g.pending;
      seen.lag += g.lag;
      seen.lastActiveAt = Math.max(seen.lastActiveAt, g.lastActiveAt);
      seen.members.push(name);
    }
    for (const e of report.expiredGroups) expired.add(e);
  });
  const unwell = names.filter((_, i) => reports[i]!.status !== 'healthy');
  const report: RoutedHealthReport = {
    status,
    backend: 'routed',
    metrics,
    groups: [...groups.values()],
    expiredGroups: [...expired],
    details: { members: Object.fromEntries(names.map((name, i) => [name, { backend: reports[i]!.backend, status: reports[i]!.status }])) },
    members: byName,
  };
  if (unwell.length > 0) {
    report.error = unwell.map((name) => `${name} (${byName[name]!.backend}) is ${byName[name]!.status}${byName[name]!.error ? `: ${byName[name]!.error}` : ''}`).join('; ');
  }
  return report;
}
