/**
 * The message bus configuration: the design's snake_case keys (as written in YAML and built from
 * environment variables), which backend types accept which key, the rules of their values, and the
 * one mapping from those keys to the camelCase options a backend's `createMessageBus(options)`
 * takes. `resolveBusConfig` checks everything without connecting to anything.
 */
import { InvalidConfigError, MAX_RETRIES_LIMIT, configChoice, configName, configStreamPrefix, describe } from '@woodwork/bus-core';

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
  type?: BusType;
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
  retry?: RetryConfig;
  handler_timeout_ms?: number;
  concurrency?: number;
  max_payload_bytes?: number;
  dead_letter_max_size?: number;
  dedupe_window_ms?: number;
  group_expiry_ms?: number;
  close_timeout_ms?: number;
  publish_timeout_ms?: number;
}

/** A checked config: what to load and what to pass it. */
export interface ResolvedBusConfig {
  readonly type: BusType;
  /** The package `MessageBusFactory` imports for this type. */
  readonly packageName: string;
  /** The config as given, with numeric strings turned into numbers (no defaults added). */
  readonly config: Readonly<BusConfig>;
  /** The same settings as the backend's camelCase options (no defaults added: the backend owns them). */
  readonly options: Readonly<Record<string, unknown>>;
}

type Check = (value: unknown, key: string) => unknown;

interface KeySpec {
  /** The backend option this key becomes. */
  option: string;
  /** Types that accept the key; all when absent. */
  types?: readonly BusType[];
  check: Check;
}

const INTEGER_STRING_RE = /^-?\d+$/;
const NUMBER_STRING_RE = /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function integer(min: number, max = Number.MAX_SAFE_INTEGER): Check {
  return (value, key) => {
    const n = typeof value === 'string' && INTEGER_STRING_RE.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new InvalidConfigError(key, `must be an integer from ${min} to ${max}; got ${describe(value)}`);
    }
    return n;
  };
}

function number(min: number, max: number): Check {
  return (value, key) => {
    const n = typeof value === 'string' && NUMBER_STRING_RE.test(value.trim()) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidConfigError(key, `must be a number from ${min} to ${max}; got ${describe(value)}`);
    }
    return n;
  };
}

function choice(choices: readonly string[]): Check {
  return (value, key) => configChoice(value, key, choices);
}

function urls(protocols: readonly string[], list: boolean): Check {
  const rule = `must be ${list ? 'one URL or a comma-separated list of URLs' : 'a URL'} starting with ${protocols.map((p) => `${p}//`).join(' or ')}`;
  return (value, key) => {
    if (typeof value !== 'string' || value.trim() === '') throw new InvalidConfigError(key, `${rule}; got ${describe(value)}`);
    const parts = list ? value.split(',').map((part) => part.trim()) : [value.trim()];
    for (const part of parts) {
      let url: URL;
      try {
        url = new URL(part);
      } catch (error) {
        throw new InvalidConfigError(key, `${rule}; got ${describe(part)}`, undefined, { cause: error });
      }
      if (!protocols.includes(url.protocol) || url.hostname === '') {
        throw new InvalidConfigError(key, `${rule}; got ${describe(part)}`);
      }
    }
    return value.trim();
  };
}

const RETRY_KEYS: Readonly<Record<keyof RetryConfig, { option: string; check: Check }>> = {
  initial_delay_ms: { option: 'initialDelayMs', check: integer(0) },
  max_delay_ms: { option: 'maxDelayMs', check: integer(0) },
  multiplier: { option: 'multiplier', check: number(1, 100) },
  jitter: { option: 'jitter', check: number(0, 1) },
};

function retryObject(value: unknown, key: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidConfigError(key, `must be a mapping of ${Object.keys(RETRY_KEYS).join(', ')}; got ${describe(value)}`);
  }
  const out: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value)) {
    const spec = RETRY_KEYS[name as keyof RetryConfig];
    if (!spec) throw new InvalidConfigError(`${key}.${name}`, 'is not a known retry setting', Object.keys(RETRY_KEYS));
    if (item !== undefined && item !== null) out[name] = spec.check(item, `${key}.${name}`);
  }
  return out;
}

