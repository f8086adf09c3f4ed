/**
 * The message bus configuration: the design's snake_case keys (as written in YAML and built from
 * environment variables), which backend types accept which key, and the one mapping from those
 * keys to the camelCase options a backend's `createMessageBus(options)` takes. The shared keys,
 * their ranges and checks are core's option table (`SHARED_OPTIONS`); each backend's own keys are
 * listed once, in `BACKEND_OPTIONS`, with core's builders. `resolveBusConfig` checks everything
 * without connecting to anything.
 */
import {
  InvalidConfigError,
  SHARED_OPTIONS,
  checkOptionTable,
  choiceOption,
  configChoice,
  configName,
  customOption,
  describeValue,
  integerOption,
  millisecondsOption,
  objectOption,
  readConfigFile,
  urlOption,
  type OptionSpec,
} from '@woodwork/bus-core';
import { ROUTED_TYPE, checkRoutedConfig, type ResolvedRoutedSettings } from './routed/routed-config.js';

export const BUS_TYPES = ['memory', 'redis', 'nats'] as const;
export type BusType = (typeof BUS_TYPES)[number];

/** The npm package that implements each backend type; the factory imports it by this name. */
export const BACKEND_PACKAGES: Readonly<Record<BusType, string>> = Object.freeze({
  memory: '@woodwork/bus-memory',
  redis: '@woodwork/bus-redis',
  nats: '@woodwork/bus-nats',
});

export interface RetryConfig {
  initial_delay_ms?: number;
  max_delay_ms?: number;
  multiplier?: number;
  jitter?: number;
}

/** The `message_bus:` section of a config file. Numbers may also be given as numeric strings, so `${VAR}` works. */
export interface BusConfig {
  /** A backend, or `routed`: then `members`, `routes` and `default` instead (see `RoutedBusConfig`). */
  type?: BusType | 'routed';
  /** redis: the server, `redis://` or `rediss://`. */
  redis_url?: string;
  /** nats: one server or a comma-separated list, `nats://`, `tls://`, `ws://` or `wss://`. */
  nats_url?: string;
  stream_prefix?: string;
  /** redis: the consumer-group name prefix shared by the app's processes. */
  consumer_group?: string;
  max_retries?: number;
  /** memory: messages held per queue. */
  max_queue_size?: number;
  /** memory: what a publish into a full queue does. */
  on_queue_full?: 'wait' | 'reject';
  /** memory: publishes waiting for room at once. */
  max_waiting_publishes?: number;
  /** memory: targets with messages waiting for their first listener. */
  max_target_queues?: number;
  /** memory: `exactly_once` ids remembered. */
  max_dedupe_ids?: number;
  retry?: RetryConfig;
  handler_timeout_ms?: number;
  concurrency?: number;
  max_payload_bytes?: number;
  dead_letter_max_size?: number;
  dedupe_window_ms?: number;
  group_expiry_ms?: number;
  close_timeout_ms?: number;
  publish_timeout_ms?: number;
  /** Backend keys listed in `BACKEND_OPTIONS` (redis: `partitions`, `claim_idle_ms`...; nats: `ack_wait_ms`...). */
  [backendKey: string]: unknown;
}

/** A checked config: what to load and what to pass it. */
export interface ResolvedBusConfig {
  /** A backend type, or `routed` (members and routes in `routed`). */
  readonly type: BusType | typeof ROUTED_TYPE;
  /** The package `MessageBusFactory` imports for this type. */
  readonly packageName: string;
  /** The config as given, with numeric strings turned into numbers (no defaults added). */
  readonly config: Readonly<BusConfig>;
  /** The same settings as the backend's camelCase options (no defaults added: the backend owns them). */
  readonly options: Readonly<Record<string, unknown>>;
  /**
   * What the YAML parser warned about while reading the file (position and reason, never the
   * source line). `loadConfigFile` also logs them through its `logger`; the CLI prints them escaped.
   */
  readonly warnings: readonly string[];
  /** `type: routed` only: each member's checked config, the routes and the default member. */
  readonly routed?: ResolvedRoutedSettings<ResolvedBusConfig>;
}

