/**
 * A server that comes back with its data gone (groups, leases, entries): the consumer recreates
 * its groups and takes its partitions again before it reads, so what is published after the
 * restart runs once. (Reading under the lease values the server no longer had made every ack
 * refused, and the next claim ran those messages again.) On a redis-server of the test's own.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { OwnRedisServer } from './support/redis-server.js';

const servers: OwnRedisServer[] = [];
const buses: RedisMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
});

describe('a server restarted with its data gone', () => {
  it('what is published after the restart runs once, in session order', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const streamPrefix = randomName('wiped');
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix });
    buses.push(bus);
    const starts: Array<{ id: string; session: string; i: number }> = [];
    await bus.subscribe('w.x', (e: MessageEnvelope) => void starts.push({ id: e.messageId, session: e.sessionId, i: e.payload['i'] as number }), { componentId: 'worker' });
    for (let i = 0; i < 20; i++) await bus.publish({ sessionId: `s${i % 5}`, eventType: 'w.x', componentSource: 'test', payload: { i } });
    await waitFor(() => starts.length === 20, 'the messages before the wipe');

    await server.stopProcess('SIGKILL');
    server.wipe();
    await server.startProcess();
    const after: string[] = [];
    await waitFor(
      async () => {
        try {
          after.push((await bus.publish({ sessionId: 's0', eventType: 'w.x', componentSource: 'test', payload: { i: 1_000 } })).messageId);
          return true;
        } catch {
          return false;
        }
      },
      'a publish after the restart',
      30_000,
    );
    for (let i = 1; i < 100; i++) after.push((await bus.publish({ sessionId: `s${i % 5}`, eventType: 'w.x', componentSource: 'test', payload: { i: 1_000 + i } })).messageId);
    await waitFor(() => after.every((id) => starts.some((s) => s.id === id)), 'every message published after the restart', 60_000);
    // Long enough for refused acks and a re-claim to show.
    await new Promise((r) => setTimeout(r, 1_500));

    const runs = new Map<string, number>();
    for (const s of starts) runs.set(s.id, (runs.get(s.id) ?? 0) + 1);
    expect(after.filter((id) => runs.get(id) !== 1)).toEqual([]);
    const last = new Map<string, number>();
    const outOfOrder: string[] = [];
    for (const s of starts.filter((x) => x.i >= 1_000)) {
      if ((last.get(s.session) ?? -1) > s.i) outOfOrder.push(`${s.session}: ${s.i}`);
      last.set(s.session, s.i);
    }
    expect(outOfOrder).toEqual([]);
  }, 120_000);
});
