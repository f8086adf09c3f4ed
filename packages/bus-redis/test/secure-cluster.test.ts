/**
 * Redis Cluster with a password on every node (a local 3-master cluster of the test's own): the
 * bus logs in to each node and delivers; a wrong password is an `AuthenticationError` at connect,
 * without the password in it.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { startCluster, type LocalCluster } from './support/redis-cluster.js';

const PASSWORD = 'Cluster-S3cret-6d2f';
const WRONG = 'Cluster-Wr0ng-9a1e';
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startCluster(3, PASSWORD);
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
});

describe('Redis Cluster with a password', () => {
  it('logs in to every node and delivers', async () => {
    const bus = await RedisMessageBus.connect({ url: cluster.url, cluster: true, password: PASSWORD, streamPrefix: randomName('csec') });
    try {
      const got: string[] = [];
      await bus.subscribe('csec.work', async (e) => void got.push(e.messageId), { componentId: 'w' });
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await bus.publish({ sessionId: `s${i}`, eventType: 'csec.work', componentSource: 'test', payload: { i } })).messageId);
      await waitFor(() => ids.every((id) => got.includes(id)), 'delivery on the cluster', 30_000);
      expect(inspect(bus, { depth: null }) + JSON.stringify(await bus.healthCheck())).not.toContain(PASSWORD);
    } finally {
      await bus.close();
    }
  }, 60_000);

  it('a wrong password is an AuthenticationError without the password', async () => {
    const error = await RedisMessageBus.connect({ url: cluster.url, cluster: true, password: WRONG, streamPrefix: randomName('csec'), connectTimeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect((error as Error).message).toMatch(/refused the login of the default user: .*WRONGPASS/);
    expect(inspect(error, { depth: null })).not.toContain(WRONG);
  }, 60_000);
});
