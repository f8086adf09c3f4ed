import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidConfigError, type MessageBus, type MetricEvent } from '@woodwork/bus-core';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BackendNotInstalledError,
  MessageBusFactory,
  busConfigKeys,
  getGlobalMessageBus,
  resolveBusConfig,
  setGlobalMessageBus,
} from '../src/index.js';
import { configError } from './support/thrown-error.js';

const opened: MessageBus[] = [];
async function track<T extends MessageBus>(bus: Promise<T> | T): Promise<T> {
  const b = await bus;
  opened.push(b);
  return b;
}

afterEach(async () => {
  vi.unstubAllEnvs();
  setGlobalMessageBus(undefined);
  await Promise.all(opened.splice(0).map((b) => b.close().catch(() => undefined)));
});

describe('resolveBusConfig', () => {
  it('defaults to memory and maps snake_case keys to the backend options in one place', () => {
    expect(resolveBusConfig({})).toEqual({ type: 'memory', packageName: '@woodwork/bus-memory', config: { type: 'memory' }, options: {}, warnings: [] });
    expect(resolveBusConfig(undefined).type).toBe('memory');
    const redis = resolveBusConfig({
      type: 'redis',
      redis_url: 'redis://cluster:6379',
      stream_prefix: 'woodwork_prod',
      consumer_group: 'woodwork_components',
      max_retries: 5,
      retry: { initial_delay_ms: 10, max_delay_ms: 100, multiplier: 3, jitter: 0.1 },
      handler_timeout_ms: 2000,
      publish_timeout_ms: 500,
    });
    expect(redis.packageName).toBe('@woodwork/bus-redis');
    expect(redis.options).toEqual({
      url: 'redis://cluster:6379',
      streamPrefix: 'woodwork_prod',
      consumerGroup: 'woodwork_components',
      maxRetries: 5,
      retry: { initialDelayMs: 10, maxDelayMs: 100, multiplier: 3, jitter: 0.1 },
      handlerTimeoutMs: 2000,
      publishTimeoutMs: 500,
    });
    expect(resolveBusConfig({ type: 'nats', nats_url: 'nats://a:4222, nats://b:4222' }).options).toEqual({
      url: 'nats://a:4222, nats://b:4222',
    });
    expect(resolveBusConfig({ type: 'memory', max_queue_size: 1000, on_queue_full: 'reject' }).options).toEqual({
      maxQueueSize: 1000,
      onQueueFull: 'reject',
    });
  });

  it('accepts numbers written as strings (what ${VAR} gives) and treats null as absent', () => {
    const r = resolveBusConfig({ type: 'memory', max_retries: '5', max_queue_size: ' 20 ', retry: { jitter: '0.5' }, concurrency: null });
    expect(r.options).toEqual({ maxRetries: 5, maxQueueSize: 20, retry: { jitter: 0.5 } });
    expect(r.config).toEqual({ type: 'memory', max_retries: 5, max_queue_size: 20, retry: { jitter: 0.5 } });
  });

  it('rejects an unknown type, listing the allowed ones', () => {
    const error = configError(() => resolveBusConfig({ type: 'kafka' }));
    expect(error.key).toBe('type');
    expect(error.allowed).toEqual(['memory', 'redis', 'nats', 'routed']);
    expect(error.message).toContain('"kafka"');
  });

  it('rejects unknown keys and keys of another backend, listing what the type allows', () => {
    const unknown = configError(() => resolveBusConfig({ type: 'memory', max_queue: 10 }));
    expect(unknown.key).toBe('max_queue');
    expect(unknown.allowed).toEqual(busConfigKeys('memory'));
    expect(unknown.allowed).toContain('max_queue_size');
    const wrongType = configError(() => resolveBusConfig({ type: 'memory', redis_url: 'redis://x:1' }));
    expect(wrongType.key).toBe('redis_url');
    expect(wrongType.rule).toContain('redis');
    expect(wrongType.allowed).not.toContain('redis_url');
    expect(configError(() => resolveBusConfig({ type: 'nats', consumer_group: 'g' })).key).toBe('consumer_group');
    expect(configError(() => resolveBusConfig({ retry: { initial_delay: 1 } })).key).toBe('retry.initial_delay');
  });

  it('rejects bad values naming the key and the rule', () => {
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ max_retries: -1 }, 'max_retries', /integer from 0 to 100/],
      [{ max_retries: 101 }, 'max_retries', /integer from 0 to 100/],
      [{ max_retries: 'three' }, 'max_retries', /got "three"/],
      [{ max_retries: 1.5 }, 'max_retries', /integer/],
      [{ max_queue_size: 0 }, 'max_queue_size', /must be an integer >= 1; got number 0/],
      [{ on_queue_full: 'drop' }, 'on_queue_full', /allowed: wait, reject/],
      [{ stream_prefix: 'has space' }, 'stream_prefix', /letters, digits/],
      [{ stream_prefix: 'a:b' }, 'stream_prefix', /letters, digits/],
      [{ type: 'redis', redis_url: 'http://x:6379' }, 'redis_url', /redis:\/\/ or rediss:\/\//],
      [{ type: 'redis', redis_url: 'not a url' }, 'redis_url', /redis:\/\//],
      [{ type: 'redis', redis_url: 42 }, 'redis_url', /number 42/],
      [{ type: 'redis', consumer_group: 'a.b' }, 'consumer_group', /letters, digits/],
      [{ type: 'nats', nats_url: 'nats://a:4222,redis://b' }, 'nats_url', /nats:\/\//],
      [{ retry: { jitter: 2 } }, 'retry.jitter', /from 0 to 1/],
      [{ retry: 5 }, 'retry', /mapping/],
      [{ concurrency: 0 }, 'concurrency', /from 1 to 10000/],
    ];
    for (const [config, key, rule] of cases) {
      const error = configError(() => resolveBusConfig(config));
      expect(error.key, JSON.stringify(config)).toBe(key);
      expect(error.message, JSON.stringify(config)).toMatch(rule);
    }
    expect(configError(() => resolveBusConfig('memory')).key).toBe('config');
    expect(configError(() => resolveBusConfig([])).key).toBe('config');
  });
});

