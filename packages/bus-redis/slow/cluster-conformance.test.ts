/**
 * `npm run test:slow`: the whole conformance suite on a local 3-master Redis Cluster (free ports,
 * own folders), with persistence and crossProcess on (child processes join the same cluster).
 * serverRestart is off here: restarting a cluster node is another fault (the standalone run in
 * `npm test` covers the server tests on a redis-server of its own).
 */
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { startCluster } from '../test/support/redis-cluster.js';

const cluster = await startCluster();
afterAll(() => cluster.stop());
process.env['WW_REDIS_TEST_URL'] = cluster.url;
process.env['WW_REDIS_TEST_CLUSTER'] = '1';

describeBusConformance({
  name: 'redis cluster',
  features: { persistence: true, crossProcess: true, serverRestart: false },
  makeBus: (options) => RedisMessageBus.connect({ url: cluster.url, cluster: true, ...options }),
  childBusModule: fileURLToPath(new URL('../test/support/child-bus.mjs', import.meta.url)),
  fastRecoveryOptions: { claimIdleMs: 1_500 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 300 },
});
