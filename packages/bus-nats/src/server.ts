/**
 * The connection to NATS and what the server can do. Newer JetStream features are used only when
 * the server's version (from its INFO) says they exist:
 * - `filter_subjects` (several filters per consumer, 2.10+): exact group filters instead of one
 *   wider filter plus the client-side `<to>` check (subjects.ts);
 * - consumer pause (2.11+): not needed by this backend, reported in health only.
 * Server 2.9 (this machine's) gets neither.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AuthenticationError, BackendUnavailableError, InvalidConfigError, PermissionDeniedError, redactError, redactKnownSecrets, redactSecrets } from '@woodwork/bus-core';
import type { NatsAuth } from './auth.js';

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
    .map((part) => redactSecrets(part.trim()))
    .join(',');
}

/**
 * Connects with the bus's login. The first connection tries each listed server once (no retry
 * loop: a refused login or an unreachable server fails `connect` at once); after that the client
 * reconnects without end, except that two refused logins in a row close the connection (nats.js's
 * auth-error abort, kept on). Errors are typed and carry no secret:
 * - refused login (user/password, token, NKey, JWT, an expired JWT, or a client certificate the
 *   server refuses): `AuthenticationError` with `server` and `user`;
 * - a server certificate not trusted by `tls.caFile` (or not matching `tls.serverName`):
 *   `AuthenticationError` too (the server failed to prove who it is);
 * - `tls` asked for but the server has none: `InvalidConfigError` on `tls`;
 * - anything else: `BackendUnavailableError`.
 */
export async function openConnection(url: string, timeoutMs: number, name: string, auth: NatsAuth, inboxPrefix?: string): Promise<NatsConnection> {
  const servers = [...auth.servers];
  try {
    return await connect({
      servers,
      name,
      timeout: timeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      reconnectJitter: 50,
      waitOnFirstConnect: false,
      ignoreAuthErrorAbort: false,
      pingInterval: 5_000,
      maxPingOut: 3,
      ...(inboxPrefix === undefined ? {} : { inboxPrefix }),
      ...(auth.connectOptions as object),
    });
  } catch (error) {
    throw connectError(error, url, servers.length, auth);
  }
}

const TLS_TRUST_CODES = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ALTNAME|HOSTNAME/;

/** The driver's connect failure as the bus's typed error, secrets removed. */
export function connectError(error: unknown, url: string, attempts: number, auth: NatsAuth): Error {
  const secrets = auth.secrets();
  const server = redactUrl(url);
  const cause = redactError(error, secrets);
  const chain = errorChain(error);
  const text = redactKnownSecrets(chain.map((e) => e.message).join(': ') || String(error), secrets);
  const tried = `after ${attempts} attempt${attempts === 1 ? '' : 's'} (each server once)`;
  const login = auth.method === 'none' ? 'no login' : `${auth.method} login${auth.user ? ` as ${auth.user}` : ''}`;
  const details = { cause, server, ...(auth.user ? { user: auth.user } : {}) };
  if (chain.some((e) => e.name === 'AuthorizationError' || e.name === 'UserAuthenticationExpiredError' || /authorization violation|authentication (timeout|expired)/i.test(e.message))) {
    return new AuthenticationError(`NATS at ${server} refused the ${login} ${tried}: ${text}`, details);
  }
  if (chain.some((e) => e.name === 'PermissionViolationError')) {
    const pe = chain.find((e) => e.name === 'PermissionViolationError') as Error & { operation?: string; subject?: string };
    return new PermissionDeniedError(`NATS at ${server} denied ${pe.operation ?? 'an operation'} on ${pe.subject ?? '?'} to the ${login}: ${text}`, {
      ...details,
      operation: `${pe.operation ?? 'publish'} ${pe.subject ?? ''}`.trim(),
    });
  }
  const tlsCode = chain.map((e) => (e as NodeJS.ErrnoException).code ?? '').find((code) => TLS_TRUST_CODES.test(code));
  if (tlsCode) {
    return new AuthenticationError(
      `NATS at ${server}: the TLS handshake failed (${tlsCode}): the server's certificate is not trusted or does not match; check tls.caFile and tls.serverName (${text})`,
      details,
    );
  }
  if (chain.some((e) => /alert (certificate|bad certificate|unknown ca|handshake)|SSL_.*ALERT|certificate required/i.test(`${(e as NodeJS.ErrnoException).code ?? ''} ${e.message}`))) {
    return new AuthenticationError(`NATS at ${server} refused the TLS client certificate ${tried}; check tls.certFile and tls.keyFile (${text})`, details);
  }
  if (/tls.*not available|not available on this server/i.test(text)) {
    return new InvalidConfigError('tls', `is set but the NATS server at ${server} offers no TLS (${text})`, undefined, { cause });
  }
  if (/tls.*required|secure connection/i.test(text) && !auth.tls && !/tls:\/\//.test(url)) {
    return new InvalidConfigError('tls', `is needed: the NATS server at ${server} requires TLS; set tls (or use a tls:// URL) (${text})`, undefined, { cause });
  }
  if (/timeout/i.test(text) && (auth.tls || /(^|,)\s*tls:\/\//.test(url)) && !auth.clientCertificate) {
    return new BackendUnavailableError(
      `cannot connect to NATS at ${server} ${tried} (${text}); the TLS server may require a client certificate: set tls.certFile and tls.keyFile`,
      { cause },
    );
  }
  return new BackendUnavailableError(
    `cannot connect to NATS at ${server} ${tried} (${text}); start one with \`nats-server -js\` or \`docker compose -f docker/compose.yml up nats\``,
    { cause },
  );
}

/** The error and its causes, outermost first (bounded). */
function errorChain(error: unknown): Error[] {
  const chain: Error[] = [];
  let current: unknown = error;
  while (current instanceof Error && chain.length < 8) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}
