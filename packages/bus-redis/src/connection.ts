/**
 * Connections to Redis (standalone, Sentinel or Cluster), all set up the same way:
 * - no offline queue: a command while the server is away fails at once (the bus turns that into
 *   `BackendUnavailableError`, or into its own bounded buffer), never piling up in memory;
 * - no automatic resend of commands that got no reply before a disconnect: a resent `XADD` could
 *   store a message twice; the publisher resends itself, with its idempotency token;
 * - commands in flight when the connection drops are rejected at once (`maxRetriesPerRequest: 0`),
 *   never held until the server is back;
 * - reconnect by itself, with a backoff capped at about 0.25 s; but a refused login or TLS handshake
 *   (wrong password, untrusted certificate) is not retried for ever: after `MAX_REFUSED_CONNECTS`
 *   refusals in a row the connection stops, and what it is asked next fails with the typed error
 *   (`refusalOf`); connecting fails at the first refusal.
 * One command connection per bus, one for acks, plus one blocking reader per consuming group. Not ioredis's
 * auto-pipelining: it keeps one pipeline in flight and answers each of its commands only when the
 * whole pipeline has been answered, so an ack waited behind every publish queued before it (at a
 * fixed publish rate the lanes, which start a session's next message once the previous one is
 * acknowledged, fell seconds behind). Commands written one by one are still pipelined on the
 * socket (each is sent at once, replies are matched in order), and each resolves on its own reply.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { BackendUnavailableError, type BusError } from '@woodwork/bus-core';
import { MAX_REFUSED_CONNECTS, accessError, isLoginRefusal, isTlsRefusal, surfaceError, type AccessContext } from './access-errors.js';
import type { ResolvedRedisBusOptions } from './options.js';

export type RedisClient = Redis | Cluster;

/**
 * Reconnect delays: 50, 100, 200 ms, then every 200 ms (plus up to 50 ms of jitter). A refused
 * connect to a server that is down costs next to nothing, and the bus resumes within about a
 * quarter of a second of the server's return (it was up to half a second with a 400 ms cap).
 */
function backoff(times: number): number {
  return Math.min(200, 25 * 2 ** Math.min(times, 5)) + Math.floor(Math.random() * 50);
}

/** Refusals (login, TLS) a connection met in a row; it stops reconnecting at `MAX_REFUSED_CONNECTS`. */
class RefusalCount {
  inARow = 0;
  last: unknown;
  observe(error: unknown): void {
    if (isLoginRefusal(error) || isTlsRefusal(error)) {
      this.inARow++;
      this.last = error;
    }
  }
  get exhausted(): boolean {
    return this.inARow >= MAX_REFUSED_CONNECTS;
  }
}

const refusals = new WeakMap<RedisClient, RefusalCount>();

export function accessContext(options: ResolvedRedisBusOptions): AccessContext {
  return { server: options.server, username: options.credentials.username, secrets: options.credentials.secrets() };
}

/** The typed refusal (`AuthenticationError`) of a connection that stopped reconnecting because of it, if it did. */
export function refusalOf(client: RedisClient, options: ResolvedRedisBusOptions): BusError | undefined {
  const count = refusals.get(client);
  if (!count?.exhausted) return undefined;
  return surfaceError(accessError(count.last, accessContext(options)), accessContext(options)) as BusError;
}

function baseOptions(options: ResolvedRedisBusOptions, name: string, retryStrategy: (times: number) => number | null): RedisOptions {
  return {
    connectionName: name,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // In-flight commands are rejected as soon as the connection drops (not held until it is back):
    // the bus retries what must be retried itself.
    maxRetriesPerRequest: 0,
    connectTimeout: options.connectTimeoutMs,
    retryStrategy,
    // A master demoted by a failover (Sentinel, Cluster) answers READONLY: reconnect (Sentinel then
    // names the new master) without resending; the bus retries what must be retried.
    reconnectOnError: (error) => (/READONLY/.test(error.message) ? 1 : false),
    lazyConnect: true,
  };
}

function parseUrl(url: string): { host: string; port: number; db?: number } {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
  };
}

