/**
 * The shared option table and its checks: snake_case keys beside camelCase options, defaults equal
 * to the documented ones, own keys only (nothing read from a prototype), millisecond options
 * bounded by Node's timer limit, numeric text turned into numbers only when reading text, and the
 * one redaction function that keeps secrets out of errors.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BUS_OPTIONS,
  DEFAULT_RETRY_BACKOFF,
  MAX_TIMER_MS,
  RETRY_OPTIONS,
  SHARED_OPTIONS,
  InvalidMessageError,
  checkOptionTable,
  configInteger,
  configMilliseconds,
  configNumber,
  createEnvelope,
  configUrl,
  integerOption,
  millisecondsOption,
  redactSecrets,
  resolveBusOptions,
  validateEnvelope,
  type BusOptions,
} from '../src/index.js';
import { configError } from './support/thrown-error.js';

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

describe('SHARED_OPTIONS', () => {
  it('pairs each snake_case key with its camelCase option, and its defaults are the documented ones', () => {
    for (const spec of [...SHARED_OPTIONS, ...RETRY_OPTIONS]) expect(spec.key).toBe(snake(spec.option));
    const defaults = Object.fromEntries(SHARED_OPTIONS.filter((s) => s.default !== undefined).map((s) => [s.option, s.default]));
    expect(defaults).toEqual(DEFAULT_BUS_OPTIONS);
    expect(Object.fromEntries(RETRY_OPTIONS.map((s) => [s.option, s.default]))).toEqual(DEFAULT_RETRY_BACKOFF);
  });

  it('reads config-file form: snake_case keys, numeric text, null as absent, errors naming the key', () => {
    const given = checkOptionTable({ handler_timeout_ms: '2500', retry: { jitter: ' 0.5 ' }, concurrency: null }, SHARED_OPTIONS, {
      naming: 'key',
      fromText: true,
      nullIsAbsent: true,
      where: 'message_bus',
    });
    expect(given).toEqual({ handlerTimeoutMs: 2500, retry: { jitter: 0.5 } });
    const error = configError(() => checkOptionTable({ retry: { max_delay_ms: 'soon' } }, SHARED_OPTIONS, { naming: 'key', fromText: true, where: 'message_bus' }));
    expect(error.key).toBe('message_bus.retry.max_delay_ms');
    // Code form takes no numeric text.
    expect(configError(() => resolveBusOptions({ concurrency: '4' as never })).key).toBe('concurrency');
  });
});

describe('own keys only', () => {
  it('an option inherited from a prototype is not read', () => {
    const inherited = Object.create({ concurrency: 0, handlerTimeoutMs: -1 }) as BusOptions;
    expect(resolveBusOptions(inherited).concurrency).toBe(16);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('a %s key is an unknown option, never a crash', (key) => {
    const options = JSON.parse(`{${JSON.stringify(key)}: {"concurrency": 0}}`) as BusOptions;
    expect(configError(() => resolveBusOptions(options)).key).toBe(key);
    const retry = JSON.parse(`{"retry": {${JSON.stringify(key)}: 1}}`) as BusOptions;
    expect(configError(() => resolveBusOptions(retry)).key).toBe(`retry.${key}`);
    const file = JSON.parse(`{${JSON.stringify(key)}: 1}`) as object;
    expect(configError(() => checkOptionTable(file, SHARED_OPTIONS, { naming: 'key', where: 'message_bus' })).key).toBe(`message_bus.${key}`);
  });
});

describe('milliseconds stop at 2^31-1', () => {
  const msOptions = [...SHARED_OPTIONS, ...RETRY_OPTIONS.map((s) => ({ ...s, option: `retry.${s.option}` }))].filter((s) => /Ms$/.test(s.option));

  it('every millisecond option is bounded', () => {
    expect(msOptions.map((s) => s.option)).toEqual([
      'handlerTimeoutMs',
      'dedupeWindowMs',
      'groupExpiryMs',
      'closeTimeoutMs',
      'publishTimeoutMs',
      'retry.initialDelayMs',
      'retry.maxDelayMs',
    ]);
  });

  it.each(msOptions.map((s) => s.option))('%s: 2^31-1 is accepted, 2^31 is an InvalidConfigError saying why', (option) => {
    const build = (value: number): BusOptions =>
      option.startsWith('retry.') ? { retry: { [option.slice(6)]: value } } : ({ [option]: value } as BusOptions);
    expect(() => resolveBusOptions(build(MAX_TIMER_MS))).not.toThrow();
    const error = configError(() => resolveBusOptions(build(MAX_TIMER_MS + 1)));
    expect(error.key).toBe(option);
    expect(error.rule).toContain(String(MAX_TIMER_MS));
    expect(error.rule).toContain('timer');
  });

  it('the builders: millisecondsOption never goes past the limit; configMilliseconds keeps a lower max', () => {
    const spec = millisecondsOption({ key: 'claim_idle_ms', option: 'claimIdleMs', min: 100, max: 2 ** 40, doc: '' });
    expect(configError(() => spec.check(2 ** 31, 'claim_idle_ms')).key).toBe('claim_idle_ms');
    expect(configError(() => configMilliseconds(70_000, 'block_ms', 10, 60_000)).rule).toContain('from 10 to 60000');
    expect(integerOption({ key: 'partitions', option: 'partitions', min: 1, max: 1024, doc: '' }).check(8, 'partitions')).toBe(8);
  });
});

describe('range wording', () => {
  it('an unbounded integer reads "an integer >= N", never "from N to 9007199254740991"; a real bound stays "from N to M"', () => {
    const open = integerOption({ key: 'max_queue_size', option: 'maxQueueSize', min: 1, doc: '' });
    expect(configError(() => open.check(0, 'max_queue_size')).rule).toBe('must be an integer >= 1; got number 0');
    expect(configError(() => configInteger(-1, 'k', 0)).rule).toBe('must be an integer >= 0; got number -1');
    expect(configError(() => configInteger(0, 'k', 1, 1024)).rule).toBe('must be an integer from 1 to 1024; got number 0');
    expect(configError(() => configNumber(-1, 'k', 0, Number.POSITIVE_INFINITY)).rule).toBe('must be a number >= 0; got number -1');
    expect(configError(() => configNumber(2, 'k', 0, 1)).rule).toBe('must be a number from 0 to 1; got number 2');
  });

  it('milliseconds say their unit, and why Node timer limit is the top', () => {
    expect(configError(() => configMilliseconds(-1, 'handler_timeout_ms', 0)).rule).toBe(
      `must be milliseconds, an integer from 0 to ${MAX_TIMER_MS} (about 24.8 days, the longest Node timer; a longer one fires at once); got number -1`,
    );
    expect(configError(() => configMilliseconds(5, 'block_ms', 10, 60_000)).rule).toBe('must be milliseconds, an integer from 10 to 60000; got number 5');
    expect(configError(() => configMilliseconds(1.5, 'block_ms', 10, 60_000)).rule).toBe('must be milliseconds, an integer from 10 to 60000; got number 1.5');
  });

  it("an envelope's retryCount out of range reads \"an integer >= 0\"", () => {
    const error = (() => {
      try {
        validateEnvelope(createEnvelope({ sessionId: 's', eventType: 'e', componentSource: 'c', retryCount: -1 }), { maxPayloadBytes: 1_000_000 });
      } catch (e) {
        return e as InvalidMessageError;
      }
      throw new Error('expected an error');
    })();
    expect(error).toBeInstanceOf(InvalidMessageError);
    expect(error.rule).toBe('must be an integer >= 0; got number -1');
  });
});

describe('redactSecrets', () => {
  it.each([
    ['redis://admin:S3cretPassw0rd@h:6379', 'redis://admin:***@h:6379'],
    ['rediss://:onlypass@h:6380/0', 'rediss://***@h:6380/0'],
    ['nats://s3cr3t-token@h:4222', 'nats://***@h:4222'],
    ['nats://u:p@a:4222, nats://u:q@b:4222', 'nats://u:***@a:4222, nats://u:***@b:4222'],
    ['redis://u:p@ss@h:1', 'redis://u:***@h:1'],
    ['rediss://h:6380/?password=x&db=1', 'rediss://h:6380/?password=***&db=1'],
    ['wss://h/?auth_token=abc', 'wss://h/?auth_token=***'],
    ['failed: connect to redis://u:pw@h:1 refused (got "redis://u:pw@h:1")', 'failed: connect to redis://u:***@h:1 refused (got "redis://u:***@h:1")'],
    ['redis://h:6379', 'redis://h:6379'],
    ['mail a@b.c about redis', 'mail a@b.c about redis'],
  ])('%s -> %s', (input, output) => {
    expect(redactSecrets(input)).toBe(output);
  });

  it('a URL check never shows the password it rejects', () => {
    for (const bad of ['http://admin:S3cretPassw0rd@h:6379', 'redis://admin:S3cretPassw0rd@', 'not a url :S3cretPassw0rd@']) {
      const error = configError(() => configUrl(bad, 'redis_url', ['redis:', 'rediss:']));
      expect(error.message).not.toContain('S3cretPassw0rd');
      expect(error.key).toBe('redis_url');
    }
  });
});