/** A file the backend reads (a certificate, a key, a credentials file): it must be readable now, so a config check finds it missing. */
function configReadableFile(value: unknown, key: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new InvalidConfigError(key, `must be the path of a file; got ${describeValue(value)}`);
  readConfigFile(key, value);
  return value;
}

/** A name (user, TLS server name): a non-empty string without spaces. */
function configLoginName(value: unknown, key: string): string {
  if (typeof value !== 'string' || !/^[^\s]{1,256}$/.test(value)) throw new InvalidConfigError(key, `must be a non-empty string without spaces; got ${describeValue(value)}`);
  return value;
}

/** A password, token or seed: a non-empty string. The error never shows the value. */
function configSecret(value: unknown, key: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidConfigError(key, `must be a non-empty string (write \${VARIABLE} to take it from the environment); got ${typeof value === 'string' ? 'an empty string' : value === null ? 'null' : `a ${typeof value}`}`);
  }
  return value;
}

/** `tls:` of both network backends: files in PEM, read by the backend when it connects (and checked here). */
const TLS_OPTIONS: readonly OptionSpec[] = Object.freeze([
  customOption({ key: 'ca_file', option: 'caFile', check: configReadableFile, doc: "PEM file of the CA(s) that signed the server's certificate (default: the system's)" }),
  customOption({ key: 'cert_file', option: 'certFile', check: configReadableFile, doc: 'PEM file of the client certificate (with key_file)' }),
  customOption({ key: 'key_file', option: 'keyFile', check: configReadableFile, doc: "PEM file of the client certificate's private key" }),
  customOption({ key: 'server_name', option: 'serverName', check: configLoginName, doc: "the name the server's certificate must carry, when not the URL's host" }),
]);

const tlsOption = (url: string): OptionSpec => objectOption({ key: 'tls', option: 'tls', fields: TLS_OPTIONS, doc: `TLS: ca_file, cert_file, key_file, server_name (${url})` });

/**
 * Each backend's own keys: the ONE place the adapter learns them (it cannot import a backend to
 * ask). The shared keys come from core's `SHARED_OPTIONS`, with core's checks.
 *
 * Adding a key to a backend is one line here, with core's builders, e.g.
 *   millisecondsOption({ key: 'claim_idle_ms', option: 'claimIdleMs', min: 100, doc: '...' }),
 * `key` is what a YAML file says, `option` what the backend's `createMessageBus(options)` takes.
 * Values of `integerOption` / `millisecondsOption` / `numberOption` keys may be numeric strings in a
 * file or the environment (they become numbers); an error names the key (`message_bus.<key>`).
 * `millisecondsOption` stops at 2^31-1 ms. Defaults stay with the backend (the adapter passes only
 * what the file sets): write them in `doc`.
 */