/** A new client as the options say (not connected yet: call `connect`). */
export function createClient(options: ResolvedRedisBusOptions, name: string, extra: RedisOptions = {}): RedisClient {
  const count = new RefusalCount();
  const retryStrategy = (times: number): number | null => (count.exhausted ? null : backoff(times));
  const urls = options.url.split(',').map((s) => s.trim()).filter(Boolean);
  const first = parseUrl(urls[0] ?? 'redis://127.0.0.1:6379');
  const { credentials } = options;
  const auth = { ...(credentials.username ? { username: credentials.username } : {}), ...(credentials.password ? { password: credentials.password } : {}) };
  const tls = credentials.tls ? { tls: credentials.tls } : {};
  const track = (client: RedisClient): RedisClient => {
    refusals.set(client, count);
    client.on('error', (error: unknown) => count.observe(error));
    // A Cluster reports a node's refused login as a 'node error', its own error only says no node answered.
    if (client instanceof Cluster) client.on('node error', (error: unknown) => count.observe(error));
    client.on('ready', () => {
      count.inARow = 0;
    });
    return client;
  };
  if (options.cluster) {
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      lazyConnect: true,
      redisOptions: { ...baseOptions(options, name, retryStrategy), ...auth, ...tls, ...extra },
    };
    return track(new Cluster(
      urls.map((u) => {
        const p = parseUrl(u);
        return { host: p.host, port: p.port };
      }),
      clusterOptions,
    ));
  }
  if (options.sentinels !== '') {
    return track(new Redis({
      ...baseOptions(options, name, retryStrategy),
      ...auth,
      ...tls,
      ...(credentials.tls ? { enableTLSForSentinelMode: true } : {}),
      ...(credentials.sentinelUsername ? { sentinelUsername: credentials.sentinelUsername } : {}),
      ...(credentials.sentinelPassword ? { sentinelPassword: credentials.sentinelPassword } : {}),
      ...(first.db !== undefined ? { db: first.db } : {}),
      sentinels: options.sentinels.split(',').map((hp) => {
        const [host = '127.0.0.1', port = '26379'] = hp.split(':');
        return { host, port: Number(port) };
      }),
      name: options.sentinelName,
      sentinelRetryStrategy: retryStrategy,
      ...extra,
    }));
  }
  return track(new Redis({ ...baseOptions(options, name, retryStrategy), host: first.host, port: first.port, ...auth, ...tls, ...(first.db !== undefined ? { db: first.db } : {}), ...extra }));
}

/**
 * Connects (bounded by connectTimeoutMs). A refused login or TLS handshake is an
 * `AuthenticationError` at once (one attempt, not a reconnect loop); anything else a
 * `BackendUnavailableError` naming the server without secrets.
 */
export async function connectClient(client: RedisClient, options: ResolvedRedisBusOptions): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let refused: unknown;
  const watch = (error: unknown): void => {
    if (refused === undefined && (isLoginRefusal(error) || isTlsRefusal(error))) refused = error;
  };
  client.on('error', watch);
  client.on('node error', watch);
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no connection within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
      }),
    ]);
  } catch (cause) {
    client.disconnect();
    const context = accessContext(options);
    const typed = accessError(refused ?? cause, context);
    if (typed) throw surfaceError(typed, context);
    // With TLS 1.3 a server that wants a client certificate resets the connection after the
    // handshake; the client cannot tell that from any other reset, so it says what may be missing.
    const hint = options.credentials.tls && options.credentials.tls.cert === undefined ? ' (over TLS: if the server requires client certificates, set tls.certFile and tls.keyFile)' : '';
    throw surfaceError(new BackendUnavailableError(`cannot connect to Redis at ${options.server}: ${String((cause as Error)?.message ?? cause)}${hint}`, { cause }), context);
  } finally {
    clearTimeout(timer);
    client.off('error', watch);
    client.off('node error', watch);
  }
}

export function isReady(client: RedisClient): boolean {
  return client.status === 'ready';
}

/** A driver error that means the server is away (not a reply error from the server itself). */
export function isConnectionError(error: unknown): boolean {
  const message = String((error as Error)?.message ?? error);
  return /writeable|max retries per request|Connection is closed|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|closed|LOADING|MASTERDOWN|READONLY|CLUSTERDOWN|TRYAGAIN/i.test(message);
}

/**
 * The error a failed command surfaces as: the typed refusal (login, TLS, missing permission) when it
 * is one, or the connection's own refusal when it gave up reconnecting because of one; otherwise a
 * `BackendUnavailableError` naming the server. Redacted with the bus's secrets.
 */
export function unavailable(options: ResolvedRedisBusOptions, cause: unknown, client?: RedisClient): BusError {
  const context = accessContext(options);
  const typed = accessError(cause, context) ?? (client ? refusalOf(client, options) : undefined);
  if (typed) return surfaceError(typed, context) as BusError;
  return surfaceError(new BackendUnavailableError(`Redis at ${options.server} is unavailable: ${String((cause as Error)?.message ?? cause)}`, { cause }), context) as BusError;
}
