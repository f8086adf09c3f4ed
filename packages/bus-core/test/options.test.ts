/**
 * resolveBusOptions and the config helpers: defaults, and every unknown key or bad value turned
 * into an InvalidConfigError that names the key, says the rule and lists what is allowed.
 */
import { describe, expect, it } from 'vitest';
import {
  BUS_OPTION_KEYS,
  BusError,
  configChoice,
  configInteger,
  configNumber,
  DEFAULT_BUS_OPTIONS,
  DEFAULT_RETRY_BACKOFF,
  InvalidConfigError,
  quietLogger,
  rejectUnknownKeys,
  resolveBusOptions,
  type BusOptions,
} from '../src/index.js';
import { configError } from './support/thrown-error.js';

describe('defaults', () => {
  it('an empty or missing options object gives every default', () => {
    const expected = {
      ...DEFAULT_BUS_OPTIONS,
      retry: { ...DEFAULT_RETRY_BACKOFF },
      logger: quietLogger,
      onMetric: undefined,
    };
    expect(resolveBusOptions()).toEqual(expected);
    expect(resolveBusOptions({})).toEqual(expected);
  });

  it('the documented default values', () => {
    const o = resolveBusOptions();
    expect(o.streamPrefix).toBe('woodwork');
    expect(o.maxRetries).toBe(3);
    expect(o.handlerTimeoutMs).toBe(30_000);
    expect(o.concurrency).toBe(16);
    expect(o.maxPayloadBytes).toBe(1024 * 1024);
    expect(o.deadLetterMaxSize).toBe(10_000);
    expect(o.dedupeWindowMs).toBe(120_000);
    expect(o.closeTimeoutMs).toBe(10_000);
    expect(o.publishTimeoutMs).toBe(10_000);
    expect(o.retry).toEqual({ initialDelayMs: 100, maxDelayMs: 30_000, multiplier: 2, jitter: 0.2 });
  });

  it('an explicit undefined takes the default; given values are kept; retry is merged key by key', () => {
    const onMetric = (): void => {};
    const o = resolveBusOptions({
      concurrency: undefined,
      maxRetries: 0,
      streamPrefix: 'test_1-x',
      handlerTimeoutMs: 0,
      retry: { initialDelayMs: 5 },
      logger: console,
      onMetric,
    });
    expect(o.concurrency).toBe(16);
    expect(o.maxRetries).toBe(0);
    expect(o.streamPrefix).toBe('test_1-x');
    expect(o.handlerTimeoutMs).toBe(0);
    expect(o.retry).toEqual({ ...DEFAULT_RETRY_BACKOFF, initialDelayMs: 5 });
    expect(o.logger).toBe(console);
    expect(o.onMetric).toBe(onMetric);
  });
});

describe('unknown keys', () => {
  it('an unknown key is rejected, naming it and listing every allowed key', () => {
    const error = configError(() => resolveBusOptions({ concurency: 4 } as BusOptions));
    expect(error).toBeInstanceOf(BusError);
    expect(error.name).toBe('InvalidConfigError');
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.key).toBe('concurency');
    expect(error.rule).toBe('is not a known option');
    expect(error.allowed).toEqual([...BUS_OPTION_KEYS]);
    expect(error.message).toContain('concurency');
    for (const key of BUS_OPTION_KEYS) expect(error.message).toContain(key);
  });

  it("a backend's own keys are allowed and listed", () => {
    expect(() => resolveBusOptions({ maxQueueSize: 5 } as BusOptions, ['maxQueueSize'])).not.toThrow();
    const error = configError(() => resolveBusOptions({ url: 'x' } as BusOptions, ['maxQueueSize']));
    expect(error.key).toBe('url');
    expect(error.allowed).toContain('maxQueueSize');
    expect(error.allowed).toContain('concurrency');
  });

  it('an unknown retry key is rejected as retry.<key>, listing the retry keys', () => {
    const error = configError(() => resolveBusOptions({ retry: { initialDelay: 5 } as never }));
    expect(error.key).toBe('retry.initialDelay');
    expect(error.allowed).toEqual(Object.keys(DEFAULT_RETRY_BACKOFF));
  });

  it('rejectUnknownKeys puts the prefix on the key', () => {
    const error = configError(() => rejectUnknownKeys({ a: 1, b: 2 }, ['a'], 'redis.'));
    expect(error.key).toBe('redis.b');
    expect(error.allowed).toEqual(['a']);
    expect(() => rejectUnknownKeys({ a: 1 }, ['a', 'b'])).not.toThrow();
  });
});

