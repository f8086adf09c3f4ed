/**
 * The connection to NATS and what the server can do. Newer JetStream features are used only when
 * the server's version (from its INFO) says they exist:
 * - `filter_subjects` (several filters per consumer, 2.10+): exact group filters instead of one
 *   wider filter plus the client-side `<to>` check (subjects.ts);
 * - consumer pause (2.11+): not needed by this backend, reported in health only.
 * Server 2.9 (this machine's) gets neither.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AuthenticationError, BackendUnavailableError } from '@woodwork/bus-core';

export interface ServerFeatures {
  version: string;
  filterSubjects: boolean;
  consumerPause: boolean;
  maxPayload: number;
}

export function featuresOf(version: string, maxPayload: number): ServerFeatures {
  const [major = 0, minor = 0] = version.split('.').map((n) => Number.parseInt(n, 10));
  const at = (ma: number, mi: number): boolean => major > ma || (major === ma && minor >= mi);
  return { version, filterSubjects: at(2, 10), consumerPause: at(2, 11), maxPayload };
}

/** Server URLs without credentials, for health and errors. */
export function redactUrl(url: string): string {
  return url
    .split(',')
    .map((part) => part.trim().replace(/\/\/[^@/]*@/, '//***@'))
    .join(',');
}

export async function openConnection(url: string, timeoutMs: number, name: string): Promise<NatsConnection> {
  try {
    return await connect({
      servers: url.split(',').map((s) => s.trim()),
      name,
      timeout: timeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      reconnectJitter: 50,
      waitOnFirstConnect: false,
      pingInterval: 5_000,
      maxPingOut: 3,
    });
  } catch (error) {
    const text = String((error as Error)?.message ?? error);
    if (/auth|permission/i.test(text)) throw new AuthenticationError(`NATS refused the credentials for ${redactUrl(url)}: ${text}`, { cause: error });
    throw new BackendUnavailableError(
      `cannot connect to NATS at ${redactUrl(url)} (${text}); start one with \`nats-server -js\` or \`docker compose -f docker/compose.yml up nats\``,
      { cause: error },
    );
  }
}
