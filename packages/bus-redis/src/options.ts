/**
 * Options of the Redis bus: the shared ones plus the server, partitions, leases and bounds. Their
 * snake_case keys are in the adapter's config table (bus-adapter `BACKEND_OPTIONS.redis`); the
 * names and defaults here are the ones documented there.
 */
import {
  InvalidConfigError,
  checkOptionTable,
  guardedLogger,
  customOption,
  configName,
  integerOption,
  millisecondsOption,
  resolveBusOptions,
  urlOption,
  type BusOptions,
  type OptionSpec,
  type ResolvedBusOptions,
  redactSecrets,
} from '@woodwork/bus-core';
import { RedisCredentials, resolveCredentials, withoutPasswords } from './credentials.js';

export interface RedisBusOptions extends BusOptions {
  /**
   * The server, `redis://[user:password@]host:port[/db]` or `rediss://`. With `sentinels` it only
   * gives the password and db; with `cluster` it may be a comma-separated list of seed nodes.
   * Default `redis://127.0.0.1:6379`.
   */
  url?: string;
  /** Prefix of every consumer-group name on the server (processes that share work share it). Default none. */
  consumerGroup?: string;
  /** This process's consumer name (default `<host>-<pid>-<random>`); unique per bus instance. */
  consumerName?: string;
  /** Partition streams per namespace: fixed once the namespace exists. Default 8. */
  partitions?: number;
  /** Lease of a partition: a consumer silent this long loses its partitions and its work is claimed. Default 30 000. */
  claimIdleMs?: number;
  /** Entries one read takes, shared among the partitions it reads (at least 16 of each). Default 256. */
  readBatchSize?: number;
  /** Messages a group holds in this process (running, queued behind their session, retrying). Default 4 096. */
  maxBufferedPerGroup?: number;
  /** Longest blocking read, ms. Default 2 000. */
  blockMs?: number;
  /** Entries younger than this are never trimmed; older ones once every group acknowledged them. 0: no trimming. Default 1 day. */
  retentionMs?: number;
  /** Period of trimming and group expiry, ms. Default 5 000. */
  maintenanceIntervalMs?: number;
  /** Publishes held while the server is away (0 = fail fast with BackendUnavailableError). Default 0. */
  publishBufferSize?: number;
  /** How long connecting may take, ms. Default 10 000. */
  connectTimeoutMs?: number;
  /** Redis Cluster: `url` lists seed nodes. Default false. */
  cluster?: boolean;
  /** Redis Sentinel: `host:port` list of sentinels (comma-separated). */
  sentinels?: string;
  /** Redis Sentinel: the master's name. Default `mymaster`. */
  sentinelName?: string;
  /**
   * ACL user (Redis 6+). Same as the user part of `url`; give it in one place (both, when they
   * differ, is an error).
   */
  username?: string;
  /** Password (of `username`, or `requirepass`). Same as the password part of `url`; never logged or shown. */
  password?: string;
  /** TLS: the files are read once, when the bus connects. Any of them turns TLS on; `url` must then be `rediss://`. */
  tls?: RedisTlsOptions;
  /** Redis Sentinel: the sentinels' own ACL user, when they have one. */
  sentinelUsername?: string;
  /** Redis Sentinel: the sentinels' own password (`requirepass` in sentinel.conf); the master's is `password`. */
  sentinelPassword?: string;
}

export interface RedisTlsOptions {
  /** PEM file of the CA(s) that signed the server's certificate. Default: the system's CAs. */
  caFile?: string;
  /** PEM file of the client certificate (servers with `tls-auth-clients yes`). Needs `keyFile`. */
  certFile?: string;
  /** PEM file of the client certificate's private key. */
  keyFile?: string;
  /** The name the server's certificate must carry, when it is not the host of `url` (SNI and verification). */
  serverName?: string;
}