export const BACKEND_OPTIONS: Readonly<Record<BusType, readonly OptionSpec[]>> = Object.freeze({
  memory: [
    integerOption({ key: 'max_queue_size', option: 'maxQueueSize', min: 1, doc: 'messages one group or waiting target holds (default 10000)' }),
    choiceOption({ key: 'on_queue_full', option: 'onQueueFull', choices: ['wait', 'reject'], doc: "what a publish into a full queue does (default 'wait')" }),
    integerOption({ key: 'max_waiting_publishes', option: 'maxWaitingPublishes', min: 0, doc: 'publishes waiting for room at once; past it QueueFullError at once (default 10000)' }),
    integerOption({ key: 'max_target_queues', option: 'maxTargetQueues', min: 0, doc: 'targets with messages waiting for their first listener (default 1000)' }),
    integerOption({ key: 'max_dedupe_ids', option: 'maxDedupeIds', min: 1, doc: 'exactly_once ids remembered by the bus and by each group (default 100000)' }),
  ],
  redis: [
    urlOption({ key: 'redis_url', option: 'url', protocols: ['redis:', 'rediss:'], doc: 'the server, redis:// or rediss://' }),
    customOption({ key: 'consumer_group', option: 'consumerGroup', check: configName, doc: 'prefix of every group name on the server' }),
    customOption({ key: 'consumer_name', option: 'consumerName', check: configName, doc: "this process's consumer name (default host-pid-random)" }),
    integerOption({ key: 'partitions', option: 'partitions', min: 1, max: 1024, doc: 'partition streams per namespace (default 8)' }),
    millisecondsOption({ key: 'claim_idle_ms', option: 'claimIdleMs', min: 100, doc: "lease: silence before a consumer's work is taken over (default 30000)" }),
    integerOption({ key: 'read_batch_size', option: 'readBatchSize', min: 1, max: 100_000, doc: 'entries one read takes per partition (default 256)' }),
    integerOption({ key: 'max_buffered_per_group', option: 'maxBufferedPerGroup', min: 1, max: 10_000_000, doc: 'messages a group holds in this process (default 4096)' }),
    millisecondsOption({ key: 'block_ms', option: 'blockMs', min: 10, max: 60_000, doc: 'one blocking read (default 2000)' }),
    millisecondsOption({ key: 'retention_ms', option: 'retentionMs', min: 0, doc: 'entries younger are never trimmed; 0: no trimming (default 1 day)' }),
    millisecondsOption({ key: 'maintenance_interval_ms', option: 'maintenanceIntervalMs', min: 10, doc: 'trimming / expiry / lease upkeep period (default 5000)' }),
    integerOption({ key: 'publish_buffer_size', option: 'publishBufferSize', min: 0, max: 1_000_000, default: 0, doc: 'publishes kept while the server is away (default 0: fail fast)' }),
    millisecondsOption({ key: 'connect_timeout_ms', option: 'connectTimeoutMs', min: 100, doc: 'how long connecting may take (default 10000)' }),
    customOption({ key: 'cluster', option: 'cluster', check: configBoolean, doc: 'Redis Cluster: redis_url lists seed nodes, comma-separated (default false)' }),
    customOption({ key: 'sentinels', option: 'sentinels', check: configHostPorts, doc: 'Redis Sentinel: host:port of the sentinels, comma-separated' }),
    customOption({ key: 'sentinel_name', option: 'sentinelName', check: configName, doc: "Redis Sentinel: the master's name (default mymaster)" }),
    customOption({ key: 'username', option: 'username', check: configLoginName, doc: 'ACL user (or the user part of redis_url)' }),
    customOption({ key: 'password', option: 'password', check: configSecret, doc: 'password of the ACL user or of requirepass (or in redis_url); use ${VAR}' }),
    tlsOption('redis_url must then be rediss://'),
    customOption({ key: 'sentinel_username', option: 'sentinelUsername', check: configLoginName, doc: "Redis Sentinel: the sentinels' own ACL user" }),
    customOption({ key: 'sentinel_password', option: 'sentinelPassword', check: configSecret, doc: "Redis Sentinel: the sentinels' own password; use ${VAR}" }),
  ],
  nats: [
    urlOption({ key: 'nats_url', option: 'url', protocols: ['nats:', 'tls:', 'ws:', 'wss:'], list: true, doc: 'one server or a comma-separated list' }),
    millisecondsOption({ key: 'ack_wait_ms', option: 'ackWaitMs', min: 100, doc: 'server wait for an ack before redelivery (default 30000)' }),
    integerOption({ key: 'fetch_batch', option: 'fetchBatch', min: 1, max: 10_000, doc: 'messages one pull asks for (default 256)' }),
    integerOption({ key: 'max_held_per_group', option: 'maxHeldPerGroup', min: 1, max: 1_000_000, doc: 'messages a group holds in this process (default 1000)' }),
    integerOption({ key: 'max_ack_pending', option: 'maxAckPending', min: 1, max: 10_000_000, doc: "the consumer's max_ack_pending (default 20000)" }),
    choiceOption({ key: 'storage', option: 'storage', choices: ['file', 'memory'], doc: "stream storage (default 'file')" }),
    integerOption({ key: 'replicas', option: 'replicas', min: 1, max: 5, doc: 'stream replicas (default 1)' }),
    integerOption({ key: 'max_age_ms', option: 'maxAgeMs', min: 0, doc: 'oldest message kept, ms (not a timer); 0: no limit (default 7 days)' }),
    integerOption({ key: 'publish_buffer_size', option: 'publishBufferSize', min: 0, max: 1_000_000, default: 0, doc: 'publishes kept while the server is away (default 0: fail fast)' }),
    millisecondsOption({ key: 'connect_timeout_ms', option: 'connectTimeoutMs', min: 1, doc: 'connection timeout (default 5000)' }),
    millisecondsOption({ key: 'lease_ms', option: 'leaseMs', min: 4_000, doc: "a shared group's partition lease: a silent process's partitions are taken over after it (default 10000)" }),
    integerOption({ key: 'partitions', option: 'partitions', min: 1, max: 1024, doc: 'partitions of a new prefix: most processes one group runs on at once (default 8)' }),
    customOption({ key: 'username', option: 'username', check: configLoginName, doc: 'user of a user/password login' }),
    customOption({ key: 'password', option: 'password', check: configSecret, doc: 'password of username; use ${VAR}' }),
    customOption({ key: 'token', option: 'token', check: configSecret, doc: 'token login; use ${VAR}' }),
    customOption({ key: 'credentials_file', option: 'credentialsFile', check: configReadableFile, doc: 'a .creds file (user JWT and NKey seed), decentralised auth' }),
    customOption({ key: 'nkey_seed_file', option: 'nkeySeedFile', check: configReadableFile, doc: 'a file holding an NKey user seed (SU...)' }),
    tlsOption('or a tls:// URL'),
  ],
});

