/**
 * The whole conformance suite through the wrapper over Redis Streams, every feature on (the same
 * harness as packages/bus-redis/test/conformance.test.ts, each bus wrapped by `instrumentBus`, child
 * processes included). No SDK: the wrapped bus must behave exactly as the bus.
 */
import { fileURLToPath } from 'node:url';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '@woodwork/bus-redis';
import { ownServerControls, sharedRedisUrl } from '../../bus-redis/test/support/redis-server.js';
import { instrumentBus } from '../src/index.js';

const sharedUrl = await sharedRedisUrl();
process.env['WW_REDIS_TEST_URL'] = sharedUrl;

describeBusConformance({
  name: 'otel over redis',
  features: { persistence: true, crossProcess: true, serverRestart: true },
  makeBus: async (options) => instrumentBus(await RedisMessageBus.connect({ url: sharedUrl, ...options })),
  ownServer: ownServerControls,
  childBusModule: fileURLToPath(new URL('./support/child-bus-redis.mjs', import.meta.url)),
  fastRecoveryOptions: { claimIdleMs: 1_500 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
});
