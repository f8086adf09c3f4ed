/**
 * Publishes made in one turn go out in one socket write (write-coalescer.ts), each still answered
 * by its own reply. Counted by the server (INFO stats `total_reads_processed`) on a redis-server of
 * the test's own: 200 publishes of one turn written one by one were read by the server in 37-155
 * reads (it keeps up with the writes); corked, they arrive in a few reads of up to 16 KB.
 * Only while the server is behind (16 commands of the connection unanswered): a publish on an idle
 * connection is written at once, not at the end of its turn (that wait was most of what the bus
 * added to a publish's round trip at a moderate rate).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { eventsKey } from '../src/keys.js';
import { OwnRedisServer } from './support/redis-server.js';

const servers: OwnRedisServer[] = [];
const buses: RedisMessageBus[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  for (const c of clients.splice(0)) c.disconnect();
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
});

async function readsProcessed(admin: Redis): Promise<number> {
  const match = /total_reads_processed:(\d+)/.exec(await admin.info('stats'));
  if (!match) throw new Error('the server does not report total_reads_processed (Redis 6 or newer does)');
  return Number(match[1]);
}

describe('publishes of one turn', () => {
  it('reach the server in a few reads, and each resolves with its own stored id', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const admin = new Redis(server.url);
    clients.push(admin);
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix: randomName('coalesce'), partitions: 1 });
    buses.push(bus);
    const count = 200;
    const publish = (i: number) => bus.publish({ sessionId: 's', eventType: 'co.x', componentSource: 'test', payload: { i, text: 'x'.repeat(200) } });
    // The first publish to a partition takes the script path: out of the way first.
    await publish(-1);
    let fewest = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 3; round++) {
      const before = await readsProcessed(admin);
      const results = await Promise.all(Array.from({ length: count }, (_, i) => publish(i)));
      // The INFO call itself is one read.
      fewest = Math.min(fewest, (await readsProcessed(admin)) - before - 1);
      expect(new Set(results.map((r) => r.messageId)).size).toBe(count);
      expect(results.every((r) => !r.duplicate)).toBe(true);
    }
    // About 60 KB in one write: a handful of reads of up to 16 KB (7 here; written one by one, 37-155).
    expect(fewest).toBeLessThanOrEqual(20);
    const stored = (await admin.xrange(eventsKey(bus.layout, 0), '-', '+')) as Array<[string, string[]]>;
    expect(stored).toHaveLength(3 * count + 1);
  });

  it('hold a write only while 16 commands are unanswered: the first ones of a turn go out at once', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix: randomName('coalesce'), partitions: 1 });
    buses.push(bus);
    const publish = (i: number) => bus.publish({ sessionId: 's', eventType: 'co.x', componentSource: 'test', payload: { i } });
    await publish(-1);
    const client = (bus as unknown as { client: Redis }).client;
    const socket = (client as unknown as { stream: { writableCorked: number } }).stream;
    // Nothing of the bus's own (a periodic trim, say) on its way: the count starts from 0.
    await waitFor(() => client.commandQueue.length === 0, 'the command connection idle');
    expect(client.commandQueue.length).toBe(0);
    const corkedAfter: number[] = [];
    const all: Array<Promise<unknown>> = [];
    for (let i = 0; i < 40; i++) {
      all.push(publish(i));
      corkedAfter.push(socket.writableCorked);
    }
    await Promise.all(all);
    // Published in one turn: the first 16 written as they were made, the rest held to the turn's end.
    expect(corkedAfter.slice(0, 16)).toEqual(new Array(16).fill(0));
    expect(corkedAfter.slice(16)).toEqual(new Array(24).fill(1));
    expect(socket.writableCorked).toBe(0);
  });
});
