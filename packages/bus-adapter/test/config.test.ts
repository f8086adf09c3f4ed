import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidConfigError } from '@woodwork/bus-core';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConfigSyntaxError,
  MessageBusFactory,
  MissingEnvironmentVariableError,
  SHIPPED_CONFIGS,
  loadConfigFile,
  loadShippedConfig,
  parseConfigText,
  shippedConfigPath,
  substituteVariables,
} from '../src/index.js';
import { configRejection } from './support/thrown-error.js';

const shipped = (name: string) => fileURLToPath(new URL(`../config/${name}`, import.meta.url));

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bus-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('the design config files shipped in config/', () => {
  it('message_bus_dev.yml loads as the memory backend, and the factory builds it', async () => {
    const loaded = await loadConfigFile(shipped('message_bus_dev.yml'), {});
    expect(loaded.type).toBe('memory');
    expect(loaded.config).toEqual({ type: 'memory', max_queue_size: 1000 });
    expect(loaded.options).toEqual({ maxQueueSize: 1000 });
    const bus = await MessageBusFactory.createMessageBus(loaded);
    expect(bus).toBeInstanceOf(MemoryMessageBus);
    expect((bus as MemoryMessageBus).options.maxQueueSize).toBe(1000);
    await bus.close();
  });

  it('message_bus_local.yml loads as redis without connecting', async () => {
    const loaded = await loadConfigFile(shipped('message_bus_local.yml'), {});
    expect(loaded.packageName).toBe('@woodwork/bus-redis');
    expect(loaded.options).toEqual({
      url: 'redis://localhost:6379',
      streamPrefix: 'woodwork_local',
      consumerGroup: 'woodwork_components',
      maxRetries: 3,
    });
  });

  it('message_bus_cloud.yml takes REDIS_CLUSTER_URL from the environment', async () => {
    const loaded = await loadConfigFile(shipped('message_bus_cloud.yml'), { REDIS_CLUSTER_URL: 'rediss://cluster.internal:6380' });
    expect(loaded.config).toEqual({
      type: 'redis',
      redis_url: 'rediss://cluster.internal:6380',
      stream_prefix: 'woodwork_prod',
      consumer_group: 'woodwork_components',
      max_retries: 5,
    });
    expect(loaded.options['url']).toBe('rediss://cluster.internal:6380');
  });

  it('message_bus_cloud.yml fails naming REDIS_CLUSTER_URL when it is unset', async () => {
    const error = await configRejection(loadConfigFile(shipped('message_bus_cloud.yml'), {}));
    expect(error).toBeInstanceOf(MissingEnvironmentVariableError);
    expect((error as MissingEnvironmentVariableError).variable).toBe('REDIS_CLUSTER_URL');
    expect(error.key).toBe('message_bus.redis_url');
    expect(error.message).toContain('REDIS_CLUSTER_URL');
  });

  it('uses process.env by default', async () => {
    process.env['REDIS_CLUSTER_URL'] = 'redis://from-process-env:6379';
    try {
      expect((await loadConfigFile(shipped('message_bus_cloud.yml'))).options['url']).toBe('redis://from-process-env:6379');
    } finally {
      delete process.env['REDIS_CLUSTER_URL'];
    }
  });
});

