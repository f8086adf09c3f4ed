/**
 * The whole conformance suite over Redis Streams, every feature on. Buses connect to the shared
 * Redis (REDIS_URL, else 127.0.0.1:6379, else testcontainers, else a failure saying how to start
 * one); the tests that kill, pause or restart a server get a `redis-server` of their own
 * (`ownServer`: free port, own folder, AOF on).
 */
import { fileURLToPath } from 'node:url';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { ownServerControls, sharedRedisUrl } from './support/redis-server.js';

const sharedUrl = await sharedRedisUrl();
// Child consumer processes inherit it.
process.env['WW_REDIS_TEST_URL'] = sharedUrl;

describeBusConformance({
  name: 'redis',
  features: { persistence: true, crossProcess: true, serverRestart: true },
  makeBus: (options) => RedisMessageBus.connect({ url: sharedUrl, ...options }),
  ownServer: ownServerControls,
  childBusModule: fileURLToPath(new URL('./support/child-bus.mjs', import.meta.url)),
  fastRecoveryOptions: { claimIdleMs: 1_500 },
  recoveryIdleMs: 1_500,
  // 100 ms (the suite default), not more: on one server every group reads all its partitions in one
  // XREADGROUP, oldest entry first, so nothing published before a sentinel arrives after it.
  timing: { quietMs: 100 },
  faultScenarios: ['server-kill-9', 'server-wiped', 'server-paused', 'server-down', 'consumer-killed', 'trim-while-lagging', 'poison-message', 'hot-session'],
});
