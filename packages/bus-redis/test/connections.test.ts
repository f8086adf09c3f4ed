/**
 * Connections per bus stay few: they never grow with groups, subscriptions or sessions. One bus
 * with twelve groups (durable ones of six components, private ones, an observer) over many sessions
 * holds the same connections as a bus with one group: command, acks, the read loop, the notices
 * subscriber. Counted by the server (CLIENT LIST) on a redis-server of the test's own.
 * With several groups the read loop waits for new entries with XREAD (and XINFO STREAM in a script);
 * a server that refuses it (an ACL) costs polling, never a message or a duplicate.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { OwnRedisServer } from './support/redis-server.js';

const servers: OwnRedisServer[] = [];
const buses: RedisMessageBus[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  for (const c of clients.splice(0)) c.disconnect();
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
});

/** Connections the server holds, less the one asking. */
async function connections(redis: Redis): Promise<number> {
  const list = String(await redis.client('LIST'));
  return list.split('\n').filter((line) => line.trim() !== '').length - 1;
}

describe('connections per bus', () => {
  it('do not grow with groups, subscriptions or sessions', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const admin = new Redis(server.url);
    clients.push(admin);
    const streamPrefix = randomName('conns');
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix });
    buses.push(bus);
    const seen = new Set<string>();
    const handler = (e: MessageEnvelope) => void seen.add(`${e.eventType}/${e.sessionId}`);

    await bus.subscribe('c.one', handler, { componentId: 'first' });
    await bus.publish({ sessionId: 's0', eventType: 'c.one', componentSource: 'test', payload: {} });
    await waitFor(() => seen.has('c.one/s0'), 'the first group working');
    const withOneGroup = await connections(admin);

    for (let i = 0; i < 6; i++) await bus.subscribe(`c.type${i}`, handler, { componentId: `component-${i}` });
    for (let i = 0; i < 4; i++) await bus.subscribe(`c.type${i}`, handler);
    await bus.subscribe('*', handler, { observe: true });
    const sessions = 200;
    for (let i = 0; i < sessions; i++) await bus.publish({ sessionId: `s${i}`, eventType: `c.type${i % 6}`, componentSource: 'test', payload: {} });
    await waitFor(() => [...seen].filter((k) => k.startsWith('c.type')).length === sessions, 'every session handled');
    const withTwelveGroups = await connections(admin);

    expect((await bus.healthCheck()).groups.length).toBeGreaterThanOrEqual(11);
    expect(withTwelveGroups).toBe(withOneGroup);
    // Command, acks, the read loop, the notices subscriber.
    expect(withOneGroup).toBeLessThanOrEqual(4);
  }, 60_000);

  it('several groups under a user that may not run XREAD: polling instead, every message once', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const admin = new Redis(server.url);
    clients.push(admin);
    await admin.call('ACL', 'SETUSER', 'nodoorbell', 'on', '>pw', '~*', '&*', '+@all', '-xread');
    const url = `redis://nodoorbell:pw@127.0.0.1:${server.port}`;
    const warnings: string[] = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (message: string) => void warnings.push(message) };
    const bus = await RedisMessageBus.connect({ url, streamPrefix: randomName('noperm'), logger });
    buses.push(bus);
    const runs = new Map<string, number>();
    const handler = (e: MessageEnvelope) => void runs.set(`${e.messageId}`, (runs.get(e.messageId) ?? 0) + 1);
    for (let i = 0; i < 3; i++) await bus.subscribe('np.x', handler, { componentId: `component-${i}` });
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push((await bus.publish({ sessionId: `s${i % 7}`, eventType: 'np.x', componentSource: 'test', payload: { i } })).messageId);
    // Each of the three groups runs each message once.
    await waitFor(() => ids.every((id) => runs.get(id) === 3), 'every message in every group', 30_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(ids.filter((id) => runs.get(id) !== 3)).toEqual([]);
    expect(warnings.filter((w) => w.includes('polling'))).toHaveLength(1);
  }, 60_000);
});
