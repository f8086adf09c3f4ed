/**
 * A routed bus from config: objects, YAML and the environment (`WOODWORK_MESSAGE_BUS=routed` with
 * `WOODWORK_BUS_CONFIG`), and the typed errors of a bad one, each naming the key and what is
 * allowed. Builds memory members only (the Redis / NATS members are in routed-servers.test.ts).
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidConfigError, type MessageBus } from '@woodwork/bus-core';
import {
  DuplicateRouteError,
  MemberNotInstalledError,
  MessageBusFactory,
  RoutedMessageBus,
  UnknownMemberError,
  loadShippedConfig,
  parseConfigText,
  resolveBusConfig,
} from '../src/index.js';
import { eventually } from './support/memory.js';

const open: MessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((bus) => bus.close()));
});

const ROUTED = {
  type: 'routed',
  default: 'local',
  members: { local: { type: 'memory' }, shared: { type: 'redis', redis_url: 'redis://127.0.0.1:6399', partitions: '4' } },
  routes: [
    { event_type: 'tool.*', member: 'shared' },
    { event_type: 'agent.output', member: 'shared' },
  ],
  concurrency: '8',
} as const;

const YAML = `
message_bus:
  type: routed
  default: hooks
  members:
    hooks: { type: memory, max_retries: 1 }
    other: { type: memory }
  routes:
    - { event_type: "chain.*", member: other }
  handler_timeout_ms: 5000
`;

describe('routed config', () => {
  it('checks each member as the bus config it is and the routes against the members, without connecting', () => {
    const resolved = resolveBusConfig(ROUTED);
    expect(resolved.type).toBe('routed');
    expect(resolved.options).toEqual({ concurrency: 8 });
    expect(resolved.routed!.defaultMember).toBe('local');
    expect(resolved.routed!.routes).toEqual([
      { eventType: 'tool.*', member: 'shared' },
      { eventType: 'agent.output', member: 'shared' },
    ]);
    expect(resolved.routed!.members['shared']!.options).toEqual({ url: 'redis://127.0.0.1:6399', partitions: 4 });
    expect(resolved.routed!.members['local']!.type).toBe('memory');
    expect(resolved.config).toMatchObject({ type: 'routed', default: 'local', concurrency: 8, members: { shared: { type: 'redis', partitions: 4 } } });
  });

  it.each([
    [{ ...ROUTED, routes: [{ event_type: 'tool.*', member: 'remote' }] }, UnknownMemberError, 'routes[0].member names the member "remote", which is not defined under members (allowed: local, shared)'],
    [{ ...ROUTED, default: 'remote' }, UnknownMemberError, 'default names the member "remote", which is not defined under members (allowed: local, shared)'],
    [{ ...ROUTED, default: undefined }, InvalidConfigError, 'default is required: the member of every event type no route names (allowed: local, shared)'],
    [
      { ...ROUTED, routes: [{ event_type: 'tool.*', member: 'shared' }, { event_type: 'tool.*', member: 'local' }] },
      DuplicateRouteError,
      'routes[1] routes "tool.*" again (already routed by routes[0])',
    ],
    [{ ...ROUTED, routes: [{ event_type: 'tool*', member: 'shared' }] }, InvalidConfigError, 'routes[0].event_type must be an event type (agent.input) or a prefix ending in ".*" (tool.*); got "tool*"'],
    [{ ...ROUTED, routes: [{ event: 'tool.*', member: 'shared' }] }, InvalidConfigError, 'routes[0].event is not a route setting (allowed: event_type, member)'],
    [{ ...ROUTED, routes: { 'tool.*': 'shared' } }, InvalidConfigError, 'routes must be a list of { event_type, member }'],
    [{ ...ROUTED, redis_url: 'redis://x' }, InvalidConfigError, 'redis_url is not a setting of type "routed" (backend settings go under members.<name>) (allowed: type, default, members, routes, concurrency, handler_timeout_ms, close_timeout_ms)'],
    [{ ...ROUTED, members: {} }, InvalidConfigError, 'members must name at least one member'],
    [{ ...ROUTED, members: { local: { type: 'routed' } } }, InvalidConfigError, 'members.local.type cannot be "routed": a member is one backend (memory, redis or nats)'],
    [{ ...ROUTED, members: { local: { type: 'memory', claim_idle_ms: 100 } } }, InvalidConfigError, 'members.local.claim_idle_ms is not a setting of type "memory" (it belongs to redis)'],
    [{ ...ROUTED, members: { local: { type: 'kafka' } } }, InvalidConfigError, 'members.local.type must be one of'],
    [{ ...ROUTED, members: { 'lo.cal': { type: 'memory' } } }, InvalidConfigError, 'members.lo.cal must be 1-128 letters'],
    [{ ...ROUTED, concurrency: 0 }, InvalidConfigError, 'concurrency must be an integer from 1 to 10000; got number 0'],
    [
      { ...ROUTED, members: { a: { type: 'redis', redis_url: 'redis://h:1' }, b: { type: 'redis', redis_url: 'redis://h:1' } }, default: 'a', routes: [] },
      InvalidConfigError,
      'members.b.stream_prefix makes members.b share the namespace of members.a (same redis server and stream_prefix)',
    ],
  ])('rejects a bad routed config with a typed error saying what is allowed (%#)', (config, type, message) => {
    expect(() => resolveBusConfig(config)).toThrow(type);
    expect(() => resolveBusConfig(config)).toThrow(message);
  });

  it('reads from YAML, naming the file and the full key in errors', () => {
    const resolved = parseConfigText(YAML, {}, 'app.yml');
    expect(resolved.routed!.members['hooks']!.options).toEqual({ maxRetries: 1 });
    expect(resolved.options).toEqual({ handlerTimeoutMs: 5000 });
    expect(() => parseConfigText(YAML.replace('member: other', 'member: others'), {}, 'app.yml')).toThrow(
      'invalid config: message_bus.routes[0].member names the member "others", which is not defined under members (allowed: hooks, other)',
    );
    expect(() => parseConfigText(YAML.replace('max_retries: 1', 'max_retries: lots'), {}, 'app.yml')).toThrow(
      /^invalid config: app\.yml: message_bus\.members\.hooks\.max_retries must be/,
    );
  });

  it('the factory builds it, each member by its backend name', async () => {
    const bus = await MessageBusFactory.createMessageBus(parseConfigText(YAML, {}));
    open.push(bus);
    expect(bus).toBeInstanceOf(RoutedMessageBus);
    const routed = bus as RoutedMessageBus;
    expect([...routed.members.keys()]).toEqual(['hooks', 'other']);
    expect([...routed.members.values()].map((m) => m.backend)).toEqual(['memory', 'memory']);
    expect(routed.memberFor('chain.step')).toBe('other');
    const seen: string[] = [];
    await routed.members.get('other')!.subscribe('chain.step', (e) => void seen.push(e.eventType));
    await bus.publish({ sessionId: 's', eventType: 'chain.step', componentSource: 't', payload: {} });
    await eventually(() => expect(seen).toEqual(['chain.step']));
  });

  it('a member whose backend package is missing is a MemberNotInstalledError naming the member and what to install; members made are closed', async () => {
    const made: MessageBus[] = [];
    const error = await MessageBusFactory.createMessageBus(resolveBusConfig(ROUTED), {
      packages: { redis: '@woodwork/bus-redis-not-installed' },
      importModule: async (name) => {
        const module = (await import(name)) as { createMessageBus: (o: unknown) => MessageBus };
        return { createMessageBus: (o: unknown) => { const bus = module.createMessageBus(o); made.push(bus); return bus; } };
      },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MemberNotInstalledError);
    expect((error as MemberNotInstalledError).member).toBe('shared');
    expect((error as Error).message).toBe(
      'invalid config: members.shared.type "redis" needs the package @woodwork/bus-redis-not-installed, which is not installed: run npm install @woodwork/bus-redis-not-installed',
    );
    expect(made).toHaveLength(1);
    await expect(made[0]!.publish({ sessionId: 's', eventType: 'x', componentSource: 't', payload: {} })).rejects.toThrow(/closed/);
  });

  it('ships an example (config/message_bus_routed.yml) that loads as a routed config', async () => {
    const resolved = await loadShippedConfig('routed', {});
    expect(resolved.type).toBe('routed');
    expect(Object.fromEntries(Object.entries(resolved.routed!.members).map(([name, m]) => [name, m.type]))).toEqual({ local: 'memory', chains: 'redis', shared: 'nats' });
    expect(resolved.routed!.defaultMember).toBe('local');
  });
});

describe('routed config from the environment', () => {
  async function file(text: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'ww-routed-'));
    const path = join(dir, 'bus.yml');
    await writeFile(path, text);
    return path;
  }

  it('WOODWORK_MESSAGE_BUS=routed reads members and routes from the file WOODWORK_BUS_CONFIG names', async () => {
    const path = await file(YAML);
    const env = { WOODWORK_MESSAGE_BUS: 'routed', WOODWORK_BUS_CONFIG: path };
    const resolved = await MessageBusFactory.loadEnvironmentConfig(env);
    expect(resolved.routed!.defaultMember).toBe('hooks');
    const bus = await MessageBusFactory.createFromEnvironment(env);
    open.push(bus);
    expect(bus.backend).toBe('routed');
    // The file alone says routed; WOODWORK_MESSAGE_BUS may be left unset.
    expect((await MessageBusFactory.loadEnvironmentConfig({ WOODWORK_BUS_CONFIG: path })).type).toBe('routed');
  });

  it('says what is missing or contradictory', async () => {
    await expect(MessageBusFactory.loadEnvironmentConfig({ WOODWORK_MESSAGE_BUS: 'routed' })).rejects.toThrow(
      /^invalid config: WOODWORK_BUS_CONFIG must name the YAML file with the routed bus's members and routes/,
    );
    expect(() => MessageBusFactory.resolveEnvironmentConfig({ WOODWORK_MESSAGE_BUS: 'routed' })).toThrow(/loadEnvironmentConfig\(\) or createFromEnvironment\(\)/);
    const path = await file(YAML);
    await expect(MessageBusFactory.loadEnvironmentConfig({ WOODWORK_MESSAGE_BUS: 'redis', WOODWORK_BUS_CONFIG: path })).rejects.toThrow(
      `invalid config: WOODWORK_MESSAGE_BUS is "redis", but WOODWORK_BUS_CONFIG names ${path}, whose message_bus.type is "routed"`,
    );
    await expect(MessageBusFactory.loadEnvironmentConfig({ WOODWORK_MESSAGE_BUS: 'kafka' })).rejects.toThrow(/allowed: memory, redis, nats, routed/);
    await expect(MessageBusFactory.loadEnvironmentConfig({ WOODWORK_BUS_CONFIG: join(tmpdir(), 'no-such-bus.yml') })).rejects.toThrow(/cannot be read \(ENOENT\)/);
  });
});
