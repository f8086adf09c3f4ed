/**
 * Config files and options as a hostile user writes them: prototype keys, `${constructor}`,
 * oversized and endless files, many keys, timers past 2^31-1 ms, YAML warnings, and the option
 * table shared with core (each backend's keys in one place, core's checks, snake_case errors).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidConfigError, MAX_TIMER_MS, SHARED_OPTIONS, checkOptionTable, type BusLogger } from '@woodwork/bus-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  BACKEND_OPTIONS,
  MAX_CONFIG_FILE_BYTES,
  MessageBusFactory,
  MissingEnvironmentVariableError,
  busConfigKeys,
  loadConfigFile,
  parseConfigText,
  resolveBusConfig,
} from '../src/index.js';
import { configRejection } from './support/thrown-error.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bus-config-hardening-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function rejection(run: () => unknown): InvalidConfigError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return error as InvalidConfigError;
  }
  throw new Error('expected an InvalidConfigError');
}

describe('own keys only', () => {
  it('a __proto__ key in a file is an unknown setting, never the config prototype (type stays unread)', () => {
    const error = rejection(() => parseConfigText('message_bus:\n  __proto__:\n    type: redis\n', {}));
    expect(error.key).toBe('message_bus.__proto__');
    expect(error.rule).toBe('is not a known setting');
  });

  it.each(['constructor', 'toString', '__proto__', 'valueOf'])('retry: { %s: 1 } is an InvalidConfigError naming it', (key) => {
    const error = rejection(() => parseConfigText(`message_bus:\n  retry:\n    ${key}: 1\n`, {}));
    expect(error.key).toBe(`message_bus.retry.${key}`);
    expect(rejection(() => resolveBusConfig(JSON.parse(`{"retry": {"${key}": 1}}`))).key).toBe(`retry.${key}`);
  });

  it('a config object with an inherited type is read as its own keys only', () => {
    const inherited = Object.create({ type: 'redis', redis_url: 'redis://h:1' }) as object;
    expect(resolveBusConfig(inherited)).toMatchObject({ type: 'memory', options: {} });
  });

  it('${constructor:-woodwork} and ${toString} never read the prototype of the environment', () => {
    const env = { WOODWORK_PREFIX: 'mine' };
    expect(parseConfigText('message_bus:\n  stream_prefix: ${constructor:-woodwork}\n', env).options['streamPrefix']).toBe('woodwork');
    const error = rejection(() => parseConfigText('message_bus:\n  stream_prefix: ${toString}\n', env));
    expect(error).toBeInstanceOf(MissingEnvironmentVariableError);
    expect(MessageBusFactory.configFromEnvironment(Object.create({ WOODWORK_MESSAGE_BUS: 'redis' }) as never).type).toBe('memory');
  });

  it('createMessageBus reads its own options only', async () => {
    const options = Object.create({ packages: { memory: '@woodwork/does-not-exist' } }) as object;
    const bus = await MessageBusFactory.createMessageBus({ type: 'memory' }, options);
    expect(bus.backend).toBe('memory');
    await bus.close();
  });
});

describe('file limits', () => {
  it(`a file over ${MAX_CONFIG_FILE_BYTES} bytes is refused before parsing, naming the file and the limit`, async () => {
    const path = await file('huge.yml', `message_bus:\n  type: memory\n# ${'x'.repeat(MAX_CONFIG_FILE_BYTES)}\n`);
    const error = await configRejection(loadConfigFile(path, {}));
    expect(error.key).toBe(path);
    expect(error.message).toContain(`at most ${MAX_CONFIG_FILE_BYTES} bytes`);
    expect(rejection(() => parseConfigText('#'.repeat(MAX_CONFIG_FILE_BYTES + 1), {}, 'text.yml')).key).toBe('text.yml');
  });

  it('an endless file (a device) is refused, not read forever', async () => {
    const error = await configRejection(loadConfigFile('/dev/zero', {}));
    expect(error.message).toContain(`more than ${MAX_CONFIG_FILE_BYTES} bytes`);
  });

  it('many keys: the first unknown one is named, and a duplicate far down is found at its line', () => {
    const keys = Array.from({ length: 5_000 }, (_, i) => `  k${i}: 1`);
    expect(rejection(() => parseConfigText(`message_bus:\n${keys.join('\n')}\n`, {})).key).toBe('message_bus.k0');
    const withDuplicate = `message_bus:\n${keys.join('\n')}\n  k17: 2\n`;
    const error = rejection(() => parseConfigText(withDuplicate, {}, 'dup.yml'));
    expect(error.message).toContain(`dup.yml is not valid YAML (line ${keys.length + 2}, column 3): Map keys must be unique`);
  });

  it('the unset-variable error names the file', async () => {
    const path = await file('unset.yml', 'message_bus:\n  type: redis\n  redis_url: ${NOT_SET_ANYWHERE}\n');
    const error = await configRejection(loadConfigFile(path, {}));
    expect(error).toBeInstanceOf(MissingEnvironmentVariableError);
    expect(error.message).toContain(path);
    expect((error as MissingEnvironmentVariableError).file).toBe(path);
  });
});

describe('milliseconds past 2^31-1', () => {
  it.each(['handler_timeout_ms', 'publish_timeout_ms', 'close_timeout_ms', 'dedupe_window_ms', 'group_expiry_ms'])(
    '%s: 2^31 is an InvalidConfigError naming the key (Node would fire it after 1 ms)',
    (key) => {
      expect(() => resolveBusConfig({ [key]: MAX_TIMER_MS })).not.toThrow();
      const error = rejection(() => parseConfigText(`message_bus:\n  ${key}: ${MAX_TIMER_MS + 1}\n`, {}));
      expect(error.key).toBe(`message_bus.${key}`);
      expect(error.rule).toContain(String(MAX_TIMER_MS));
    },
  );

  it('retry delays and backend timers too, and the memory bus itself refuses them in code', async () => {
    expect(rejection(() => resolveBusConfig({ retry: { max_delay_ms: '3000000000' } })).key).toBe('retry.max_delay_ms');
    expect(rejection(() => resolveBusConfig({ type: 'redis', claim_idle_ms: 2 ** 31 })).key).toBe('claim_idle_ms');
    expect(rejection(() => resolveBusConfig({ type: 'nats', ack_wait_ms: 2 ** 31 })).key).toBe('ack_wait_ms');
    await expect(MessageBusFactory.createMessageBus({ type: 'memory' }, {})).resolves.toBeDefined();
    const { createMessageBus } = await import('@woodwork/bus-memory');
    expect(() => createMessageBus({ publishTimeoutMs: 2 ** 31 })).toThrow(InvalidConfigError);
  });
});

describe('one option table', () => {
  it('every shared key comes from core, with core’s rule text, for every type', () => {
    for (const type of ['memory', 'redis', 'nats'] as const) {
      expect(busConfigKeys(type)).toEqual(['type', ...SHARED_OPTIONS.map((s) => s.key), ...BACKEND_OPTIONS[type].map((s) => s.key)]);
    }
    for (const spec of SHARED_OPTIONS) {
      if (spec.type === 'object') continue;
      const fromCore = rejection(() => checkOptionTable({ [spec.key]: -5 }, SHARED_OPTIONS, { naming: 'key' }));
      const fromAdapter = rejection(() => resolveBusConfig({ [spec.key]: -5 }));
      expect(fromAdapter.rule).toBe(fromCore.rule);
      expect(fromAdapter.key).toBe(spec.key);
    }
  });

  it('backend keys map to their options, numeric text becomes numbers, errors name the snake_case key', () => {
    const redis = resolveBusConfig({ type: 'redis', partitions: '16', claim_idle_ms: '5000', publish_buffer_size: 0 });
    expect(redis.options).toEqual({ partitions: 16, claimIdleMs: 5000, publishBufferSize: 0 });
    expect(redis.config).toMatchObject({ partitions: 16, claim_idle_ms: 5000, publish_buffer_size: 0 });
    const nats = resolveBusConfig({ type: 'nats', ack_wait_ms: '2000', storage: 'memory', replicas: 3 });
    expect(nats.options).toEqual({ ackWaitMs: 2000, storage: 'memory', replicas: 3 });
    const memory = resolveBusConfig({ type: 'memory', max_waiting_publishes: '0', max_target_queues: 5, max_dedupe_ids: 7 });
    expect(memory.options).toEqual({ maxWaitingPublishes: 0, maxTargetQueues: 5, maxDedupeIds: 7 });
    expect(rejection(() => resolveBusConfig({ type: 'redis', partitions: 0 })).key).toBe('partitions');
    expect(rejection(() => resolveBusConfig({ type: 'memory', partitions: 2 })).rule).toContain('belongs to redis');
    expect(rejection(() => resolveBusConfig({ type: 'memory', publish_buffer_size: 2 })).rule).toContain('belongs to redis, nats');
  });

  it('publish_buffer_size documents its default of 0 on both wire backends', () => {
    for (const type of ['redis', 'nats'] as const) {
      expect(BACKEND_OPTIONS[type].find((s) => s.key === 'publish_buffer_size')?.default).toBe(0);
    }
  });
});

describe('YAML warnings', () => {
  it('are collected on the result and sent to the logger, never printed with the source line', async () => {
    const emit = vi.spyOn(process, 'emitWarning');
    const consoleWarn = vi.spyOn(console, 'warn');
    try {
      const path = await file('warn.yml', 'message_bus:\n  stream_prefix: !custom woodwork_x\n');
      const warned: unknown[] = [];
      const logger: BusLogger = { debug() {}, info() {}, error() {}, warn: (message, context) => void warned.push([message, context]) };
      const config = await loadConfigFile(path, {}, { logger });
      expect(config.options['streamPrefix']).toBe('woodwork_x');
      expect(config.warnings).toHaveLength(1);
      expect(config.warnings[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(line 2, column 18\\): Unresolved tag: !custom$`));
      expect(config.warnings[0]).not.toContain('\n');
      expect(warned).toEqual([['config file warning', { file: path, warning: config.warnings[0] }]]);
      expect(emit).not.toHaveBeenCalled();
      expect(consoleWarn).not.toHaveBeenCalled();
    } finally {
      emit.mockRestore();
      consoleWarn.mockRestore();
    }
  });
});
