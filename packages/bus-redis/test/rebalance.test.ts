/**
 * Partitions moving between the members of one durable group while messages keep coming: buses
 * join and leave (clean closes) again and again, so the members above their share keep draining
 * and releasing partitions that their blocking read is waiting on. Nothing crashes, so nothing may
 * run twice: every message starts exactly once, in its session's order, and none is left behind in
 * a released partition's pending list. On a redis-server of the test's own (it leaves nothing on
 * the shared one).
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

describe('partitions moving between members', () => {
  it('members joining and leaving while messages flow: each message starts once, in session order, none left behind', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const streamPrefix = randomName('rebalance');
    // Members only close cleanly here, so no lease needs to lapse; claimIdleMs is long enough that a
    // stall of this one process (every bus of the test lives in it) on a loaded machine does not let
    // a lease lapse on the server either: with 900 ms a stall of about a second at load 20 let a
    // member claim and run a message another had already started (train run of 4 Dec, 16:18).
    const options = { url: server.url, streamPrefix, claimIdleMs: 6_000, blockMs: 2_000, closeTimeoutMs: 5_000 };
    const publisher = await RedisMessageBus.connect(options);
    buses.push(publisher);
    /** Starts in the order they happened (one process: one timeline). */
    const starts: Array<{ id: string; session: string; i: number; bus: number }> = [];
    let busSerial = 0;
    const member = async (): Promise<{ bus: RedisMessageBus; me: number }> => {
      const bus = await RedisMessageBus.connect(options);
      buses.push(bus);
      const me = ++busSerial;
      await bus.subscribe(
        'rb.work',
        async (e: MessageEnvelope) => {
          starts.push({ id: e.messageId, session: e.sessionId, i: e.payload['i'] as number, bus: me });
          await new Promise((r) => setTimeout(r, 1));
        },
        { componentId: 'worker' },
      );
      return { bus, me };
    };
    /** Waits until `count` more messages started after this call (on `on` only, when given): evidence instead of a fixed sleep. */
    const flowed = async (count: number, what: string, on?: number): Promise<void> => {
      const from = starts.length;
      await waitFor(() => starts.slice(from).filter((s) => on === undefined || s.bus === on).length >= count, what, 30_000);
    };
    await member();

    const sessions = 24;
    let published = 0;
    let publishing = true;
    const flow = (async () => {
      while (publishing) {
        const session = `s${published % sessions}`;
        await publisher.publish({ sessionId: session, eventType: 'rb.work', componentSource: 'test', payload: { i: published } });
        published++;
        // Sparse enough that partitions go idle between messages (an idle partition is released
        // at once when drained, while the read may still be blocked on it).
        if (published % 4 === 0) await new Promise((r) => setTimeout(r, 3));
      }
    })();
    // Members come and go: each join makes the others drain partitions, each leave frees them.
    // After each change, messages keep flowing (a newcomer runs some itself) before the next one.
    for (let round = 0; round < 6; round++) {
      const joined = await member();
      await flowed(20, `round ${round}: the first newcomer working`, joined.me);
      const another = await member();
      await flowed(20, `round ${round}: the second newcomer working`, another.me);
      await joined.bus.close();
      buses.splice(buses.indexOf(joined.bus), 1);
      await flowed(100, `round ${round}: messages flowing after the first leave`);
      await another.bus.close();
      buses.splice(buses.indexOf(another.bus), 1);
      await flowed(100, `round ${round}: messages flowing after the second leave`);
    }
    publishing = false;
    await flow;
    await waitFor(() => new Set(starts.map((s) => s.id)).size === published, `all ${published} messages handled`, 60_000);
    await new Promise((r) => setTimeout(r, 500));

    const seen = new Map<string, number[]>();
    for (const s of starts) seen.set(s.id, [...(seen.get(s.id) ?? []), s.bus]);
    const duplicates = [...seen].filter(([, on]) => on.length > 1).map(([id, on]) => `${id} started on buses ${on.join(', ')}`);
    expect(duplicates).toEqual([]);
    const lastOf = new Map<string, number>();
    const outOfOrder: string[] = [];
    for (const s of starts) {
      const last = lastOf.get(s.session) ?? -1;
      if (s.i < last) outOfOrder.push(`${s.session}: ${s.i} after ${last}`);
      lastOf.set(s.session, Math.max(last, s.i));
    }
    expect(outOfOrder).toEqual([]);
    expect(published).toBeGreaterThan(500);
    expect(new Set(starts.map((s) => s.bus)).size).toBeGreaterThan(2);
  }, 120_000);
});
