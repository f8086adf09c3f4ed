/**
 * The factory against input a caller gets wrong: every environment variable's bad value is blamed
 * on that variable, misspelt factory options are named, and the process-wide bus only takes a bus.
 */
import { InvalidConfigError, type MessageBus } from '@woodwork/bus-core';
import { afterEach, describe, expect, it } from 'vitest';
import { MessageBusAdapter, MessageBusFactory, getGlobalMessageBus, setGlobalMessageBus } from '../src/index.js';
import { memoryBus } from './support/memory.js';
import { configRejection } from './support/thrown-error.js';

const opened: MessageBus[] = [];
afterEach(async () => {
  setGlobalMessageBus(undefined);
  await Promise.all(opened.splice(0).map((b) => b.close().catch(() => undefined)));
});

describe('createFromEnvironment blames the variable', () => {
  it.each([
    [{ WOODWORK_MESSAGE_BUS: 'nats', WOODWORK_NATS_URL: 'http://n:4222' }, 'WOODWORK_NATS_URL (nats_url)'],
    [{ WOODWORK_MESSAGE_BUS: 'nats', WOODWORK_STREAM_PREFIX: 'a.b' }, 'WOODWORK_STREAM_PREFIX (stream_prefix)'],
    [{ WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_CONSUMER_GROUP: 'has space' }, 'WOODWORK_CONSUMER_GROUP (consumer_group)'],
    [{ WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_REDIS_URL: 'localhost:6379' }, 'WOODWORK_REDIS_URL (redis_url)'],
    [{ WOODWORK_MESSAGE_BUS: 'Memory' }, 'WOODWORK_MESSAGE_BUS'],
  ])('%j names %s', async (env, name) => {
    const error = await configRejection(MessageBusFactory.createFromEnvironment(env));
    expect(error.key).toBe(name);
  });

  it('trims values and treats blank ones as unset', () => {
    expect(MessageBusFactory.configFromEnvironment({ WOODWORK_MESSAGE_BUS: ' nats ', WOODWORK_NATS_URL: '  ' })).toEqual({
      type: 'nats',
      nats_url: 'nats://localhost:4222',
      stream_prefix: 'woodwork',
    });
  });
});

describe('factory options', () => {
  it('a misspelt option or an unknown type in packages is an InvalidConfigError, checked before importing', async () => {
    let imported = 0;
    const importModule = (name: string) => {
      imported++;
      return import(name);
    };
    const misspelt = await configRejection(MessageBusFactory.createMessageBus({}, { importModule, loger: console } as never));
    expect(misspelt.key).toBe('loger');
    expect(misspelt.allowed).toEqual(['logger', 'onMetric', 'importModule', 'packages']);
    const packages = await configRejection(MessageBusFactory.createMessageBus({}, { importModule, packages: { kafka: 'x' } } as never));
    expect(packages.key).toBe('packages.kafka');
    expect(packages.allowed).toEqual(['memory', 'redis', 'nats']);
    expect(await configRejection(MessageBusFactory.createMessageBus({}, { importModule, packages: { memory: 7 } } as never))).toMatchObject({
      key: 'packages.memory',
    });
    expect(imported).toBe(0);
  });
});

describe('a backend package that misbehaves', () => {
  it.each([
    ['returns nothing', () => undefined],
    ['returns an adapter', () => new MessageBusAdapter(memoryBus())],
    ['resolves with a string', async () => 'bus'],
  ])('one whose createMessageBus %s is an InvalidConfigError naming the package', async (_what, create) => {
    const importModule = async () => ({ createMessageBus: create });
    const error = await configRejection(MessageBusFactory.createMessageBus({}, { importModule, packages: { memory: 'odd-backend' } }));
    expect(error.key).toBe('type');
    expect(error.message).toContain('odd-backend');
    expect(error.message).toContain('did not return a MessageBus');
  });
});

describe('setGlobalMessageBus', () => {
  it('takes only a MessageBus (an adapter is a common mix-up), and keeps the previous one on error', async () => {
    const bus = memoryBus();
    opened.push(bus);
    setGlobalMessageBus(bus);
    for (const wrong of [new MessageBusAdapter(bus), {}, 'memory', null]) {
      expect(() => setGlobalMessageBus(wrong as never)).toThrow(InvalidConfigError);
    }
    expect(await getGlobalMessageBus()).toBe(bus);
  });
});
