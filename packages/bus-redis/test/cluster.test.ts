/**
 * The short form of the Cluster proof in `npm test`: a local 3-master Redis Cluster (free ports,
 * own folders), one bus over it, the suite's kinds of delivery, per-session order and dead-letter
 * checks, with keys spread over at least two masters. The whole conformance suite over a cluster
 * runs in `npm run test:slow` (slow/cluster-conformance.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Ledger, FAST_RETRY, randomName, waitFor } from '@woodwork/bus-conformance';
import { createEnvelope, type MessageEnvelope } from '@woodwork/bus-core';
import { Redis } from 'ioredis';
import { RedisMessageBus } from '../src/index.js';
import { keysPerNode, startCluster, type LocalCluster } from './support/redis-cluster.js';

let cluster: LocalCluster;
const buses: RedisMessageBus[] = [];
beforeAll(async () => {
  cluster = await startCluster();
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(buses.map((b) => b.close()));
  await cluster?.stop();
});

const make = async (streamPrefix = randomName('cl')) => {
  const bus = await RedisMessageBus.connect({ url: cluster.url, cluster: true, streamPrefix, retry: FAST_RETRY });
  buses.push(bus);
  return bus;
};

const message = (sessionId: string, eventType: string, extra: Partial<MessageEnvelope> = {}) =>
  createEnvelope({ sessionId, eventType, componentSource: 'cluster', pattern: 'pub_sub', payload: {}, ...extra });

describe('bus-redis on a 3-master Redis Cluster', () => {
  it('delivers every message in per-session order across partitions spread over the masters', async () => {
    const streamPrefix = randomName('cl');
    const publisher = await make(streamPrefix);
    const consumer = await make(streamPrefix);
    const ledger = new Ledger();
    await consumer.subscribe('cl.work', (e) => ledger.record(e), { componentId: randomName('worker') });
    for (let i = 0; i < 400; i++) await ledger.publish(publisher, message(`s${i % 20}`, 'cl.work', { payload: { i } }));
    await waitFor(() => ledger.distinctDelivered === 400, '400 deliveries', 60_000);
    const result = ledger.check();
    expect(result.missing).toEqual([]);
    expect(result.unexpected).toEqual([]);
    expect(result.outOfOrder).toEqual([]);
    expect(result.duplicates).toBe(0);
    const perNode = await keysPerNode(cluster);
    expect(perNode.filter((n) => n > 0).length, `keys per master: ${perNode.join(', ')}`).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('retries, dead-letters, and redrives to the record\'s own group', async () => {
    const bus = await make();
    let broken = true;
    const attempts: number[] = [];
    const got: string[] = [];
    await bus.subscribe('cl.fail', (e) => {
      attempts.push(e.retryCount);
      if (broken) throw new Error('broken');
      got.push(e.messageId);
    }, { componentId: randomName('fixer') });
    const m = message('dl', 'cl.fail', { maxRetries: 2 });
    await bus.publish(m);
    await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter', 60_000);
    const [record] = await bus.getDeadLetterMessages();
    expect(record).toMatchObject({ attempts: 3, envelope: { messageId: m.messageId, retryCount: 2 } });
    expect(attempts).toEqual([0, 1, 2]);
    broken = false;
    expect((await bus.redriveDeadLetters()).redriven).toEqual([record!.id]);
    await waitFor(() => got.includes(m.messageId), 'the redriven message', 60_000);
    expect(await bus.getDeadLetterMessages()).toEqual([]);
    expect((await bus.healthCheck()).status).toBe('healthy');
  }, 120_000);

  it('a target subscribing late gets what waited for it; exactly_once dedupes', async () => {
    const bus = await make();
    const target = randomName('late');
    const waiting = [0, 1, 2].map((i) => message('w', 'cl.task', { pattern: 'point_to_point', componentTarget: target, payload: { i } }));
    for (const w of waiting) await bus.publish(w);
    const once = message('w', 'cl.task', { pattern: 'point_to_point', componentTarget: target, deliveryMode: 'exactly_once' });
    await expect(bus.publish(once)).resolves.toMatchObject({ duplicate: false });
    await expect(bus.publish(once)).resolves.toMatchObject({ duplicate: true });
    const got: string[] = [];
    await bus.subscribe('*', (e) => void got.push(e.messageId), { componentId: target, targetedOnly: true });
    await waitFor(() => got.length === 4, 'the waiting messages', 60_000);
    expect(got).toEqual([...waiting, once].map((w) => w.messageId));
  }, 120_000);

  it('an idle group polls each partition a few times a second (not every 50 ms), and still gets what comes after', async () => {
    // Only this test's buses poll from here on.
    await Promise.allSettled(buses.splice(0).map((b) => b.close()));
    const xreadgroupCalls = async (): Promise<number> => {
      let calls = 0;
      for (const node of cluster.nodes) {
        const r = new Redis(node.port, '127.0.0.1');
        const stats = String(await r.info('commandstats'));
        r.disconnect();
        calls += Number(/cmdstat_xreadgroup:calls=(\d+)/.exec(stats)?.[1] ?? 0);
      }
      return calls;
    };
    const streamPrefix = randomName('cl');
    const consumer = await make(streamPrefix);
    const got: string[] = [];
    await consumer.subscribe('cl.idle', (e) => void got.push(e.messageId), { componentId: randomName('idle') });
    const first = message('i', 'cl.idle');
    await consumer.publish(first);
    await waitFor(() => got.length === 1, 'the first message', 60_000);
    // Idle: a poll of the 8 partitions every 50 ms would be about 320 reads in 2 s; the pause
    // doubles up to 500 ms, so a handful of polls (a load that slows the loop only lowers it).
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const before = await xreadgroupCalls();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const idleReads = (await xreadgroupCalls()) - before;
    expect(idleReads, `XREADGROUP calls in 2 s of idle`).toBeLessThanOrEqual(8 * 10);
    // After the quiet spell: from another process's bus (the next poll finds it) and from its own.
    const other = await make(streamPrefix);
    const later = [message('i', 'cl.idle'), message('j', 'cl.idle')];
    await other.publish(later[0]!);
    await consumer.publish(later[1]!);
    await waitFor(() => got.length === 3, 'the messages after the idle spell', 60_000);
    expect(got.slice().sort()).toEqual([first, ...later].map((m) => m.messageId).sort());
  }, 120_000);
});
