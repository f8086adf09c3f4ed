/**
 * Connections per bus stay few: they never grow with groups, subscriptions or sessions. One bus
 * with twelve groups (durable ones of six components, private ones, an observer) over many sessions
 * holds the same connections as a bus with one group: command, acks, the read loop, the notices
 * subscriber. Counted by the server (CLIENT LIST) on a redis-server of the test's own.
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
});