/** true / false, also as the text a file or the environment gives. */
function configBoolean(value: unknown, key: string): boolean {
  if (typeof value === 'boolean') return value;
  if (value === 'true' || value === 'false') return value === 'true';
  throw new InvalidConfigError(key, `must be true or false; got ${describeValue(value)}`);
}

/** A comma-separated list of host:port. */
function configHostPorts(value: unknown, key: string): string {
  if (typeof value !== 'string' || !/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/.test(value)) {
    throw new InvalidConfigError(key, `must be a comma-separated list of host:port; got ${describeValue(value)}`);
  }
  return value;
}

/** The keys a backend type accepts (including `type`), in a stable order: shared ones, then its own. */
export function busConfigKeys(type: BusType): string[] {
  return ['type', ...busConfigTable(type).map((spec) => spec.key)];
}

/** The whole table a type accepts: core's shared options, then the backend's own. */
export function busConfigTable(type: BusType): readonly OptionSpec[] {
  return [...SHARED_OPTIONS, ...BACKEND_OPTIONS[type]];
}

export interface ResolveBusConfigOptions {
  /** How to name a key in errors, e.g. `message_bus.redis_url` or the environment variable it came from. */
  keyName?: (key: string) => string;
  /** How to name the config as a whole in errors. Default `config`. */
  section?: string;
  /** Parser warnings to carry on the result (`parseConfigText` passes the file's). */
  warnings?: readonly string[];
}

/**
 * Checks a bus config without connecting: the type, every key against the type's allowed keys and
 * every value against its rule (core's checks; numeric strings become numbers). Throws
 * `InvalidConfigError` naming the key, the rule and what is allowed. `null` values count as absent
 * (an empty YAML key). Own keys only: `__proto__`, `constructor`, `toString` are ordinary unknown
 * keys here, never read from a prototype.
 */