describe('MessageBusFactory.createMessageBus', () => {
  it('loads @woodwork/bus-memory and passes it the mapped options', async () => {
    const bus = await track(MessageBusFactory.createMessageBus({ type: 'memory', max_queue_size: 7, on_queue_full: 'reject', max_retries: 1 }));
    expect(bus).toBeInstanceOf(MemoryMessageBus);
    expect(bus.backend).toBe('memory');
    const memory = bus as MemoryMessageBus;
    expect(memory.options.maxQueueSize).toBe(7);
    expect(memory.options.onQueueFull).toBe('reject');
    expect(memory.options.maxRetries).toBe(1);
    const result = await bus.publish({ eventType: 'x', sessionId: 's', componentSource: 'c' });
    expect(result.duplicate).toBe(false);
  });

  it('accepts a resolved config and hands the logger and onMetric to the backend', async () => {
    const metrics: MetricEvent[] = [];
    const bus = await track(
      MessageBusFactory.createMessageBus(resolveBusConfig({ type: 'memory', stream_prefix: 'demo' }), { onMetric: (m) => metrics.push(m) }),
    );
    expect((bus as MemoryMessageBus).options.streamPrefix).toBe('demo');
    await bus.publish({ eventType: 'x', sessionId: 's', componentSource: 'c' });
    expect(metrics.map((m) => m.name)).toContain('message_bus.messages_published_total');
  });

  it('says which package to install when the backend is missing (type redis)', async () => {
    // bus-redis is installed in this workspace (factory-redis.test.ts loads it): an app without it
    // gets what Node's import says for a missing package.
    const missing = (name: string) =>
      Promise.reject(Object.assign(new Error(`Cannot find package '${name}' imported from /app/main.js`), { code: 'ERR_MODULE_NOT_FOUND' }));
    const attempt = MessageBusFactory.createMessageBus({ type: 'redis', redis_url: 'redis://localhost:6379' }, { importModule: missing });
    await expect(attempt).rejects.toBeInstanceOf(BackendNotInstalledError);
    await expect(attempt).rejects.toBeInstanceOf(InvalidConfigError);
    const error = (await attempt.catch((e: unknown) => e)) as BackendNotInstalledError;
    expect(error.packageName).toBe('@woodwork/bus-redis');
    expect(error.backendType).toBe('redis');
    expect(error.key).toBe('type');
    expect(error.name).toBe('BackendNotInstalledError');
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.message).toContain('npm install @woodwork/bus-redis');
  });

  it('names the package it tried when another package is configured for a type', async () => {
    const error = (await MessageBusFactory.createMessageBus({}, { packages: { memory: '@woodwork/bus-not-a-real-package' } }).catch(
      (e: unknown) => e,
    )) as BackendNotInstalledError;
    expect(error).toBeInstanceOf(BackendNotInstalledError);
    expect(error.packageName).toBe('@woodwork/bus-not-a-real-package');
    expect(error.message).toContain('npm install @woodwork/bus-not-a-real-package');
  });

  it('rejects a package that is not a bus backend', async () => {
    const attempt = MessageBusFactory.createMessageBus({}, { packages: { memory: 'yaml' } });
    await expect(attempt).rejects.toBeInstanceOf(InvalidConfigError);
    await expect(attempt).rejects.toThrow(/yaml, which does not export createMessageBus/);
  });

  it('names the missing dependency when the backend package is there but its dependency is not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bus-adapter-'));
    try {
      const pkg = join(dir, 'node_modules', 'fake-backend');
      await mkdir(pkg, { recursive: true });
      await writeFile(join(pkg, 'package.json'), JSON.stringify({ name: 'fake-backend', type: 'module', main: 'index.js' }));
      await writeFile(join(pkg, 'index.js'), "import 'fake-driver-not-installed';\nexport function createMessageBus() {}\n");
      const requireFromDir = createRequire(join(dir, 'app.js'));
      const importFromDir = (name: string) => import(pathToFileURL(requireFromDir.resolve(name)).href);
      const error = (await MessageBusFactory.createMessageBus(
        { type: 'nats' },
        { packages: { nats: 'fake-backend' }, importModule: importFromDir },
      ).catch((e: unknown) => e)) as BackendNotInstalledError;
      expect(error).toBeInstanceOf(BackendNotInstalledError);
      expect(error.packageName).toBe('fake-driver-not-installed');
      expect(error.backendPackage).toBe('fake-backend');
      expect(error.message).toContain('npm install fake-driver-not-installed');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('passes on any other import failure unchanged', async () => {
    const boom = new SyntaxError('Unexpected token');
    await expect(MessageBusFactory.createMessageBus({}, { importModule: () => Promise.reject(boom) })).rejects.toBe(boom);
  });

  it('checks the config before importing anything', async () => {
    let imported = 0;
    const importModule = (name: string) => {
      imported++;
      return import(name);
    };
    await expect(MessageBusFactory.createMessageBus({ type: 'memory', max_queue_size: -5 }, { importModule })).rejects.toThrow(/max_queue_size/);
    expect(imported).toBe(0);
  });
});

