/**
 * The least a Redis ACL user needs to run a bus on one prefix: the commands the backend sends (its
 * Lua scripts' calls included) and the key and channel patterns of the prefix (every key starts
 * with `<prefix>:`, keys.ts). The README's "Production" section prints these rules, and the ACL
 * test runs the conformance suite with a user that has exactly them.
 */

/** Commands the backend sends, directly or from its scripts (subcommands where a command has them). */
export const REDIS_ACL_COMMANDS: readonly string[] = Object.freeze([
  // connection set-up: ioredis's ready check, SELECT for a db in the URL, connection names;
  // readers' ids for CLIENT UNBLOCK
  'info',
  'select',
  'client|setname',
  'client|id',
  'client|unblock',
  'quit',
  // the bus's Lua scripts (EVALSHA, with EVAL when the server does not know a script yet)
  'evalsha',
  'eval',
  // streams
  'xadd',
  'xreadgroup',
  // the one read loop of a bus (read-loop.ts): a partition's last id (XREVRANGE, in a script) and
  // the XREAD BLOCK doorbell while no group has anything to read
  'xread',
  'xrevrange',
  'xack',
  'xautoclaim',
  'xclaim',
  'xgroup|create',
  'xgroup|destroy',
  'xinfo|stream',
  'xinfo|groups',
  'xpending',
  'xrange',
  'xlen',
  'xdel',
  'xtrim',
  // registries, leases, tokens, dedupe ids
  'hsetnx',
  'hget',
  'hgetall',
  'hdel',
  'hvals',
  'zadd',
  'zrem',
  'zrange',
  'zcount',
  'zremrangebyscore',
  'sadd',
  'srem',
  'sismember',
  'get',
  'set',
  'del',
  'exists',
  'pexpire',
  'time',
  // deleteSessionQueue's notices between buses
  'publish',
  'subscribe',
]);

/**
 * The `ACL SETUSER` rules for a user of the buses of `prefix` (a stream prefix, or a glob such as
 * `tenant-a*` for a family of prefixes): `resetkeys resetchannels -@all`, the commands above, the
 * keys `~<prefix>:*` and the channels `&<prefix>:*`. Add `on` and `><password>` to log in.
 */
export function redisAclRules(prefix: string): string[] {
  const pattern = /[*?[]/.test(prefix) ? prefix : `${prefix}:*`;
  return ['resetkeys', 'resetchannels', '-@all', ...REDIS_ACL_COMMANDS.map((c) => `+${c}`), `~${pattern}`, `&${pattern}`];
}