/** Every key, the types that take it, its rule, and the backend option it maps to: the one mapping. */
const KEYS: Readonly<Record<Exclude<keyof BusConfig, 'type'>, KeySpec>> = {
  redis_url: { option: 'url', types: ['redis'], check: urls(['redis:', 'rediss:'], false) },
  nats_url: { option: 'url', types: ['nats'], check: urls(['nats:', 'tls:', 'ws:', 'wss:'], true) },
  stream_prefix: { option: 'streamPrefix', check: configStreamPrefix },
  consumer_group: { option: 'consumerGroup', types: ['redis'], check: configName },
  max_retries: { option: 'maxRetries', check: integer(0, MAX_RETRIES_LIMIT) },
  max_queue_size: { option: 'maxQueueSize', types: ['memory'], check: integer(1) },
  on_queue_full: { option: 'onQueueFull', types: ['memory'], check: choice(['wait', 'reject']) },
  retry: { option: 'retry', check: retryObject },
  handler_timeout_ms: { option: 'handlerTimeoutMs', check: integer(0) },
  concurrency: { option: 'concurrency', check: integer(1, 10_000) },
  max_payload_bytes: { option: 'maxPayloadBytes', check: integer(1) },
  dead_letter_max_size: { option: 'deadLetterMaxSize', check: integer(1) },
  dedupe_window_ms: { option: 'dedupeWindowMs', check: integer(0) },
  group_expiry_ms: { option: 'groupExpiryMs', check: integer(1) },
  close_timeout_ms: { option: 'closeTimeoutMs', check: integer(0) },
  publish_timeout_ms: { option: 'publishTimeoutMs', check: integer(0) },
};

/** The keys a backend type accepts (including `type`), in a stable order. */
export function busConfigKeys(type: BusType): string[] {
  return ['type', ...Object.entries(KEYS).filter(([, spec]) => !spec.types || spec.types.includes(type)).map(([key]) => key)];
}

export interface ResolveBusConfigOptions {
  /** How to name a key in errors, e.g. `message_bus.redis_url` or the environment variable it came from. */
  keyName?: (key: string) => string;
  /** How to name the config as a whole in errors. Default `config`. */
  section?: string;
}

/**
 * Checks a bus config without connecting: the type, every key against the type's allowed keys and
 * every value against its rule. Throws `InvalidConfigError` naming the key, the rule and what is
 * allowed. `null` values count as absent (an empty YAML key).
 */
export function resolveBusConfig(config: unknown, options: ResolveBusConfigOptions = {}): ResolvedBusConfig {
  const name = options.keyName ?? ((key: string) => key);
  if (config === undefined || config === null) config = {};
  if (typeof config !== 'object' || Array.isArray(config)) {
    throw new InvalidConfigError(options.section ?? 'config', `must be a mapping of settings; got ${describe(config)}`);
  }
  const raw = config as Record<string, unknown>;
  const type = (raw['type'] === undefined || raw['type'] === null ? 'memory' : choice(BUS_TYPES)(raw['type'], name('type'))) as BusType;
  const allowed = busConfigKeys(type);
  const normalized: Record<string, unknown> = { type };
  const backendOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === 'type') continue;
    const spec = KEYS[key as keyof typeof KEYS];
    if (!spec || !allowed.includes(key)) {
      const rule = spec ? `is not a setting of type "${type}" (it belongs to ${spec.types?.join(', ')})` : 'is not a known setting';
      throw new InvalidConfigError(name(key), rule, allowed);
    }
    if (value === undefined || value === null) continue;
    const checked = spec.check(value, name(key));
    normalized[key] = checked;
    backendOptions[spec.option] = key === 'retry' ? retryOptions(checked as Record<string, unknown>) : checked;
  }
  const result: ResolvedBusConfig = Object.freeze({
    type,
    packageName: BACKEND_PACKAGES[type],
    config: Object.freeze(normalized) as Readonly<BusConfig>,
    options: Object.freeze(backendOptions),
  });
  resolvedConfigs.add(result);
  return result;
}

/** Results of `resolveBusConfig` (frozen), so the factory can take one without checking it again. */
const resolvedConfigs = new WeakSet<object>();

export function isResolvedBusConfig(value: unknown): value is ResolvedBusConfig {
  return typeof value === 'object' && value !== null && resolvedConfigs.has(value);
}

function retryOptions(retry: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(retry)) out[RETRY_KEYS[key as keyof RetryConfig].option] = value;
  return out;
}