describe('MessageBusFactory from the environment', () => {
  it('builds the design config from the environment variables, memory by default', () => {
    expect(MessageBusFactory.configFromEnvironment({})).toEqual({ type: 'memory' });
    expect(MessageBusFactory.configFromEnvironment({ WOODWORK_MESSAGE_BUS: '' })).toEqual({ type: 'memory' });
    expect(MessageBusFactory.configFromEnvironment({ WOODWORK_MESSAGE_BUS: 'redis' })).toEqual({
      type: 'redis',
      redis_url: 'redis://localhost:6379',
      stream_prefix: 'woodwork',
      consumer_group: 'woodwork-components',
    });
    expect(
      MessageBusFactory.configFromEnvironment({
        WOODWORK_MESSAGE_BUS: 'redis',
        WOODWORK_REDIS_URL: 'rediss://r:6380',
        WOODWORK_STREAM_PREFIX: 'p',
        WOODWORK_CONSUMER_GROUP: 'g',
      }),
    ).toEqual({ type: 'redis', redis_url: 'rediss://r:6380', stream_prefix: 'p', consumer_group: 'g' });
    expect(MessageBusFactory.configFromEnvironment({ WOODWORK_MESSAGE_BUS: 'nats', WOODWORK_NATS_URL: 'nats://n:4222' })).toEqual({
      type: 'nats',
      nats_url: 'nats://n:4222',
      stream_prefix: 'woodwork',
    });
    const error = configError(() => MessageBusFactory.configFromEnvironment({ WOODWORK_MESSAGE_BUS: 'kafka' }));
    expect(error.key).toBe('WOODWORK_MESSAGE_BUS');
    expect(error.allowed).toEqual(['memory', 'redis', 'nats', 'routed']);
  });

  it('creates the bus the environment names and blames the variable for a bad value', async () => {
    const bus = await track(MessageBusFactory.createFromEnvironment({ WOODWORK_STREAM_PREFIX: 'from_env' }));
    expect((bus as MemoryMessageBus).options.streamPrefix).toBe('from_env');
    await expect(MessageBusFactory.createFromEnvironment({ WOODWORK_STREAM_PREFIX: 'bad prefix' })).rejects.toThrow(
      /WOODWORK_STREAM_PREFIX \(stream_prefix\)/,
    );
    await expect(
      MessageBusFactory.createFromEnvironment({ WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_REDIS_URL: 'http://x' }),
    ).rejects.toThrow(/WOODWORK_REDIS_URL \(redis_url\)/);
    await expect(
      MessageBusFactory.createFromEnvironment({ WOODWORK_MESSAGE_BUS: 'redis' }, { packages: { redis: '@woodwork/bus-redis-missing' } }),
    ).rejects.toBeInstanceOf(BackendNotInstalledError);
    // bus-nats is installed in this workspace (factory-nats.test.ts loads it): a missing one is named.
    await expect(
      MessageBusFactory.createFromEnvironment({ WOODWORK_MESSAGE_BUS: 'nats' }, { packages: { nats: '@woodwork/bus-nats-missing' } }),
    ).rejects.toThrow(/npm install @woodwork\/bus-nats-missing/);
  });
});