describe('${VAR} substitution', () => {
  it('replaces references inside a value, with ${VAR:-default} for unset or empty variables', () => {
    expect(substituteVariables('redis://${HOST}:${PORT}/0', { HOST: 'h', PORT: '1' }, 'k')).toBe('redis://h:1/0');
    expect(substituteVariables('${PREFIX:-woodwork}', {}, 'k')).toBe('woodwork');
    expect(substituteVariables('${PREFIX:-woodwork}', { PREFIX: '' }, 'k')).toBe('woodwork');
    expect(substituteVariables('${PREFIX:-woodwork}', { PREFIX: 'p' }, 'k')).toBe('p');
    expect(substituteVariables('${EMPTY}', { EMPTY: '' }, 'k')).toBe('');
    expect(substituteVariables('no refs $HOME here', {}, 'k')).toBe('no refs $HOME here');
  });

  it('rejects malformed references', () => {
    expect(() => substituteVariables('${1BAD}', {}, 'message_bus.stream_prefix')).toThrow(/message_bus\.stream_prefix has a malformed reference \$\{1BAD\}/);
    expect(() => substituteVariables('${}', {}, 'k')).toThrow(InvalidConfigError);
  });

  it('turns a whole-value reference into a number for numeric keys', () => {
    const loaded = parseConfigText('message_bus:\n  type: memory\n  max_retries: ${RETRIES}\n  retry:\n    initial_delay_ms: ${DELAY:-5}\n', {
      RETRIES: '7',
    });
    expect(loaded.options).toEqual({ maxRetries: 7, retry: { initialDelayMs: 5 } });
  });

  it('a variable value cannot add keys or change the YAML', () => {
    const text = 'message_bus:\n  type: memory\n  stream_prefix: ${PREFIX}\n';
    const error = (() => {
      try {
        parseConfigText(text, { PREFIX: 'x\n  max_queue_size: 1' });
      } catch (e) {
        return e as InvalidConfigError;
      }
      throw new Error('expected an error');
    })();
    expect(error.key).toBe('message_bus.stream_prefix');
    expect(() => parseConfigText(text, { PREFIX: 'ok # not a comment' })).toThrow(/stream_prefix/);
  });

  it('names the missing variable wherever it is', async () => {
    const path = await file('nested.yml', 'message_bus:\n  type: memory\n  retry:\n    max_delay_ms: ${MAX_DELAY}\n');
    const error = await configRejection(loadConfigFile(path, {}));
    expect(error).toBeInstanceOf(MissingEnvironmentVariableError);
    expect(error.key).toBe('message_bus.retry.max_delay_ms');
    expect(error.message).toContain('MAX_DELAY');
  });
});

describe('shipped configs by name (loadShippedConfig)', () => {
  it("'dev' is the memory backend from the package's own config/ folder, whatever the working directory", async () => {
    const cwd = process.cwd();
    process.chdir(tmpdir());
    try {
      const loaded = await loadShippedConfig('dev', {});
      expect(loaded.type).toBe('memory');
      expect(loaded.config).toEqual({ type: 'memory', max_queue_size: 1000 });
      const bus = await MessageBusFactory.createMessageBus(loaded);
      expect(bus).toBeInstanceOf(MemoryMessageBus);
      await bus.close();
    } finally {
      process.chdir(cwd);
    }
  });

  it('takes the short name or the file name; each shipped file is listed', async () => {
    expect(Object.keys(SHIPPED_CONFIGS)).toEqual(['dev', 'local', 'cloud', 'routed']);
    for (const [name, fileName] of Object.entries(SHIPPED_CONFIGS)) {
      expect(shippedConfigPath(name as keyof typeof SHIPPED_CONFIGS)).toBe(shipped(fileName));
      expect(shippedConfigPath(fileName)).toBe(shipped(fileName));
    }
    expect((await loadShippedConfig('message_bus_local.yml', {})).type).toBe('redis');
    const cloud = await configRejection(loadShippedConfig('cloud', {}));
    expect(cloud.message).toContain(`invalid config: ${shipped('message_bus_cloud.yml')}: message_bus.redis_url refers to \${REDIS_CLUSTER_URL}`);
  });

  it('an unknown name is an InvalidConfigError listing the shipped ones', () => {
    let error: InvalidConfigError | undefined;
    try {
      shippedConfigPath('prod' as 'dev');
    } catch (e) {
      error = e as InvalidConfigError;
    }
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect(error!.allowed).toEqual(['dev', 'local', 'cloud', 'routed', 'message_bus_dev.yml', 'message_bus_local.yml', 'message_bus_cloud.yml', 'message_bus_routed.yml']);
    expect(() => shippedConfigPath('../package.json' as 'dev')).toThrow(InvalidConfigError);
    expect(() => shippedConfigPath('toString' as 'dev')).toThrow(InvalidConfigError);
  });

  it('the files are in the exports map: @woodwork/bus-adapter/config/<file>.yml resolves to them', () => {
    for (const fileName of Object.values(SHIPPED_CONFIGS)) {
      expect(fileURLToPath(import.meta.resolve(`@woodwork/bus-adapter/config/${fileName}`))).toBe(shipped(fileName));
    }
  });
});

