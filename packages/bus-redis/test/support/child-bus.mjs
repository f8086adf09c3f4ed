// The module the conformance suite's child processes import: a Redis bus on the server the options
// name (the harness's own, or the shared one the parent found: WW_REDIS_TEST_URL).
import { RedisMessageBus } from '../../dist/index.js';

export function makeBus(options) {
  return RedisMessageBus.connect({ url: process.env.WW_REDIS_TEST_URL, ...(process.env.WW_REDIS_TEST_CLUSTER ? { cluster: true } : {}), ...options });
}
