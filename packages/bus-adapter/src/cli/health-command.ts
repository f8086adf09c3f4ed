/**
 * `woodwork-bus health`: the backend's status, the design's metrics and each group's pending / lag.
 * Exit code 1 when the backend reports itself unhealthy.
 */
import type { HealthReport, MessageBus } from '@woodwork/bus-core';
import { formatPairs, formatTable, isoTime, writeJson, type TextSink } from './output.js';

export async function runHealth(bus: MessageBus, out: TextSink, json: boolean): Promise<number> {
  const report = await bus.healthCheck();
  if (json) writeJson(out, report);
  else out.write(formatHealth(report));
  return report.status === 'unhealthy' ? 1 : 0;
}

export function formatHealth(report: HealthReport): string {
  const m = report.metrics;
  const t = m.messageProcessingTimeMs;
  const ms = (n: number): string => `${n.toFixed(1)} ms`;
  const pairs: Array<[string, string]> = [
    ['backend', report.backend],
    ['status', report.status + (report.error ? ` (${report.error})` : '')],
    ['published', String(m.messagesPublishedTotal)],
    ['consumed', String(m.messagesConsumedTotal)],
    ['failed attempts', String(m.messagesFailedTotal)],
    ['dead-lettered', String(m.messagesDeadLetteredTotal)],
    ['dead-letter queue', String(m.deadLetterQueueSize)],
    ['subscriptions', String(m.activeSubscriptions)],
    ['processing time', `mean ${ms(t.meanMs)}, p50 ${ms(t.p50Ms)}, p99 ${ms(t.p99Ms)}, max ${ms(t.maxMs)} (${t.count} handled)`],
    ['expired groups', report.expiredGroups.length === 0 ? 'none' : report.expiredGroups.join(', ')],
  ];
  // A routed bus: one line per member (its backend, status and why), before the details.
  const members = (report as { members?: unknown }).members;
  const routed = typeof members === 'object' && members !== null;
  if (routed) {
    for (const [name, member] of Object.entries(members as Record<string, HealthReport>)) {
      pairs.push([`member ${name}`, `${member.backend} ${member.status}${member.error ? ` (${member.error})` : ''}`]);
    }
  }
  for (const [key, value] of Object.entries(report.details)) {
    if (routed && key === 'members') continue;
    pairs.push([key, typeof value === 'string' ? value : JSON.stringify(value)]);
  }
  let text = formatPairs(pairs);
  if (report.groups.length === 0) return `${text}\nno groups\n`;
  const memberColumn = report.groups.some((g) => Array.isArray((g as { members?: unknown }).members));
  const rows = report.groups.map((g) => [
    g.group,
    ...(memberColumn ? [((g as { members?: string[] }).members ?? []).join(',')] : []),
    g.eventPattern,
    g.componentId ?? '-',
    g.sessionId ?? '-',
    g.durable ? 'yes' : 'no',
    String(g.consumers),
    String(g.pending),
    String(g.lag),
    isoTime(g.lastActiveAt),
  ]);
  text += `\n${formatTable(['GROUP', ...(memberColumn ? ['MEMBERS'] : []), 'PATTERN', 'COMPONENT', 'SESSION', 'DURABLE', 'CONSUMERS', 'PENDING', 'LAG', 'LAST ACTIVE'], rows)}`;
  return text;
}
