/**
 * The options every backend takes, their defaults, and the checks that turn a bad value into an
 * `InvalidConfigError` naming the key, the rule and what is allowed. Backends add their own keys
 * with `resolveBusOptions(options, backendKeys)`.
 */
import { DEFAULT_MAX_RETRIES } from './envelope.js';
import { InvalidConfigError } from './errors.js';
import type { MetricEvent } from './health.js';
import { quietLogger, type BusLogger } from './logger.js';
import { DEFAULT_RETRY_BACKOFF, type RetryBackoff } from './retry-policy.js';
import { describeValue } from './describe-value.js';
import { MAX_RETRIES_LIMIT, NAME_PATTERN, NAME_RULE } from './validation.js';

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

/** Stream prefixes: 1-64 letters, digits, `_`, `-`. */
export const STREAM_PREFIX_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const STREAM_PREFIX_RULE = 'must be 1-64 letters, digits, "_" or "-"';

/** A name given in config (session id, component, group): the message rule, as an `InvalidConfigError`. */
export function configName(value: unknown, key: string): string {
  return configString(value, key, NAME_PATTERN, NAME_RULE);
}

/** A stream prefix given in config. */
export function configStreamPrefix(value: unknown, key: string): string {
  return configString(value, key, STREAM_PREFIX_PATTERN, STREAM_PREFIX_RULE);
}

/** Rejects keys that are not in `allowed`, naming the first one and listing the allowed keys. */
export function rejectUnknownKeys(options: object, allowed: readonly string[], where = ''): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) throw new InvalidConfigError(`${where}${key}`, 'is not a known option', allowed);
  }
}

export function configInteger(value: unknown, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(key, `must be an integer from ${min} to ${max}; got ${describeValue(value)}`);
  }
  return value;
}

export function configNumber(value: unknown, key: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidConfigError(key, `must be a number from ${min} to ${max}; got ${describeValue(value)}`);
  }
  return value;
}

export function configString(value: unknown, key: string, pattern: RegExp, rule: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidConfigError(key, `${rule}; got ${describeValue(value)}`);
  }
  return value;
}

export function configChoice<T extends string>(value: unknown, key: string, choices: readonly T[]): T {
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new InvalidConfigError(key, `must be one of the allowed values; got ${describeValue(value)}`, choices);
  }
  return value as T;
}

/**
 * Checks and fills the shared options. `backendKeys` are the extra keys the calling backend accepts
 * (it checks their values itself).
 */
export function resolveBusOptions(options: BusOptions = {}, backendKeys: readonly string[] = []): ResolvedBusOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidConfigError('options', `must be an object; got ${describeValue(options)}`);
  rejectUnknownKeys(options, [...BUS_OPTION_KEYS, ...backendKeys]);
  const d = DEFAULT_BUS_OPTIONS;
  const pick = <K extends keyof typeof d>(key: K): unknown => (options[key] === undefined ? d[key] : options[key]);
  const retry = options.retry === undefined ? {} : options.retry;
  if (typeof retry !== 'object' || retry === null) throw new InvalidConfigError('retry', `must be an object; got ${describeValue(retry)}`);
  rejectUnknownKeys(retry, Object.keys(DEFAULT_RETRY_BACKOFF), 'retry.');
  const r = { ...DEFAULT_RETRY_BACKOFF, ...retry };
  const logger = options.logger ?? quietLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as unknown as Record<string, unknown>)[level] !== 'function') {
      throw new InvalidConfigError('logger', `must have a ${level}() method`);
    }
  }
  if (options.onMetric !== undefined && typeof options.onMetric !== 'function') {
    throw new InvalidConfigError('onMetric', `must be a function; got ${describeValue(options.onMetric)}`);
  }
  return {
    streamPrefix: configStreamPrefix(pick('streamPrefix'), 'streamPrefix'),
    maxRetries: configInteger(pick('maxRetries'), 'maxRetries', 0, MAX_RETRIES_LIMIT),
    retry: {
      initialDelayMs: configInteger(r.initialDelayMs, 'retry.initialDelayMs', 0),
      maxDelayMs: configInteger(r.maxDelayMs, 'retry.maxDelayMs', 0),
      multiplier: configNumber(r.multiplier, 'retry.multiplier', 1, 100),
      jitter: configNumber(r.jitter, 'retry.jitter', 0, 1),
    },
    handlerTimeoutMs: configInteger(pick('handlerTimeoutMs'), 'handlerTimeoutMs', 0),
    concurrency: configInteger(pick('concurrency'), 'concurrency', 1, 10_000),
    maxPayloadBytes: configInteger(pick('maxPayloadBytes'), 'maxPayloadBytes', 1),
    deadLetterMaxSize: configInteger(pick('deadLetterMaxSize'), 'deadLetterMaxSize', 1),
    dedupeWindowMs: configInteger(pick('dedupeWindowMs'), 'dedupeWindowMs', 0),
    groupExpiryMs: configInteger(pick('groupExpiryMs'), 'groupExpiryMs', 1),
    closeTimeoutMs: configInteger(pick('closeTimeoutMs'), 'closeTimeoutMs', 0),
    publishTimeoutMs: configInteger(pick('publishTimeoutMs'), 'publishTimeoutMs', 0),
    logger,
    onMetric: options.onMetric,
  };
}
