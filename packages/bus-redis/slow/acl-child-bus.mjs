// The child processes of slow/acl-conformance.test.ts: a bus logged in as the ACL user
// (WW_REDIS_ACL_URL carries it), its prefix under `acl-` as in the parent.
import { RedisMessageBus } from '../dist/index.js';

export function makeBus(options) {
  return RedisMessageBus.connect({ url: process.env.WW_REDIS_ACL_URL, ...options, streamPrefix: `acl-${options.streamPrefix ?? 'woodwork'}` });
}
