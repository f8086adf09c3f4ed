/**
 * The options every backend takes, their defaults, and the checks that turn a bad value into an
 * `InvalidConfigError` naming the key, the rule and what is allowed: `SHARED_OPTIONS` is the table
 * (snake_case key, camelCase option, range, default), `resolveBusOptions` applies it to code.
 * Backends add their own keys with `resolveBusOptions(options, backendKeys)` and check them with
 * the builders of option-table.ts.
 */
import { DEFAULT_MAX_RETRIES } from './envelope.js';
import { InvalidConfigError } from './errors.js';
import type { MetricEvent } from './health.js';
import { quietLogger, type BusLogger } from './logger.js';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from './retry-policy.js';
import { describeValue } from './describe-value.js';
import {
  checkOptionTable,
  configString,
  integerOption,
  millisecondsOption,
  numberOption,
  objectOption,
  optionDefaults,
  stringOption,
  type OptionSpec,
} from './option-table.js';
import { MAX_RETRIES_LIMIT, NAME_PATTERN, NAME_RULE } from './validation.js';

export {
  MAX_TIMER_MS,
  checkOptionTable,
  choiceOption,
  configChoice,
  configInteger,
  configMilliseconds,
  configNumber,
  configString,
  configUrl,
  customOption,
  integerOption,
  millisecondsOption,
  numberFromText,
  numberOption,
  objectOption,
  optionDefaults,
  stringOption,
  urlOption,
  type CheckTableOptions,
  type OptionCheck,
  type OptionSpec,
} from './option-table.js';

export interface BusOptions {
  /** Namespace of every key / subject / queue; buses with different prefixes never see each other. */
  streamPrefix?: string;
  /** Default `maxRetries` of envelopes that do not set it (the design's `max_retries`). */
  maxRetries?: number;
  /** Backoff between attempts. */
  retry?: Partial<RetryBackoff>;
  /** Default per-attempt handler timeout; 0 turns it off. */
  handlerTimeoutMs?: number;
  /** Default attempts a subscription runs at once. */
  concurrency?: number;
  /** Largest payload + metadata JSON, in bytes. */
  maxPayloadBytes?: number;
  /** Dead-letter records kept; the oldest are dropped past it (counted in health). */
  deadLetterMaxSize?: number;
  /** How long `exactly_once` ids are remembered for dedupe; 0 turns dedupe off. */
  dedupeWindowMs?: number;
  /** Durable groups with no replica for longer than this are removed (reported in health). */
  groupExpiryMs?: number;
  /** How long `close()` waits for running handlers. */
  closeTimeoutMs?: number;
  /** How long a publish may wait for room (full queue, server away) before it rejects. */
  publishTimeoutMs?: number;
  /** The one place the bus logs. Default: quiet. */
  logger?: BusLogger;
  /** Receives every metric change (the numbers health reports). */
  onMetric?: (event: MetricEvent) => void;
}

export interface ResolvedBusOptions {
  streamPrefix: string;
  maxRetries: number;
  retry: RetryBackoff;
  handlerTimeoutMs: number;
  concurrency: number;
  maxPayloadBytes: number;
  deadLetterMaxSize: number;
  dedupeWindowMs: number;
  groupExpiryMs: number;
  closeTimeoutMs: number;
  publishTimeoutMs: number;
  logger: BusLogger;
  onMetric: ((event: MetricEvent) => void) | undefined;
}

/** Stream prefixes: 1-64 letters, digits, `_`, `-`. */
export const STREAM_PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const STREAM_PREFIX_RULE = 'must be 1-64 letters, digits, "_" or "-"';

/** The retry backoff's fields (`retry.initial_delay_ms` in files, `retry.initialDelayMs` in code). */
export const RETRY_OPTIONS: readonly OptionSpec[] = Object.freeze([
  millisecondsOption({ key: 'initial_delay_ms', option: 'initialDelayMs', min: 0, default: DEFAULT_RETRY_BACKOFF.initialDelayMs, doc: 'delay before the 2nd attempt' }),
  millisecondsOption({ key: 'max_delay_ms', option: 'maxDelayMs', min: 0, default: DEFAULT_RETRY_BACKOFF.maxDelayMs, doc: 'cap on the base delay' }),
  numberOption({ key: 'multiplier', option: 'multiplier', min: 1, max: 100, default: DEFAULT_RETRY_BACKOFF.multiplier, doc: 'growth per attempt' }),
  numberOption({ key: 'jitter', option: 'jitter', min: 0, max: 1, default: DEFAULT_RETRY_BACKOFF.jitter, doc: 'spread of each delay, +-jitter of itself' }),
]);

/**
 * The options every backend takes, in config-file and code form, with their ranges and defaults:
 * the one table the adapter's config files and `resolveBusOptions` both read. `logger` and
 * `onMetric` are code only (not in files) and not listed here.
 */