export interface ResolvedRedisBusOptions extends ResolvedBusOptions {
  url: string;
  consumerGroup: string;
  consumerName: string | undefined;
  partitions: number;
  claimIdleMs: number;
  readBatchSize: number;
  maxBufferedPerGroup: number;
  blockMs: number;
  retentionMs: number;
  maintenanceIntervalMs: number;
  publishBufferSize: number;
  connectTimeoutMs: number;
  cluster: boolean;
  sentinels: string;
  sentinelName: string;
  /** `url` with every secret replaced (`redactSecrets`), or the sentinels and master name: what errors, logs and health show. */
  server: string;
  /** The login and TLS material, read once; inspect and JSON print it without its secrets. */
  credentials: RedisCredentials;
}

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export const REDIS_OPTIONS: readonly OptionSpec[] = Object.freeze([
  urlOption({ key: 'redis_url', option: 'url', protocols: ['redis:', 'rediss:'], list: true, default: DEFAULT_REDIS_URL, doc: 'the server, redis:// or rediss://' }),
  customOption({ key: 'consumer_group', option: 'consumerGroup', check: configName, doc: 'prefix of every group name on the server' }),
  customOption({ key: 'consumer_name', option: 'consumerName', check: configName, doc: "this process's consumer name" }),
  integerOption({ key: 'partitions', option: 'partitions', min: 1, max: 1024, default: 8, doc: 'partition streams per namespace' }),
  millisecondsOption({ key: 'claim_idle_ms', option: 'claimIdleMs', min: 100, default: 30_000, doc: "lease: silence before a consumer's work is taken over" }),
  integerOption({ key: 'read_batch_size', option: 'readBatchSize', min: 1, max: 100_000, default: 256, doc: 'entries one read takes' }),
  integerOption({ key: 'max_buffered_per_group', option: 'maxBufferedPerGroup', min: 1, max: 10_000_000, default: 4096, doc: 'messages a group holds in this process' }),
  millisecondsOption({ key: 'block_ms', option: 'blockMs', min: 10, max: 60_000, default: 2_000, doc: 'one blocking read' }),
  millisecondsOption({ key: 'retention_ms', option: 'retentionMs', min: 0, default: 24 * 3600 * 1000, doc: 'entries younger are never trimmed; 0: no trimming' }),
  millisecondsOption({ key: 'maintenance_interval_ms', option: 'maintenanceIntervalMs', min: 10, default: 5_000, doc: 'trimming / expiry period' }),
  integerOption({ key: 'publish_buffer_size', option: 'publishBufferSize', min: 0, max: 1_000_000, default: 0, doc: 'publishes kept while the server is away (0: fail fast)' }),
  millisecondsOption({ key: 'connect_timeout_ms', option: 'connectTimeoutMs', min: 100, default: 10_000, doc: 'how long connecting may take' }),
]);

export const REDIS_OPTION_KEYS = [
  ...REDIS_OPTIONS.map((s) => s.option),
  'cluster',
  'sentinels',
  'sentinelName',
  'username',
  'password',
  'tls',
  'sentinelUsername',
  'sentinelPassword',
] as const;

export function resolveRedisBusOptions(options: RedisBusOptions = {}): ResolvedRedisBusOptions {
  const shared = resolveBusOptions(options, REDIS_OPTION_KEYS);
  const given = checkOptionTable(options, REDIS_OPTIONS, { naming: 'option', extraKeys: [...Object.keys(options).filter((k) => !REDIS_OPTIONS.some((s) => s.option === k))] });
  const value = <T>(key: string, fallback: T): T => (given[key] ?? REDIS_OPTIONS.find((s) => s.option === key)?.default ?? fallback) as T;
  const own = (key: string): unknown => (Object.hasOwn(options, key) ? (options as Record<string, unknown>)[key] : undefined);
  const cluster = own('cluster') ?? false;
  if (typeof cluster !== 'boolean') throw new InvalidConfigError('cluster', 'must be a boolean');
  const sentinels = own('sentinels') ?? '';
  if (typeof sentinels !== 'string' || (sentinels !== '' && !/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/.test(sentinels))) {
    throw new InvalidConfigError('sentinels', 'must be a comma-separated list of host:port');
  }
  const sentinelName = own('sentinelName') ?? 'mymaster';
  if (typeof sentinelName !== 'string' || sentinelName === '') throw new InvalidConfigError('sentinelName', 'must be a non-empty string');
  const givenUrl = value('url', DEFAULT_REDIS_URL);
  const credentials = resolveCredentials(options, givenUrl);
  // The password lives in `credentials` only (printed as redacted), not in the options' url.
  const url = withoutPasswords(givenUrl);
  const secrets = credentials.secrets();
  const resolved: ResolvedRedisBusOptions = {
    ...shared,
    logger: guardedLogger(shared.logger, secrets),
    url,
    consumerGroup: value('consumerGroup', ''),
    consumerName: given['consumerName'] as string | undefined,
    partitions: value('partitions', 8),
    claimIdleMs: value('claimIdleMs', 30_000),
    readBatchSize: value('readBatchSize', 256),
    maxBufferedPerGroup: value('maxBufferedPerGroup', 4096),
    blockMs: value('blockMs', 2_000),
    retentionMs: value('retentionMs', 24 * 3600 * 1000),
    maintenanceIntervalMs: value('maintenanceIntervalMs', 5_000),
    publishBufferSize: value('publishBufferSize', 0),
    connectTimeoutMs: value('connectTimeoutMs', 10_000),
    cluster,
    sentinels,
    sentinelName,
    server: sentinels !== '' ? `Redis Sentinel ${sentinels} (master ${sentinelName})` : redactSecrets(givenUrl),
    credentials,
  };
  if (resolved.cluster && resolved.sentinels !== '') throw new InvalidConfigError('cluster', 'cannot be combined with sentinels');
  return resolved;
}
