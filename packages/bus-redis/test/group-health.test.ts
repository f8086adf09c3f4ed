/**
 * Group health read from the server: `oldestPendingAgeMs` is the age of the oldest entry a group
 * holds (pending or unread), by the server time in its id; `null` once it holds nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { randomName } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { sharedRedisUrl } from './support/redis-server.js';

const buses: RedisMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
});

describe('redis group health', () => {
  it('oldestPendingAgeMs: the oldest held entry\'s age, growing while it waits, null when the group holds none', async () => {
    const bus = await RedisMessageBus.connect({ url: await sharedRedisUrl(), streamPrefix: randomName('gh'), closeTimeoutMs: 200 });
    buses.push(bus);
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await bus.subscribe('gh.work', () => held, { group: 'aged', concurrency: 1 });
    const aged = async () => (await bus.healthCheck()).groups.find((g) => g.group === 'aged');
    expect((await aged())?.oldestPendingAgeMs).toBeNull();
    for (let i = 0; i < 3; i++) await bus.publish({ sessionId: 's1', eventType: 'gh.work', componentSource: 'test', payload: { i } });
    await expect.poll(async () => (await aged())?.pending ?? 0).toBeGreaterThan(0);
    const first = (await aged())?.oldestPendingAgeMs;
    expect(first).toBeTypeOf('number');
    await expect.poll(async () => (await aged())?.oldestPendingAgeMs ?? 0).toBeGreaterThanOrEqual((first as number) + 300);
    release();
    await expect.poll(async () => (await aged())?.oldestPendingAgeMs, { timeout: 20_000 }).toBeNull();
  });
});
