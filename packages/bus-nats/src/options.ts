/**
 * Options of the NATS bus: the shared ones plus the server, JetStream settings and delivery bounds.
 * Every millisecond option is bounded below 2^31 ms (Node's timer limit); the server's configs take
 * nanoseconds and `nanos()` converts at the edge (streams.ts, consumers.ts).
 */
import {
  InvalidConfigError,
  configChoice,
  configInteger,
  describeValue,
  guardedLogger,
  redactSecrets,
  resolveBusOptions,
  type BusOptions,
  type ResolvedBusOptions,
} from '@woodwork/bus-core';
import { AUTH_OPTION_KEYS, resolveNatsAuth, type NatsAuth, type NatsAuthOptions } from './auth.js';
import { defaultInboxPrefix } from './permissions.js';
import { DEFAULT_PARTITIONS } from './subjects.js';

export interface NatsBusOptions extends BusOptions, NatsAuthOptions {
  /**
   * One server or a comma-separated list (`nats://`, `tls://`, `ws://`, `wss://` or host:port).
   * Default `nats://127.0.0.1:4222`. A login in the URL (`nats://user:pass@host`, `nats://token@host`)
   * is used like `username`/`password` or `token`; the resolved `url` shows it as `***`.
   */
  url?: string;
  /** How long the server waits for an ack (or `working()`) before redelivering, ms. Default 30 000. */
  ackWaitMs?: number;
  /** Messages one pull asks for. Default 256. */
  fetchBatch?: number;
  /** Messages one group holds in this process (running, queued behind their session, retrying). Default 1 000. */
  maxHeldPerGroup?: number;
  /** The consumer's `max_ack_pending` (summed over processes). Default 20 000. */
  maxAckPending?: number;
  /** Stream storage. Default `file`. */
  storage?: 'file' | 'memory';
  /** Stream replicas (clustered JetStream: 1, 3 or 5). Default 1. */
  replicas?: number;
  /** Oldest message kept in the events stream, ms (0 = no limit). Default 7 days. */
  maxAgeMs?: number;
  /**
   * Publishes held in order while the server is away, each until its publishTimeoutMs (0 = fail
   * fast with BackendUnavailableError; past the bound: QueueFullError). Default 0.
   */
  publishBufferSize?: number;
  /** Connection timeout, ms. Default 5 000. */
  connectTimeoutMs?: number;
  /**
   * A shared group's partition lease, ms: a process that stops heartbeating (crashed, paused, cut
   * off) has its partitions taken over after this long; heartbeats every sixth of it. At least
   * 4 000 (pulls last at least 1 s and must end within a quarter of it). Default 10 000.
   */
  leaseMs?: number;
  /**
   * Partitions of the prefix, fixed when its events stream is created (later processes use the
   * stream's): the most processes one shared group runs on at once. Default 16.
   */
  partitions?: number;
  /**
   * Prefix of this bus's reply inboxes (JetStream API answers, PubAcks, pulled messages). Default
   * `_INBOX.<streamPrefix>`, so a user's subscribe permission `_INBOX.<streamPrefix>.>` covers them
   * and never another tenant's (see minimalPermissions).
   */
  inboxPrefix?: string;
}

export interface ResolvedNatsBusOptions extends ResolvedBusOptions {
  url: string;
  ackWaitMs: number;
  fetchBatch: number;
  maxHeldPerGroup: number;
  maxAckPending: number;
  storage: 'file' | 'memory';
  replicas: number;
  maxAgeMs: number;
  publishBufferSize: number;
  connectTimeoutMs: number;
  leaseMs: number;
  partitions: number;
  inboxPrefix: string;
  /** The login and TLS settings, with the files read; prints its secrets as `***`. */
  auth: NatsAuth;
}

