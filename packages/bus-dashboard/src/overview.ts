/**
 * The overview: one `healthCheck()` as the page shows it. The backend's `details` and error text
 * pass through core's `redactSecrets`, and a detail whose key names a secret is replaced whole, so
 * no password or token of the connection reaches the page.
 */
import { REDACTED, redactSecrets, type GroupHealth, type HealthStatus, type MessageBus, type MetricsSnapshot } from '@woodwork/bus-core';

export interface Overview {
  backend: string;
  status: HealthStatus;
  error?: string;
  metrics: MetricsSnapshot;
  groups: GroupHealth[];
  expiredGroups: string[];
  details: unknown;
  /** Seconds since the epoch, when the report was made. */
  checkedAt: number;
}

const SECRET_KEY_RE = /pass|pwd|secret|token|credential|auth|cookie|private.?key|nkey|seed/i;
const MAX_DEPTH = 8;

export async function readOverview(bus: MessageBus): Promise<Overview> {
  const report = await bus.healthCheck();
  return {
    backend: report.backend,
    status: report.status,
    ...(report.error === undefined ? {} : { error: redactSecrets(report.error) }),
    metrics: report.metrics,
    groups: report.groups,
    expiredGroups: report.expiredGroups,
    details: redactValue(report.details, 0),
    checkedAt: Date.now() / 1000,
  };
}

/** `value` with every string redacted and every secret-named key's value replaced. */
export function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  if (value === null || typeof value !== 'object') return typeof value === 'function' || typeof value === 'symbol' ? String(typeof value) : value;
  if (depth >= MAX_DEPTH) return '…';
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY_RE.test(key) && v !== null && v !== undefined && typeof v !== 'boolean' && typeof v !== 'number' ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}
