/**
 * The whole conformance suite through the wrapper over Redis Streams, every feature on (the same
 * harness as packages/bus-redis/test/conformance.test.ts, each bus wrapped by `instrumentBus`, child
 * processes included, the SDK recording and propagating: support/instrumented-conformance.ts).
 */
import { fileURLToPath } from 'node:url';
import { RedisMessageBus } from '@woodwork/bus-redis';
import { ownServerControls, sharedRedisUrl } from '../../bus-redis/test/support/redis-server.js';
import { describeInstrumentedConformance } from './support/instrumented-conformance.js';

const sharedUrl = await sharedRedisUrl();
process.env['WW_REDIS_TEST_URL'] = sharedUrl;

describeInstrumentedConformance({
  name: 'otel over redis',
  connect: (options) => RedisMessageBus.connect({ url: sharedUrl, ...options }),
  ownServer: ownServerControls,
  childBusModule: fileURLToPath(new URL('./support/child-bus-redis.mjs', import.meta.url)),
  fastRecoveryOptions: { claimIdleMs: 1_500 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
});