describe('loadConfigFile errors', () => {
  it('every error about the content names the file the same way: "invalid config: <file>: <key> <rule>"', async () => {
    const cases: Array<[string, string, string]> = [
      ['unset.yml', 'message_bus:\n  type: memory\n  stream_prefix: ${UNSET_PREFIX}\n', 'message_bus.stream_prefix refers to ${UNSET_PREFIX}, but the environment variable UNSET_PREFIX is not set'],
      ['range.yml', 'message_bus:\n  type: memory\n  max_queue_size: 0\n', 'message_bus.max_queue_size must be an integer >= 1; got number 0'],
      ['unknown-key.yml', 'message_bus:\n  type: memory\n  bogus: 1\n', 'message_bus.bogus is not a known setting (allowed: '],
      ['malformed.yml', 'message_bus:\n  stream_prefix: ${1BAD}\n', 'message_bus.stream_prefix has a malformed reference ${1BAD}'],
      ['top.yml', 'message_bus:\n  type: memory\nlogging: debug\n', 'logging is not a known top-level key (allowed: message_bus)'],
      ['no-section.yml', '# nothing\nother: 1\n', 'other is not a known top-level key'],
    ];
    for (const [name, text, rest] of cases) {
      const path = await file(name, text);
      const error = await configRejection(loadConfigFile(path, {}));
      expect(error.message, name).toContain(`invalid config: ${path}: ${rest}`);
      expect(error.source, name).toBe(path);
    }
    const unset = await configRejection(loadConfigFile(await file('unset2.yml', 'message_bus:\n  redis_url: ${NOPE}\n  type: redis\n'), {}));
    expect(unset).toBeInstanceOf(MissingEnvironmentVariableError);
    expect((unset as MissingEnvironmentVariableError).file).toBe(unset.source);
  });

  it('text without a file name gives the key alone, never a made-up file', () => {
    expect(() => parseConfigText('message_bus:\n  max_retries: -1\n', {})).toThrow(/^invalid config: message_bus\.max_retries must be an integer from 0 to 100; got number -1$/);
    expect(() => parseConfigText('message_bus:\n  max_queue_size: 0\n', {})).toThrow(/^invalid config: message_bus\.max_queue_size must be an integer >= 1; got number 0$/);
  });

  it('names the key, prefixed with message_bus, for a bad value or an unknown key', async () => {
    const bad = await file('bad.yml', 'message_bus:\n  type: memory\n  max_retries: lots\n');
    const error = await configRejection(loadConfigFile(bad, {}));
    expect(error.key).toBe('message_bus.max_retries');
    const unknown = await file('unknown.yml', 'message_bus:\n  type: redis\n  redis_url: redis://x:1\n  max_queue_size: 5\n');
    const e2 = await configRejection(loadConfigFile(unknown, {}));
    expect(e2.key).toBe('message_bus.max_queue_size');
    expect(e2.allowed).toContain('consumer_group');
    const type = await file('type.yml', 'message_bus:\n  type: rabbitmq\n');
    expect((await configRejection(loadConfigFile(type, {}))).allowed).toEqual(['memory', 'redis', 'nats', 'routed']);
  });

  it('requires exactly the message_bus section', async () => {
    const missing = await file('missing.yml', 'type: memory\n');
    const e1 = await configRejection(loadConfigFile(missing, {}));
    expect(e1.key).toBe('type');
    expect(e1.allowed).toEqual(['message_bus']);
    const extra = await file('extra.yml', 'message_bus:\n  type: memory\nlogging: debug\n');
    expect((await configRejection(loadConfigFile(extra, {}))).key).toBe('logging');
    const empty = await file('empty.yml', '');
    expect((await configRejection(loadConfigFile(empty, {}))).key).toBe(empty);
    const onlyComment = await file('comment.yml', '# nothing\n{}\n');
    expect((await configRejection(loadConfigFile(onlyComment, {}))).key).toBe('message_bus');
    const list = await file('list.yml', 'message_bus:\n  - memory\n');
    expect((await configRejection(loadConfigFile(list, {}))).key).toBe('message_bus');
  });

  it('an empty message_bus section means the defaults (memory)', async () => {
    const path = await file('blank.yml', 'message_bus:\n');
    expect((await loadConfigFile(path, {})).type).toBe('memory');
  });

  it('reports YAML syntax errors, duplicate keys and unreadable files against the file', async () => {
    const broken = await file('broken.yml', 'message_bus:\n  type: [memory\n');
    const e1 = await configRejection(loadConfigFile(broken, {}));
    expect(e1.key).toBe(broken);
    expect(e1.message).toContain('is not valid YAML');
    const dup = await file('dup.yml', 'message_bus:\n  type: memory\n  type: redis\n');
    expect((await configRejection(loadConfigFile(dup, {}))).message).toContain('is not valid YAML');
    const absent = join(dir, 'absent.yml');
    const e3 = await configRejection(loadConfigFile(absent, {}));
    expect(e3.key).toBe(absent);
    expect(e3.message).toContain('ENOENT');
  });
});

