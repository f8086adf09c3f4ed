/**
 * Posted acks (ack-batcher.ts) are never waited for, so the server must always hold a prefix of
 * what was acknowledged in a partition: a crash at any moment then leaves an earlier message pending
 * only with every later one of its session. Checked through a TCP proxy that swallows a batch of
 * acks and cuts the connection (the batch never reaches Redis), while the pending list is sampled
 * every few milliseconds: with a later batch sent on the new connection before the lost one, the
 * samples would show a hole (an earlier entry pending, a later one acknowledged).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { randomName } from '@woodwork/bus-conformance';
import { AckBatcher } from '../src/ack-batcher.js';
import { createClient, connectClient } from '../src/connection.js';
import { eventsKey, layoutFor, leaseKey } from '../src/keys.js';
import { resolveRedisBusOptions } from '../src/options.js';
import { defineScripts } from '../src/scripts.js';
import { sharedRedisUrl } from './support/redis-server.js';

/** A proxy whose current connections can swallow what the client writes, then be cut. */
async function startSwallowingProxy(target: URL) {
  const pairs = new Set<{ client: Socket; upstream: Socket; swallow: boolean }>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 6379) });
    const pair = { client, upstream, swallow: false };
    pairs.add(pair);
    for (const s of [client, upstream]) s.on('error', () => undefined);
    client.on('data', (chunk) => {
      if (!pair.swallow) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', () => (upstream.destroy(), pairs.delete(pair)));
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    /** From now on nothing the current connections write reaches Redis. */
    swallow: () => pairs.forEach((p) => (p.swallow = true)),
    /** Cuts the current connections (new ones go through). */
    cut: () => pairs.forEach((p) => (p.client.destroy(), p.upstream.destroy())),
    close: () => new Promise<void>((resolve) => (pairs.forEach((p) => p.client.destroy()), server.close(() => resolve()))),
  };
}

const cleanup: Array<() => Promise<unknown> | void> = [];

/** A one-partition layout whose stream holds `count` entries pending for consumer c of group g under lease `lease`. */
async function pendingEntries(admin: Redis, name: string, lease: string, count: number) {
  const layout = layoutFor(randomName(name), 1);
  const stream = eventsKey(layout, 0);
  const leaseKeyName = leaseKey(layout, 0, 'g');
  cleanup.push(() => admin.del(stream, leaseKeyName));
  await admin.xgroup('CREATE', stream, 'g', '$', 'MKSTREAM');
  await admin.set(leaseKeyName, lease);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(String(await admin.xadd(stream, '*', 'i', String(i))));
  await admin.xreadgroup('GROUP', 'g', 'c', 'COUNT', 100, 'STREAMS', stream, '>');
  return { layout, stream, ids };
}
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('posted acks', () => {
  it('reach the server in order per partition: a batch lost with the connection goes again before any later one', async () => {
    const url = await sharedRedisUrl();
    const admin = new Redis(url);
    cleanup.push(() => admin.disconnect());
    const group = 'g';
    const { layout, stream, ids } = await pendingEntries(admin, 'ackorder', 'L1', 30);

    const proxy = await startSwallowingProxy(new URL(url));
    cleanup.push(() => proxy.close());
    const options = resolveRedisBusOptions({ url: `redis://127.0.0.1:${proxy.port}`, streamPrefix: layout.prefix });
    const client = createClient(options, 'ack-order test');
    client.on('error', () => undefined);
    cleanup.push(() => client.disconnect());
    await connectClient(client, options);
    const warnings: string[] = [];
    const acks = new AckBatcher({
      client,
      cluster: false,
      scripts: defineScripts(client),
      layout,
      groupKey: group,
      holds: () => true,
      fenced: () => undefined,
      logger: { warn: (message) => void warnings.push(message) },
    });

    // The pending list, sampled all along: always the ids from some index on (a suffix).
    const holes: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const pending = ((await admin.xpending(stream, group, '-', '+', 100)) as Array<[string]>).map(([id]) => id);
        const from = ids.length - pending.length;
        if (pending.join() !== ids.slice(from).join()) holes.push(`pending ${pending.map((id) => ids.indexOf(id)).join(',')}`);
        await new Promise((r) => setTimeout(r, 2));
      }
    })();

    for (const id of ids.slice(0, 10)) acks.post(0, 'L1', id);
    await acks.drain();
    expect(await admin.xpending(stream, group)).toEqual([20, ids[10], ids[29], [['c', '20']]]);

    // This batch never reaches Redis; the connection is cut; the next batch is asked for once the
    // client is back, before the lost one's resend is due.
    proxy.swallow();
    for (const id of ids.slice(10, 20)) acks.post(0, 'L1', id);
    await new Promise((r) => setTimeout(r, 30));
    expect(acks.pending(0)).toBe(10);
    proxy.cut();
    await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    for (const id of ids.slice(20, 30)) acks.post(0, 'L1', id);
    expect(acks.pending(0)).toBe(20);
    await acks.drain();
    sampling = false;
    await sampler;

    expect(holes).toEqual([]);
    expect(await admin.xpending(stream, group)).toEqual([0, null, null, null]);
    expect(acks.pending(0)).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('a batch whose lease is gone is given up, and counts as held until then', async () => {
    const url = await sharedRedisUrl();
    const admin = new Redis(url);
    cleanup.push(() => admin.disconnect());
    const { layout, stream, ids } = await pendingEntries(admin, 'ackfenced', 'L2', 1);
    const id = ids[0] as string;
    const client = new Redis(url);
    cleanup.push(() => client.disconnect());
    let fenced = 0;
    const warnings: string[] = [];
    const acks = new AckBatcher({
      client,
      cluster: false,
      scripts: defineScripts(client),
      layout,
      groupKey: 'g',
      holds: () => true,
      fenced: () => void fenced++,
      logger: { warn: (message) => void warnings.push(message) },
    });
    acks.post(0, 'L1', id);
    expect(acks.pending(0)).toBe(1);
    expect(acks.isPending(0, id)).toBe(true);
    await acks.drain();
    expect(fenced).toBe(1);
    expect(acks.pending(0)).toBe(0);
    expect(warnings).toHaveLength(1);
    // Refused: still pending on the server for the lease's owner.
    expect((await admin.xpending(stream, 'g'))[0]).toBe(1);
  });
});
