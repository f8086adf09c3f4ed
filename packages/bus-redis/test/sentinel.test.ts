/**
 * Redis Sentinel: a master, a replica and three sentinels of the test's own (free ports, own
 * folders); a failover is forced mid-run (`SENTINEL FAILOVER`) while a bus publishes and consumes
 * through the `sentinels` option. The bus follows the new master by itself; no acknowledged message
 * is lost, none is delivered out of order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { inspect } from 'node:util';
import { AuthenticationError, BusError, createEnvelope } from '@woodwork/bus-core';
import { FAST_RETRY, Ledger, randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { startSentinel, type LocalSentinel } from './support/redis-sentinel.js';

const started: LocalSentinel[] = [];
const buses: RedisMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(started.splice(0).map((s) => s.stop()));
});

describe('bus-redis through Redis Sentinel', () => {
  it('goes on through a forced failover with no acknowledged message lost', async () => {
    const setup = await startSentinel();
    started.push(setup);
    const options = { sentinels: setup.sentinelList, sentinelName: setup.name, streamPrefix: randomName('sen'), retry: FAST_RETRY, publishBufferSize: 1_000, publishTimeoutMs: 30_000 };
    const publisher = await RedisMessageBus.connect(options);
    const consumer = await RedisMessageBus.connect(options);
    buses.push(publisher, consumer);
    const ledger = new Ledger();
    await consumer.subscribe('sen.work', (e) => ledger.record(e), { componentId: randomName('worker') });
    expect(await setup.masterPort()).toBe(setup.master.port);
    let failover: Promise<unknown> | undefined;
    for (let i = 0; i < 300; i++) {
      if (i === 100) {
        const sentinel = new Redis(setup.sentinels[0]!.port, '127.0.0.1');
        failover = sentinel.call('SENTINEL', 'FAILOVER', setup.name).finally(() => sentinel.disconnect());
      }
      try {
        await ledger.publish(publisher, createEnvelope({ sessionId: `s${i % 10}`, eventType: 'sen.work', componentSource: 'test', pattern: 'pub_sub', payload: { i } }));
      } catch (error) {
        if (!(error instanceof BusError)) throw error;
      }
    }
    await failover;
    await waitFor(async () => (await setup.masterPort()) === setup.replica.port, 'the replica to be the master', 60_000);
    // Published after the switch, so the run surely crossed it.
    for (let i = 300; i < 320; i++) await ledger.publish(publisher, createEnvelope({ sessionId: `s${i % 10}`, eventType: 'sen.work', componentSource: 'test', pattern: 'pub_sub', payload: { i } }));
    await waitFor(() => ledger.allDelivered(), 'every acknowledged publish', 90_000);
    const result = ledger.check();
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.outOfOrder).toEqual([]);
    expect(ledger.published.length).toBeGreaterThanOrEqual(300);
  }, 180_000);

  it('logs in to the sentinels with their own password and to the master with its own; a wrong one is an AuthenticationError carrying no secret', async () => {
    const password = 'Master-S3cret-4e7a';
    const sentinelPassword = 'Sentinel-S3cret-91bc';
    const setup = await startSentinel('wwauth', { password, sentinelPassword });
    started.push(setup);
    const base = { sentinels: setup.sentinelList, sentinelName: setup.name, streamPrefix: randomName('sen') };
    const bus = await RedisMessageBus.connect({ ...base, password, sentinelPassword });
    buses.push(bus);
    const got: string[] = [];
    await bus.subscribe('sen.auth', async (e) => void got.push(e.messageId), { componentId: 'auth-worker' });
    const { messageId } = await bus.publish({ sessionId: 's1', eventType: 'sen.auth', componentSource: 'test', payload: {} });
    await waitFor(() => got.includes(messageId), 'delivery through Sentinel with passwords', 30_000);
    const refusals = [
      { wrong: { password, sentinelPassword: 'Wr0ng-Sentinel-77' }, says: /^Redis Sentinel refused the login \(sentinelUsername \/ sentinelPassword\) at Redis Sentinel 127\.0\.0\.1:\d+,.* \(master wwauth\): .*WRONGPASS/ },
      { wrong: { password: 'Wr0ng-Master-88', sentinelPassword }, says: /^Redis at Redis Sentinel 127\.0\.0\.1:\d+,.* \(master wwauth\) refused the login of the default user: WRONGPASS/ },
    ];
    for (const { wrong, says } of refusals) {
      const error = await RedisMessageBus.connect({ ...base, ...wrong, connectTimeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthenticationError);
      expect((error as Error).message).toMatch(says);
      const shown = inspect(error, { depth: null });
      for (const secret of [password, sentinelPassword, wrong.password, wrong.sentinelPassword]) expect(shown).not.toContain(secret);
    }
  }, 120_000);
});