export const SHARED_OPTIONS: readonly OptionSpec[] = Object.freeze([
  stringOption({ key: 'stream_prefix', option: 'streamPrefix', pattern: STREAM_PREFIX_PATTERN, rule: STREAM_PREFIX_RULE, default: 'woodwork', doc: 'namespace of every key / subject / queue' }),
  integerOption({ key: 'max_retries', option: 'maxRetries', min: 0, max: MAX_RETRIES_LIMIT, default: DEFAULT_MAX_RETRIES, doc: 'default maxRetries of envelopes that do not set it' }),
  objectOption({ key: 'retry', option: 'retry', fields: RETRY_OPTIONS, doc: 'backoff between attempts' }),
  millisecondsOption({ key: 'handler_timeout_ms', option: 'handlerTimeoutMs', min: 0, default: 30_000, doc: 'per-attempt handler timeout; 0 turns it off' }),
  integerOption({ key: 'concurrency', option: 'concurrency', min: 1, max: 10_000, default: 16, doc: 'attempts a subscription runs at once' }),
  integerOption({ key: 'max_payload_bytes', option: 'maxPayloadBytes', min: 1, default: 1024 * 1024, doc: 'largest payload + metadata JSON, UTF-8 bytes' }),
  integerOption({ key: 'dead_letter_max_size', option: 'deadLetterMaxSize', min: 1, default: 10_000, doc: 'dead-letter records kept' }),
  millisecondsOption({ key: 'dedupe_window_ms', option: 'dedupeWindowMs', min: 0, default: 120_000, doc: 'how long exactly_once ids are remembered; 0 turns dedupe off' }),
  millisecondsOption({ key: 'group_expiry_ms', option: 'groupExpiryMs', min: 1, default: 7 * 24 * 3600 * 1000, doc: 'durable groups with no replica for longer are removed' }),
  millisecondsOption({ key: 'close_timeout_ms', option: 'closeTimeoutMs', min: 0, default: 10_000, doc: 'how long close() waits for running handlers' }),
  millisecondsOption({ key: 'publish_timeout_ms', option: 'publishTimeoutMs', min: 0, default: 10_000, doc: 'how long a publish may wait for room' }),
]);

export const DEFAULT_BUS_OPTIONS = Object.freeze({
  streamPrefix: 'woodwork',
  maxRetries: DEFAULT_MAX_RETRIES,
  handlerTimeoutMs: 30_000,
  concurrency: 16,
  maxPayloadBytes: 1024 * 1024,
  deadLetterMaxSize: 10_000,
  dedupeWindowMs: 120_000,
  groupExpiryMs: 7 * 24 * 3600 * 1000,
  closeTimeoutMs: 10_000,
  publishTimeoutMs: 10_000,
});

export const BUS_OPTION_KEYS = [
  'streamPrefix',
  'maxRetries',
  'retry',
  'handlerTimeoutMs',
  'concurrency',
  'maxPayloadBytes',
  'deadLetterMaxSize',
  'dedupeWindowMs',
  'groupExpiryMs',
  'closeTimeoutMs',
  'publishTimeoutMs',
  'logger',
  'onMetric',
] as const;

/** A name given in config (session id, component, group): the message rule, as an `InvalidConfigError`. */
export function configName(value: unknown, key: string): string {
  return configString(value, key, NAME_PATTERN, NAME_RULE);
}

/** A stream prefix given in config. */
export function configStreamPrefix(value: unknown, key: string): string {
  return configString(value, key, STREAM_PREFIX_PATTERN, STREAM_PREFIX_RULE);
}

/** Rejects keys that are not in `allowed` (own keys only), naming the first one and listing the allowed keys. */
export function rejectUnknownKeys(options: object, allowed: readonly string[], where = ''): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new InvalidConfigError(`${where}${key}`, 'is not a known option', allowed);
  }
}

/**
 * Checks and fills the shared options (`SHARED_OPTIONS`, plus `logger` and `onMetric`).
 * `backendKeys` are the extra keys the calling backend accepts (it checks their values itself,
 * best with the same builders: `millisecondsOption(...)`, then `checkOptionTable`).
 * Own keys only: nothing is read from the options object's prototype.
 */
export function resolveBusOptions(options: BusOptions = {}, backendKeys: readonly string[] = []): ResolvedBusOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
  // Unknown keys first, in the order given, with the allowed list in its documented order.
  rejectUnknownKeys(options, [...BUS_OPTION_KEYS, ...backendKeys]);
  const given = checkOptionTable(options, SHARED_OPTIONS, { naming: 'option', extraKeys: ['logger', 'onMetric', ...backendKeys] });
  const own = (key: string): unknown => (Object.hasOwn(options, key) ? (options as Record<string, unknown>)[key] : undefined);
  const logger = (own('logger') ?? quietLogger) as BusLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as unknown as Record<string, unknown>)[level] !== 'function') {
      throw new InvalidConfigError('logger', `must have a ${level}() method`);
    }
  }
  const onMetric = own('onMetric');
  if (onMetric !== undefined && typeof onMetric !== 'function') {
    throw new InvalidConfigError('onMetric', `must be a function; got ${describeValue(onMetric)}`);
  }
  const retry = { ...DEFAULT_RETRY_BACKOFF, ...((given['retry'] as Partial<RetryBackoff> | undefined) ?? {}) };
  return {
    ...(optionDefaults(SHARED_OPTIONS) as Omit<ResolvedBusOptions, 'retry' | 'logger' | 'onMetric'>),
    ...(given as Partial<ResolvedBusOptions>),
    retry,
    logger,
    onMetric: onMetric as ResolvedBusOptions['onMetric'],
  };
}
