/**
 * Connections to Redis (standalone, Sentinel or Cluster), all set up the same way:
 * - no offline queue: a command while the server is away fails at once (the bus turns that into
 *   `BackendUnavailableError`, or into its own bounded buffer), never piling up in memory;
 * - no automatic resend of commands that got no reply before a disconnect: a resent `XADD` could
 *   store a message twice; the publisher resends itself, with its idempotency token;
 * - commands in flight when the connection drops are rejected at once (`maxRetriesPerRequest: 0`),
 *   never held until the server is back;
 * - reconnect by itself, with a backoff capped at about 0.5 s.
 * One command connection per bus, one for acks, plus one blocking reader per consuming group. Not ioredis's
 * auto-pipelining: it keeps one pipeline in flight and answers each of its commands only when the
 * whole pipeline has been answered, so an ack waited behind every publish queued before it (at a
 * fixed publish rate the lanes, which start a session's next message once the previous one is
 * acknowledged, fell seconds behind). Commands written one by one are still pipelined on the
 * socket (each is sent at once, replies are matched in order), and each resolves on its own reply.
 */
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { BackendUnavailableError, redactSecrets } from '@woodwork/bus-core';
import type { ResolvedRedisBusOptions } from './options.js';

export type RedisClient = Redis | Cluster;

function retryStrategy(times: number): number {
  return Math.min(400, 25 * 2 ** Math.min(times, 5)) + Math.floor(Math.random() * 50);
}

function baseOptions(options: ResolvedRedisBusOptions, name: string): RedisOptions {
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

function parseUrl(url: string): { host: string; port: number; username?: string; password?: string; db?: number; tls: boolean } {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    tls: u.protocol === 'rediss:',
  };
}

/** A new client as the options say (not connected yet: call `connect`). */
export function createClient(options: ResolvedRedisBusOptions, name: string, extra: RedisOptions = {}): RedisClient {
  const urls = options.url.split(',').map((s) => s.trim()).filter(Boolean);
  const first = parseUrl(urls[0] ?? 'redis://127.0.0.1:6379');
  const auth = { ...(first.username ? { username: first.username } : {}), ...(first.password ? { password: first.password } : {}) };
  const tls = first.tls ? { tls: {} } : {};
  if (options.cluster) {
    const clusterOptions: ClusterOptions = {
      enableOfflineQueue: false,
      clusterRetryStrategy: retryStrategy,
      lazyConnect: true,
      redisOptions: { ...baseOptions(options, name), ...auth, ...tls, ...extra },
    };
    return new Cluster(
      urls.map((u) => {
        const p = parseUrl(u);
        return { host: p.host, port: p.port };
      }),
      clusterOptions,
    );
  }
  if (options.sentinels !== '') {
    return new Redis({
      ...baseOptions(options, name),
      ...auth,
      ...tls,
      ...(first.db !== undefined ? { db: first.db } : {}),
      sentinels: options.sentinels.split(',').map((hp) => {
        const [host = '127.0.0.1', port = '26379'] = hp.split(':');
        return { host, port: Number(port) };
      }),
      name: options.sentinelName,
      sentinelRetryStrategy: retryStrategy,
      ...extra,
    });
  }
  return new Redis({ ...baseOptions(options, name), host: first.host, port: first.port, ...auth, ...tls, ...(first.db !== undefined ? { db: first.db } : {}), ...extra });
}

/** Connects (bounded by connectTimeoutMs); a failure is a `BackendUnavailableError` naming the server without secrets. */
export async function connectClient(client: RedisClient, options: ResolvedRedisBusOptions): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no connection within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
      }),
    ]);
  } catch (cause) {
    client.disconnect();
    throw new BackendUnavailableError(`cannot connect to Redis at ${redactSecrets(options.url)}: ${String((cause as Error)?.message ?? cause)}`, { cause });
  } finally {
    clearTimeout(timer);
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

export function unavailable(options: ResolvedRedisBusOptions, cause: unknown): BackendUnavailableError {
  return new BackendUnavailableError(`Redis at ${redactSecrets(options.url)} is unavailable: ${String((cause as Error)?.message ?? cause)}`, { cause });
}
