// The conformance suite's child processes import this: a Redis bus wrapped by instrumentBus (with the SDK
// and W3C propagation of child-sdk.mjs), on the
// server the options name (the harness's own, or the shared one the parent found: WW_REDIS_TEST_URL).
import { RedisMessageBus } from '@woodwork/bus-redis';
import { instrumentBus } from '../../dist/index.js';
import './child-sdk.mjs';

export async function makeBus(options) {
  return instrumentBus(await RedisMessageBus.connect({ url: process.env.WW_REDIS_TEST_URL, ...options }));
}
