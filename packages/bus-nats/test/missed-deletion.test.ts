/**
 * `deleteSessionQueue` reaching a bus that was disconnected when it ran: the deletion notice is core
 * NATS, so that bus never hears it; when it is back it reads the deletion log in `<p>~STATE`
 * (src/deletion-log.ts) and drops what it holds of the session, as the notice would have: its
 * running attempt's signal aborts with `SessionDeletedError`, the messages queued behind it never
 * run. Without the log, the queued messages run once the first one ends.
 *
 * The holder reaches the shared server through a TCP proxy of this test that can cut its connection
 * and refuse new ones (so only the holder is away); the deleter connects directly.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createEnvelope, type MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NatsMessageBus, layoutFor, partitionOf } from '../src/index.js';
import { DELETION_SLOTS, DeletionLog } from '../src/deletion-log.js';
import { SharedNamespaces } from './support/namespaces.js';
import { sharedNatsUrl } from './support/nats-server.js';

/** Forwards to a NATS server; `cut()` drops every connection and refuses new ones until `restore()`. */
class CuttableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private up = true;
  refused = 0;
  accepted = 0;

  constructor(target: { host: string; port: number }) {
    this.server = createServer((client) => {
      if (!this.up) {
        this.refused++;
        client.destroy();
        return;
      }
      this.accepted++;
      const upstream = createConnection(target);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  cut(): void {
    this.up = false;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.up = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

const open: NatsMessageBus[] = [];
const proxies: CuttableProxy[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
  await Promise.allSettled(proxies.splice(0).map((p) => p.close()));
});
const namespaces = new SharedNamespaces(sharedNatsUrl);
afterAll(() => namespaces.deleteAll(), 60_000);

describe('a bus disconnected while a session is deleted', () => {
  it('drops what it holds of the session once it is back: the running attempt aborts, the queued messages never run', async () => {
    const url = new URL(await sharedNatsUrl());
    const proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 4222) });
    proxies.push(proxy);
    const proxyPort = await proxy.listen();
    const streamPrefix = randomName('xmiss');
    const holder = await NatsMessageBus.connect(namespaces.remember({ url: `nats://127.0.0.1:${proxyPort}`, streamPrefix }));
    open.push(holder);
    const deleter = await NatsMessageBus.connect({ url: url.toString(), streamPrefix });
    open.push(deleter);

    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    const ended: Array<{ id: string; how: string }> = [];
    await holder.subscribe(
      'x.work',
      async (envelope: MessageEnvelope, context) => {
        started.push(envelope.messageId);
        if ((envelope.payload as { block?: boolean }).block) {
          await Promise.race([released, new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }))]);
          if (context.signal.aborted) {
            ended.push({ id: envelope.messageId, how: (context.signal.reason as Error)?.name ?? String(context.signal.reason) });
            throw context.signal.reason;
          }
        }
        ended.push({ id: envelope.messageId, how: 'done' });
      },
      { componentId: randomName('xc') },
    );

    const doomed = randomName('doomed');
    const message = (sessionId: string, payload: object) => createEnvelope({ sessionId, eventType: 'x.work', componentSource: 'miss', pattern: 'pub_sub', payload });
    const first = message(doomed, { block: true });
    const queued = [1, 2, 3].map((n) => message(doomed, { n }));
    await deleter.publish(first);
    for (const m of queued) await deleter.publish(m);
    await waitFor(() => started.includes(first.messageId), 'the first message to start in the holder', 60_000);
    // Queued behind it in the holder (pulled, held), not started.
    await waitFor(async () => (await holder.healthCheck()).details['heldMessages'] === 4, 'the holder to hold all four', 30_000);

    proxy.cut();
    // The holder noticed: it is trying to reconnect, and the proxy turns it away.
    await waitFor(() => proxy.refused > 0, 'the holder to try reconnecting', 30_000);
    await deleter.deleteSessionQueue(doomed);
    const acceptedBefore = proxy.accepted;
    proxy.restore();
    await waitFor(() => proxy.accepted > acceptedBefore, 'the holder to reconnect', 30_000);

    // Back, it reads the deletion log: the running attempt is aborted as by the notice.
    await waitFor(() => ended.some((e) => e.id === first.messageId), 'the first attempt to end', 30_000);
    release();
    expect(ended.filter((e) => e.id === first.messageId)).toEqual([{ id: first.messageId, how: 'SessionDeletedError' }]);

    // Later messages run: one of the deleted session (after its deletion) and one of another. They
    // come after the deleted ones in their partitions, so once both ran nothing deleted is left.
    const later = message(doomed, { n: 4 });
    const other = message(randomName('kept'), { n: 5 });
    await deleter.publish(later);
    await deleter.publish(other);
    await waitFor(() => [later, other].every((m) => ended.some((e) => e.id === m.messageId && e.how === 'done')), 'the later messages to run', 60_000);
    expect(started.filter((id) => queued.some((m) => m.messageId === id))).toEqual([]);
  }, 180_000);

  it('the deletion log keeps every one of concurrent deletions landing in one slot (compare-and-set), and only those', async () => {
    const streamPrefix = randomName('xslot');
    // Made by a bus, as in use (the state stream with one message per subject).
    const bus = await NatsMessageBus.connect(namespaces.remember({ url: await sharedNatsUrl(), streamPrefix }));
    open.push(bus);
    const nc = await connect({ servers: await sharedNatsUrl() });
    try {
      const log = new DeletionLog(jetstream(nc), await jetstreamManager(nc), layoutFor(streamPrefix));
      const slot = partitionOf('s-0', DELETION_SLOTS);
      const sameSlot: string[] = [];
      for (let i = 0; sameSlot.length < 6; i++) if (partitionOf(`s-${i}`, DELETION_SLOTS) === slot) sameSlot.push(`s-${i}`);
      await Promise.all(sameSlot.map((session, i) => log.record(session, 100 + i)));
      const found = await log.deletedAmong([...sameSlot, 'never-deleted']);
      expect(Object.fromEntries(found)).toEqual(Object.fromEntries(sameSlot.map((session, i) => [session, 100 + i])));
      // Deleted again later: the higher sequence holds.
      await log.record(sameSlot[0]!, 500);
      expect((await log.deletedAmong([sameSlot[0]!])).get(sameSlot[0]!)).toBe(500);
    } finally {
      await nc.close();
    }
  }, 60_000);
});