describe('the global message bus', () => {
  it('concurrent first calls share one bus created from process.env', async () => {
    vi.stubEnv('WOODWORK_MESSAGE_BUS', 'memory');
    vi.stubEnv('WOODWORK_STREAM_PREFIX', 'global_test');
    const buses = await Promise.all([getGlobalMessageBus(), getGlobalMessageBus(), getGlobalMessageBus()]);
    opened.push(buses[0] as MessageBus);
    expect(new Set(buses).size).toBe(1);
    expect((buses[0] as MemoryMessageBus).options.streamPrefix).toBe('global_test');
    expect(await getGlobalMessageBus()).toBe(buses[0]);
  });

  it('set replaces it; clearing makes the next get create a new one', async () => {
    const mine = await track(MessageBusFactory.createMessageBus({}));
    setGlobalMessageBus(mine);
    expect(await getGlobalMessageBus()).toBe(mine);
    setGlobalMessageBus(undefined);
    const fresh = await track(getGlobalMessageBus());
    expect(fresh).not.toBe(mine);
  });

  it('a failed creation is not remembered', async () => {
    vi.stubEnv('WOODWORK_MESSAGE_BUS', 'redis');
    vi.stubEnv('WOODWORK_REDIS_URL', 'http://not-redis:6379');
    await expect(getGlobalMessageBus()).rejects.toBeInstanceOf(InvalidConfigError);
    vi.stubEnv('WOODWORK_MESSAGE_BUS', 'memory');
    const bus = await track(getGlobalMessageBus());
    expect(bus.backend).toBe('memory');
  });

  it('a bus set while the first one is being created wins', async () => {
    vi.stubEnv('WOODWORK_MESSAGE_BUS', 'memory');
    const mine = await track(MessageBusFactory.createMessageBus({}));
    const pending = getGlobalMessageBus();
    setGlobalMessageBus(mine);
    expect(await pending).toBe(mine);
    expect(await getGlobalMessageBus()).toBe(mine);
  });
});