export const NATS_OPTION_KEYS = [
  'url',
  'ackWaitMs',
  'fetchBatch',
  'maxHeldPerGroup',
  'maxAckPending',
  'storage',
  'replicas',
  'maxAgeMs',
  'publishBufferSize',
  'connectTimeoutMs',
  'leaseMs',
  'partitions',
  'inboxPrefix',
  ...AUTH_OPTION_KEYS,
] as const;

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/** Largest millisecond value a Node timer honours. */
const MAX_MS = 2 ** 31 - 1;

export function resolveNatsBusOptions(options: NatsBusOptions = {}): ResolvedNatsBusOptions {
  const shared = resolveBusOptions(options, NATS_OPTION_KEYS);
  const url = options.url ?? DEFAULT_NATS_URL;
  if (typeof url !== 'string' || url.trim() === '') throw new InvalidConfigError('url', `must be a server URL or a comma-separated list; got ${describeValue(url)}`);
  const auth = resolveNatsAuth(options, url.trim());
  const resolved: ResolvedNatsBusOptions = {
    ...shared,
    // Shown in health and errors: a password in the URL is kept in `auth` only.
    url: redactSecrets(url.trim()),
    ackWaitMs: configInteger(options.ackWaitMs ?? 30_000, 'ackWaitMs', 100, MAX_MS),
    fetchBatch: configInteger(options.fetchBatch ?? 256, 'fetchBatch', 1, 10_000),
    maxHeldPerGroup: configInteger(options.maxHeldPerGroup ?? 1_000, 'maxHeldPerGroup', 1, 1_000_000),
    maxAckPending: configInteger(options.maxAckPending ?? 20_000, 'maxAckPending', 1, 10_000_000),
    storage: configChoice(options.storage ?? 'file', 'storage', ['file', 'memory'] as const),
    replicas: configInteger(options.replicas ?? 1, 'replicas', 1, 5),
    maxAgeMs: configInteger(options.maxAgeMs ?? 7 * 24 * 3600 * 1000, 'maxAgeMs', 0, Number.MAX_SAFE_INTEGER),
    publishBufferSize: configInteger(options.publishBufferSize ?? 0, 'publishBufferSize', 0, 1_000_000),
    connectTimeoutMs: configInteger(options.connectTimeoutMs ?? 5_000, 'connectTimeoutMs', 1, MAX_MS),
    leaseMs: configInteger(options.leaseMs ?? 10_000, 'leaseMs', 4_000, MAX_MS),
    partitions: configInteger(options.partitions ?? DEFAULT_PARTITIONS, 'partitions', 1, 1_024),
    inboxPrefix: subjectPrefix(options.inboxPrefix ?? defaultInboxPrefix(shared.streamPrefix), 'inboxPrefix'),
    auth,
  };
  // Every log line goes out with the login's secrets replaced (core's redaction).
  resolved.logger = guardedLogger(resolved.logger, resolved.auth.secrets());
  // Bound what becomes a timer here, so a "24-day" value never fires after 1 ms.
  for (const key of ['handlerTimeoutMs', 'closeTimeoutMs', 'publishTimeoutMs'] as const) {
    if (resolved[key] > MAX_MS) throw new InvalidConfigError(key, `must be at most ${MAX_MS} ms (Node timers); got ${resolved[key]}`);
  }
  if (resolved.maxAckPending < resolved.maxHeldPerGroup) {
    throw new InvalidConfigError('maxAckPending', `must be at least maxHeldPerGroup (${resolved.maxHeldPerGroup}); got ${resolved.maxAckPending}`);
  }
  return resolved;
}

/** Milliseconds to the nanoseconds JetStream configs take (ack_wait, duplicate_window, max_age...). */
export function msToNanos(ms: number): number {
  return ms * 1_000_000;
}

/** A subject without wildcards or empty tokens (an inbox prefix). */
function subjectPrefix(value: unknown, key: string): string {
  if (typeof value !== 'string' || !/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(value)) {
    throw new InvalidConfigError(key, `must be a subject without wildcards (dot-separated tokens); got ${describeValue(value)}`);
  }
  return value;
}