export function resolveBusConfig(config: unknown, options: ResolveBusConfigOptions = {}): ResolvedBusConfig {
  const name = options.keyName ?? ((key: string) => key);
  if (config === undefined || config === null) config = {};
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new InvalidConfigError(options.section ?? 'config', `must be a mapping of settings; got ${describeValue(config)}`);
  }
  const raw = config as Record<string, unknown>;
  const givenType = Object.hasOwn(raw, 'type') ? raw['type'] : undefined;
  if (givenType === ROUTED_TYPE) return resolveRoutedConfig(raw, name, options);
  const type = (givenType === undefined || givenType === null ? 'memory' : configChoice(givenType, name('type'), [...BUS_TYPES, ROUTED_TYPE])) as BusType;
  const allowed = busConfigKeys(type);
  for (const key of Object.keys(raw)) {
    if (allowed.includes(key)) continue;
    const owners = BUS_TYPES.filter((t) => BACKEND_OPTIONS[t].some((spec) => spec.key === key));
    const rule = owners.length > 0 ? `is not a setting of type "${type}" (it belongs to ${owners.join(', ')})` : 'is not a known setting';
    throw new InvalidConfigError(name(key), rule, allowed);
  }
  const table = busConfigTable(type);
  const backendOptions = checkOptionTable(raw, table, { naming: 'key', fromText: true, nullIsAbsent: true, extraKeys: ['type'], nameKey: name });
  const normalized: Record<string, unknown> = { type };
  for (const spec of table) {
    const value = backendOptions[spec.option];
    if (value === undefined) continue;
    normalized[spec.key] = spec.fields ? toKeys(value as Record<string, unknown>, spec.fields) : value;
  }
  const result: ResolvedBusConfig = Object.freeze({
    type,
    packageName: BACKEND_PACKAGES[type],
    config: Object.freeze(normalized) as Readonly<BusConfig>,
    options: Object.freeze(backendOptions),
    warnings: Object.freeze([...(options.warnings ?? [])]),
  });
  resolvedConfigs.add(result);
  return result;
}

/** `type: routed`: the members (each checked as the bus config it is), routes and defaults (routed/routed-config.ts). */
function resolveRoutedConfig(raw: Record<string, unknown>, name: (key: string) => string, options: ResolveBusConfigOptions): ResolvedBusConfig {
  const { settings, options: routedOptions, config } = checkRoutedConfig<ResolvedBusConfig>(raw, name, (member, section, keyName) =>
    resolveBusConfig(member, { keyName, section }),
  );
  const result: ResolvedBusConfig = Object.freeze({
    type: ROUTED_TYPE,
    packageName: '@woodwork/bus-adapter',
    config: Object.freeze(config) as Readonly<BusConfig>,
    options: Object.freeze(routedOptions),
    warnings: Object.freeze([...(options.warnings ?? [])]),
    routed: Object.freeze(settings),
  });
  resolvedConfigs.add(result);
  return result;
}

/** Checked option values back under their snake_case keys (the normalised `config`). */
function toKeys(values: Record<string, unknown>, specs: readonly OptionSpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of specs) if (values[spec.option] !== undefined) out[spec.key] = values[spec.option];
  return out;
}

/** Option names (camelCase) whose values are secrets: never printed, redacted wherever they would be. */
export const SECRET_OPTIONS: readonly string[] = Object.freeze(['password', 'token', 'sentinelPassword', 'nkeySeed']);

/**
 * The secrets a checked config holds (passwords, tokens; a routed config's members' too, and the
 * passwords in their URLs), in the forms they could be printed in (as given, URL-encoded, inside
 * JSON): pass them to core's `redactKnownSecrets`, as the CLI does with everything it prints.
 */
export function busConfigSecrets(config: ResolvedBusConfig): string[] {
  const out = new Set<string>();
  const add = (secret: string): void => {
    if (secret === '') return;
    out.add(secret);
    out.add(encodeURIComponent(secret));
    out.add(JSON.stringify(secret).slice(1, -1));
  };
  const visit = (resolved: ResolvedBusConfig): void => {
    for (const key of SECRET_OPTIONS) {
      const value = resolved.options[key];
      if (typeof value === 'string') add(value);
    }
    const url = resolved.options['url'];
    if (typeof url === 'string') {
      for (const part of url.split(',')) {
        try {
          const password = new URL(part.trim()).password;
          if (password) add(decodeURIComponent(password));
        } catch {
          // Checked already; a part that does not parse has nothing to add.
        }
      }
    }
    for (const member of Object.values(resolved.routed?.members ?? {})) visit(member);
  };
  visit(config);
  return [...out];
}

/** Results of `resolveBusConfig` (frozen), so the factory can take one without checking it again. */
const resolvedConfigs = new WeakSet<object>();

export function isResolvedBusConfig(value: unknown): value is ResolvedBusConfig {
  return typeof value === 'object' && value !== null && resolvedConfigs.has(value);
}
