/**
 * A retry waiting for its backoff holds back only its own session, in its own process and in the
 * others: two buses (two members, as two processes would be: own connections, own lanes) share one
 * durable group; one session's message fails twice with a 1.5 s backoff; the other sessions'
 * messages, spread over both members, all finish while it waits, and the failing session's next
 * message starts only after it succeeded. On a redis-server of the test's own.
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

describe('retries across members', () => {
  it("a retry's backoff holds back its own session only, on every member", async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const streamPrefix = randomName('retryx');
    const retry = { initialDelayMs: 1_500, maxDelayMs: 1_500, multiplier: 1, jitter: 0 };
    const options = { url: server.url, streamPrefix, claimIdleMs: 1_000, retry };
    const done: Array<{ bus: string; session: string; label: string; at: number }> = [];
    const starts: Array<{ session: string; label: string; attempt: number; at: number }> = [];
    const member = async (name: string): Promise<RedisMessageBus> => {
      const bus = await RedisMessageBus.connect(options);
      buses.push(bus);
      await bus.subscribe(
        'rx.work',
        (e: MessageEnvelope) => {
          const label = e.payload['label'] as string;
          starts.push({ session: e.sessionId, label, attempt: e.retryCount, at: performance.now() });
          if (label === 'fails-twice' && e.retryCount < 2) throw new Error(`attempt ${e.retryCount + 1} fails`);
          done.push({ bus: name, session: e.sessionId, label, at: performance.now() });
        },
        { componentId: 'worker' },
      );
      return bus;
    };
    const a = await member('a');
    await member('b');
    const sessions = Array.from({ length: 16 }, (_, i) => `s${i}`);
    // Warm-up until both members own partitions and work.
    await waitFor(
      async () => {
        for (const s of sessions) await a.publish({ sessionId: s, eventType: 'rx.work', componentSource: 'test', payload: { label: 'warm' } });
        await new Promise((r) => setTimeout(r, 200));
        return new Set(done.map((d) => d.bus)).size === 2;
      },
      'both members working',
      30_000,
    );
    done.length = 0;
    starts.length = 0;

    await a.publish({ sessionId: 'stuck', eventType: 'rx.work', componentSource: 'test', payload: { label: 'fails-twice' } });
    await a.publish({ sessionId: 'stuck', eventType: 'rx.work', componentSource: 'test', payload: { label: 'after' } });
    await waitFor(() => starts.some((s) => s.label === 'fails-twice'), 'the failing message to start');
    for (let round = 0; round < 5; round++) {
      for (const s of sessions) await a.publish({ sessionId: s, eventType: 'rx.work', componentSource: 'test', payload: { label: `r${round}` } });
    }
    await waitFor(() => done.some((d) => d.label === 'after'), 'the failing session to finish', 30_000);

    const others = done.filter((d) => d.session !== 'stuck');
    expect(others).toHaveLength(sessions.length * 5);
    const succeeded = done.find((d) => d.label === 'fails-twice')!;
    // Everything else finished while the failing message waited for its retries.
    expect(Math.max(...others.map((d) => d.at))).toBeLessThan(succeeded.at);
    expect(new Set(others.map((d) => d.bus))).toEqual(new Set(['a', 'b']));
    expect(starts.filter((s) => s.label === 'fails-twice').map((s) => s.attempt)).toEqual([0, 1, 2]);
    const after = starts.find((s) => s.label === 'after')!;
    expect(after.at).toBeGreaterThanOrEqual(succeeded.at);
  }, 90_000);
});