describe('bad values', () => {
  it.each<[string, BusOptions, string]>([
    ['concurrency 0', { concurrency: 0 }, 'concurrency'],
    ['concurrency above 10000', { concurrency: 10_001 }, 'concurrency'],
    ['concurrency fractional', { concurrency: 1.5 }, 'concurrency'],
    ['concurrency as a string', { concurrency: '4' as never }, 'concurrency'],
    ['maxRetries negative', { maxRetries: -1 }, 'maxRetries'],
    ['maxRetries above 100', { maxRetries: 101 }, 'maxRetries'],
    ['maxRetries NaN', { maxRetries: Number.NaN }, 'maxRetries'],
    ['handlerTimeoutMs negative', { handlerTimeoutMs: -1 }, 'handlerTimeoutMs'],
    ['handlerTimeoutMs Infinity', { handlerTimeoutMs: Number.POSITIVE_INFINITY }, 'handlerTimeoutMs'],
    ['maxPayloadBytes 0', { maxPayloadBytes: 0 }, 'maxPayloadBytes'],
    ['deadLetterMaxSize 0', { deadLetterMaxSize: 0 }, 'deadLetterMaxSize'],
    ['dedupeWindowMs negative', { dedupeWindowMs: -5 }, 'dedupeWindowMs'],
    ['groupExpiryMs 0', { groupExpiryMs: 0 }, 'groupExpiryMs'],
    ['closeTimeoutMs fractional', { closeTimeoutMs: 0.5 }, 'closeTimeoutMs'],
    ['publishTimeoutMs null', { publishTimeoutMs: null as never }, 'publishTimeoutMs'],
    ['streamPrefix with a dot', { streamPrefix: 'wood.work' }, 'streamPrefix'],
    ['streamPrefix with a colon', { streamPrefix: 'wood:work' }, 'streamPrefix'],
    ['streamPrefix empty', { streamPrefix: '' }, 'streamPrefix'],
    ['streamPrefix of 65 characters', { streamPrefix: 'p'.repeat(65) }, 'streamPrefix'],
    ['retry.initialDelayMs negative', { retry: { initialDelayMs: -1 } }, 'retry.initialDelayMs'],
    ['retry.maxDelayMs fractional', { retry: { maxDelayMs: 1.5 } }, 'retry.maxDelayMs'],
    ['retry.multiplier below 1', { retry: { multiplier: 0.5 } }, 'retry.multiplier'],
    ['retry.multiplier above 100', { retry: { multiplier: 101 } }, 'retry.multiplier'],
    ['retry.jitter above 1', { retry: { jitter: 1.5 } }, 'retry.jitter'],
    ['retry.jitter negative', { retry: { jitter: -0.1 } }, 'retry.jitter'],
    ['retry not an object', { retry: 5 as never }, 'retry'],
    ['logger without warn()', { logger: { debug() {}, info() {}, error() {} } as never }, 'logger'],
    ['onMetric not a function', { onMetric: 'yes' as never }, 'onMetric'],
  ])('%s is rejected, naming the key', (_what, options, key) => {
    const error = configError(() => resolveBusOptions(options));
    expect(error.key).toBe(key);
    expect(error.message).toContain(key);
    expect(error.rule.length).toBeGreaterThan(0);
  });

  it('the rule says the range and what was given', () => {
    const error = configError(() => resolveBusOptions({ concurrency: 0 }));
    expect(error.rule).toBe('must be an integer from 1 to 10000; got number 0');
  });

  it('options that are not an object are rejected', () => {
    expect(configError(() => resolveBusOptions(null as never)).key).toBe('options');
    expect(configError(() => resolveBusOptions('fast' as never)).key).toBe('options');
  });

  it('the bounds themselves are accepted', () => {
    const o = resolveBusOptions({
      concurrency: 10_000,
      maxRetries: 100,
      streamPrefix: 'p'.repeat(64),
      retry: { multiplier: 1, jitter: 1, initialDelayMs: 0, maxDelayMs: 0 },
    });
    expect(o.concurrency).toBe(10_000);
    expect(o.retry).toEqual({ multiplier: 1, jitter: 1, initialDelayMs: 0, maxDelayMs: 0 });
  });
});

describe('config helpers', () => {
  it('configChoice lists the choices', () => {
    expect(configChoice('wait', 'onQueueFull', ['wait', 'reject'])).toBe('wait');
    const error = configError(() => configChoice('drop', 'onQueueFull', ['wait', 'reject']));
    expect(error.key).toBe('onQueueFull');
    expect(error.allowed).toEqual(['wait', 'reject']);
    expect(error.message).toContain('(allowed: wait, reject)');
    expect(error.message).toContain('"drop"');
  });

  it('configInteger and configNumber check type and range', () => {
    expect(configInteger(5, 'k', 0, 10)).toBe(5);
    expect(configError(() => configInteger(11, 'k', 0, 10)).key).toBe('k');
    expect(configError(() => configInteger(2.5, 'k', 0, 10)).key).toBe('k');
    expect(configNumber(2.5, 'n', 0, 10)).toBe(2.5);
    expect(configError(() => configNumber(Number.NaN, 'n', 0, 10)).key).toBe('n');
    expect(configError(() => configNumber('1', 'n', 0, 10)).key).toBe('n');
  });
});

describe('retry: null', () => {
  it('is rejected like null for any other option', () => {
    expect(() => resolveBusOptions({ retry: null as never })).toThrow(InvalidConfigError);
    expect(() => resolveBusOptions({ retry: null as never })).toThrow(/retry must be an object; got null/);
  });
});
