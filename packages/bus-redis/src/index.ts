import { RedisMessageBus } from './redis-bus.js';
import type { RedisBusOptions } from './options.js';

export { RedisMessageBus } from './redis-bus.js';
export { REDIS_OPTIONS, REDIS_OPTION_KEYS, DEFAULT_REDIS_URL, type RedisBusOptions, type ResolvedRedisBusOptions } from './options.js';
export { REDIS_ACL_COMMANDS, redisAclRules } from './acl.js';
export { LAYOUT_VERSION, layoutFor, eventsKey, leaseKey, groupKeyOf, partitionOf, type Layout } from './keys.js';

/** The factory every backend package exports under this name; the adapter loads backends by it. */
export function createMessageBus(options?: RedisBusOptions): Promise<RedisMessageBus> {
  return RedisMessageBus.connect(options);
}