describe('the shipped files are the design’s, byte for byte', () => {
  // Copied from the design's "Configuration" section; a change to a shipped file must be deliberate.
  const design: Record<string, string> = {
    'message_bus_dev.yml': '# config/message_bus_dev.yml\nmessage_bus:\n  type: memory\n  max_queue_size: 1000\n',
    'message_bus_local.yml':
      '# config/message_bus_local.yml\nmessage_bus:\n  type: redis\n  redis_url: redis://localhost:6379\n  stream_prefix: woodwork_local\n  consumer_group: woodwork_components\n  max_retries: 3\n',
    'message_bus_cloud.yml':
      '# config/message_bus_cloud.yml\nmessage_bus:\n  type: redis  # or nats\n  redis_url: ${REDIS_CLUSTER_URL}\n  stream_prefix: woodwork_prod\n  consumer_group: woodwork_components\n  max_retries: 5\n',
  };
  it.each(Object.keys(design))('%s', async (name) => {
    expect(await readFile(shipped(name), 'utf8')).toBe(design[name]);
  });
});

describe('YAML syntax errors', () => {
  it.each([
    ['message_bus:\n  type: memory\n  type: redis\n', 3, 3, /Map keys must be unique$/],
    ['message_bus:\n\ttype: memory\n', 2, 1, /Tabs are not allowed as indentation$/],
    ['message_bus:\n  type: memory\n   max_retries: 1\n', 2, 9, /compact mappings$/],
  ])('%j is a ConfigSyntaxError naming the file, line %i and column %i', async (text, line, column, reason) => {
    const path = await file(`syntax-${line}-${column}.yml`, text);
    const error = await configRejection(loadConfigFile(path, {}));
    expect(error).toBeInstanceOf(ConfigSyntaxError);
    const syntax = error as ConfigSyntaxError;
    expect(syntax.key).toBe(path);
    expect(syntax.file).toBe(path);
    expect([syntax.line, syntax.column]).toEqual([line, column]);
    expect(syntax.message).toContain(`${path} is not valid YAML (line ${line}, column ${column}): `);
    expect(syntax.reason).toMatch(reason);
  });
});
