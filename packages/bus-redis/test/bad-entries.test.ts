/**
 * Entries a consumer cannot use, on a redis-server of the test's own (its command counts are ours):
 * - an entry that fails core's wire validation (written by a client of another language, say) goes
 *   to the dead letters once, with the reason, and its session goes on; bytes with no readable
 *   event type are skipped by a group not on '*', with a warning naming the entry;
 * - pending ids whose entries were deleted or trimmed (XDEL, XTRIM) while a consumer held them are
 *   dropped by the next owner's claim: the live ones run in order, the gone ones never, the
 *   pending list empties, and nothing claims them again and again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus, eventsKey, layoutFor, partitionOf } from '../src/index.js';
import { OwnRedisServer } from './support/redis-server.js';

const servers: OwnRedisServer[] = [];
const buses: RedisMessageBus[] = [];
const clients: Redis[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  for (const c of clients.splice(0)) c.disconnect();
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
});

async function setup(): Promise<{ server: OwnRedisServer; redis: Redis; prefix: string; streamOf: (session: string) => string }> {
  const server = await OwnRedisServer.start();
  servers.push(server);
  const redis = new Redis(server.url);
  clients.push(redis);
  const prefix = randomName('bad');
  const layout = layoutFor(prefix, 8);
  return { server, redis, prefix, streamOf: (session) => eventsKey(layout, partitionOf(session, 8)) };
}

/** Calls of one command the server has run so far (INFO commandstats). */
async function calls(redis: Redis, command: string): Promise<number> {
  const info = await redis.info('commandstats');
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
  return match ? Number(match[1]) : 0;
}

describe('entries a consumer cannot use', () => {
  it('an entry failing wire validation is dead-lettered once with the reason, and its session goes on', async () => {
    const { server, redis, prefix, streamOf } = await setup();
    const warnings: Array<{ message: string; context: Record<string, unknown> | undefined }> = [];
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (message: string, context?: Record<string, unknown>) => void warnings.push({ message, context }) };
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix: prefix, logger });
    buses.push(bus);
    const handled: number[] = [];
    await bus.subscribe('bad.x', (e: MessageEnvelope) => void handled.push(e.payload['i'] as number), { componentId: 'worker' });
    await bus.publish({ sessionId: 'x', eventType: 'bad.x', componentSource: 'test', payload: { i: 0 } });
    await waitFor(() => handled.includes(0), 'the first message handled');
    // What a careless client of another language might write: a readable event type and session, no message id.
    const wire = { session_id: 'x', event_type: 'bad.x', component_source: 'py', timestamp: Date.now() / 1000, delivery_mode: 'at_least_once', pattern: 'pub_sub', payload: { i: 1 } };
    const badId = await redis.xadd(streamOf('x'), '*', 'envelope', JSON.stringify(wire));
    // And bytes that are no envelope at all: no event type to tell whose it is. Only groups on '*'
    // dead-letter it; this group skips it, and says so.
    const garbageId = await redis.xadd(streamOf('x'), '*', 'envelope', 'not json {');
    await bus.publish({ sessionId: 'x', eventType: 'bad.x', componentSource: 'test', payload: { i: 2 } });
    await waitFor(() => handled.includes(2), 'the session going on past the bad entry');
    await waitFor(async () => (await bus.getDeadLetterMessages(10)).length > 0, 'the dead letter');
    // Long enough for any repeat (reads, claims, maintenance) to show.
    await new Promise((r) => setTimeout(r, 1_500));
    const letters = await bus.getDeadLetterMessages(10);
    expect(letters).toHaveLength(1);
    expect(letters[0]!.attempts).toBe(0);
    expect(letters[0]!.source.id).toBe(badId);
    expect(letters[0]!.raw).toContain('"payload":{"i":1}');
    expect(letters[0]!.error.message).toMatch(/message_?id/i);
    expect(handled).toEqual([0, 2]);
    expect(warnings.filter((w) => w.context?.['id'] === garbageId)).toHaveLength(1);
    const health = await bus.healthCheck();
    expect(health.groups.find((g) => g.componentId === 'worker')?.pending ?? 0).toBe(0);
  }, 60_000);

  it('pending ids whose entries were deleted or trimmed are dropped by the next claim, never claimed again and again', async () => {
    const { server, redis, prefix, streamOf } = await setup();
    const options = { url: server.url, streamPrefix: prefix, claimIdleMs: 1_000, closeTimeoutMs: 500 };
    const first = await RedisMessageBus.connect(options);
    buses.push(first);
    const startedOnFirst: number[] = [];
    // The first consumer holds the session: its first message hangs (until the close aborts it),
    // the other four wait behind it, all of them read and pending on the server.
    await first.subscribe(
      'gone.x',
      async (e: MessageEnvelope, context) => {
        startedOnFirst.push(e.payload['i'] as number);
        await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve()));
        throw new Error('aborted');
      },
      { componentId: 'worker' },
    );
    for (let i = 0; i < 5; i++) await first.publish({ sessionId: 'gone', eventType: 'gone.x', componentSource: 'test', payload: { i } });
    await waitFor(async () => (await first.healthCheck()).details['heldMessages'] === 5, 'all five read and held');
    await first.close();
    buses.splice(buses.indexOf(first), 1);
    expect(startedOnFirst).toEqual([0]);

    // An operator deletes two of them and trims the oldest away while they are pending.
    const stream = streamOf('gone');
    const entries = (await redis.xrange(stream, '-', '+')) as Array<[string, string[]]>;
    const idOf = (i: number) => entries.find(([, f]) => (JSON.parse(f[f.indexOf('envelope') + 1]!) as { payload: { i: number } }).payload.i === i)![0];
    await redis.xdel(stream, idOf(1), idOf(3));
    await redis.xtrim(stream, 'MINID', idOf(1));
    expect(await redis.xlen(stream)).toBe(2);

    const claimsBefore = await calls(redis, 'xautoclaim');
    const second = await RedisMessageBus.connect(options);
    buses.push(second);
    const handled: number[] = [];
    await second.subscribe('gone.x', (e: MessageEnvelope) => void handled.push(e.payload['i'] as number), { componentId: 'worker' });
    await waitFor(() => handled.length === 2, 'the two entries left handled');
    await waitFor(async () => ((await second.healthCheck()).groups.find((g) => g.componentId === 'worker')?.pending ?? -1) === 0, 'the pending list emptied');
    // Several lease renewals later: no claim loop over the ids that are gone.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(handled).toEqual([2, 4]);
    // One claim per partition taken (8), a few more at most (a reconnect re-claims once).
    expect((await calls(redis, 'xautoclaim')) - claimsBefore).toBeLessThanOrEqual(16);
    expect(await second.getDeadLetterMessages(10)).toEqual([]);
  }, 60_000);
});
