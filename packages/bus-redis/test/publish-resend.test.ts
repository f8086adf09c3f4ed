/**
 * No entry stored twice because a publish was resent after a disconnect. Two faults, each with 64
 * publishes in flight, then every stored copy counted per message id:
 * - Redis (our own server, AOF always) killed with -9 and restarted at once;
 * - the connection cut after the server got the commands but before their replies came back (a
 *   proxy that drops the replies): every such publish is resent with its token, and must be found
 *   instead of stored again.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BusError, createEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { OwnRedisServer } from './support/redis-server.js';
import { storedCopies } from './support/stored-copies.js';

const servers: OwnRedisServer[] = [];
const proxies: Server[] = [];
const buses: RedisMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
  for (const proxy of proxies.splice(0)) proxy.close();
});

/** A TCP proxy to `port`; `cut()` stops passing replies back, then drops every open connection. */
async function replyDroppingProxy(port: number): Promise<{ url: string; cut(): Promise<number> }> {
  const open = new Set<{ client: Socket; upstream: Socket; dropping: boolean; dropped: number }>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    const link = { client, upstream, dropping: false, dropped: 0 };
    open.add(link);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => {
      if (link.dropping) link.dropped += chunk.length;
      else client.write(chunk);
    });
    const end = () => {
      open.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  proxies.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `redis://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    async cut() {
      const links = [...open];
      for (const link of links) link.dropping = true;
      await new Promise((r) => setTimeout(r, 100));
      for (const link of links) {
        link.client.destroy();
        link.upstream.destroy();
      }
      return links.reduce((n, l) => n + l.dropped, 0);
    },
  };
}

async function publishMany(bus: RedisMessageBus, total: number, fault: { at: number; run: () => Promise<unknown> }) {
  const acknowledged: string[] = [];
  const rejected: string[] = [];
  let next = 0;
  let faulted: Promise<unknown> | undefined;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < total) {
        const i = next++;
        if (i === fault.at) faulted = fault.run();
        const m = createEnvelope({ sessionId: `s${i % 50}`, eventType: 'resend.x', componentSource: 'test', pattern: 'pub_sub', payload: { i } });
        try {
          await bus.publish(m);
          acknowledged.push(m.messageId);
        } catch (error) {
          if (!(error instanceof BusError)) throw error;
          rejected.push(m.messageId);
        }
      }
    }),
  );
  return { acknowledged, rejected, fault: await faulted };
}

describe('publishing through a kill -9 of Redis', () => {
  it('stores each message at most once, every acknowledged one exactly once', async () => {
    const server = await OwnRedisServer.start({ args: ['--appendfsync', 'always'] });
    servers.push(server);
    const prefix = randomName('resend');
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix: prefix, publishBufferSize: 5_000, publishTimeoutMs: 30_000 });
    buses.push(bus);
    const acknowledged: string[] = [];
    const rejected: string[] = [];
    const total = 3_000;
    let next = 0;
    let killed: Promise<void> | undefined;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < total) {
          const i = next++;
          if (i === 1_000) killed = server.stopProcess('SIGKILL').then(() => server.startProcess());
          const m = createEnvelope({ sessionId: `s${i % 50}`, eventType: 'resend.x', componentSource: 'test', pattern: 'pub_sub', payload: { i } });
          try {
            await bus.publish(m);
            acknowledged.push(m.messageId);
          } catch (error) {
            if (!(error instanceof BusError)) throw error;
            rejected.push(m.messageId);
          }
        }
      }),
    );
    await killed;
    expect(acknowledged.length + rejected.length).toBe(total);
    const copies = await storedCopies(server.url, prefix, bus.layout.partitions);
    const twice = [...copies].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    for (const id of acknowledged) expect(copies.get(id), id).toBe(1);
    await waitFor(async () => (await bus.healthCheck()).status === 'healthy', 'healthy again');
  }, 120_000);

  it('a reply lost with the connection: the resend finds the stored entry instead of storing it again', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const proxy = await replyDroppingProxy(server.port);
    const prefix = randomName('lost');
    const bus = await RedisMessageBus.connect({ url: proxy.url, streamPrefix: prefix, publishBufferSize: 5_000, publishTimeoutMs: 30_000 });
    buses.push(bus);
    const run = await publishMany(bus, 3_000, { at: 1_000, run: () => proxy.cut() });
    // Replies were dropped: some publishes were stored without their caller knowing.
    expect(run.fault as number).toBeGreaterThan(0);
    expect(run.acknowledged.length + run.rejected.length).toBe(3_000);
    const copies = await storedCopies(server.url, prefix, bus.layout.partitions);
    expect([...copies].filter(([, n]) => n > 1)).toEqual([]);
    for (const id of run.acknowledged) expect(copies.get(id), id).toBe(1);
    expect(run.rejected).toEqual([]);
  }, 120_000);
});
