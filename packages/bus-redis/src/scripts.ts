/**
 * The Lua scripts of the bus: each touches keys of one hash tag only (one Cluster slot), so every
 * step that must be atomic is one script. ioredis sends them by SHA and falls back to the source
 * when the server does not know it (after a restart), so a server that lost its script cache
 * needs nothing from us. Their contracts are in PROTOCOL.md.
 */
import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.js';

const ID_HELPERS = `
local function parseId(id)
  local d = string.find(id, '-', 1, true)
  if not d then return tonumber(id), 0 end
  return tonumber(string.sub(id, 1, d - 1)), tonumber(string.sub(id, d + 1))
end
local function idLess(a, b)
  local am, as = parseId(a)
  local bm, bs = parseId(b)
  if am ~= bm then return am < bm end
  return as < bs
end
local function nextId(id)
  local m, s = parseId(id)
  return string.format('%.0f-%.0f', m, s + 1)
end
local function fields(list)
  local out = {}
  for i = 1, #list, 2 do out[list[i]] = list[i + 1] end
  return out
end
`;

/**
 * Publish. KEYS: events, token, dedupe, targets, subscribed. ARGV: envelope JSON, token ttl ms,
 * dedupe ttl ms ('0': no dedupe), target component ('' none), only-group ('' none).
 * Returns the entry id, or 'dup' for an `exactly_once` id seen within the window. A call whose token
 * was already used returns what the first call returned (a resend after a lost reply stores nothing).
 */
const PUBLISH = `
local prior = redis.call('GET', KEYS[2])
if prior then return prior end
if ARGV[3] ~= '0' then
  if not redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[3]) then
    redis.call('SET', KEYS[2], 'dup', 'PX', ARGV[2])
    return 'dup'
  end
end
local id
if ARGV[5] ~= '' then
  id = redis.call('XADD', KEYS[1], '*', 'envelope', ARGV[1], 'group', ARGV[5])
else
  id = redis.call('XADD', KEYS[1], '*', 'envelope', ARGV[1])
end
if ARGV[4] ~= '' and redis.call('SISMEMBER', KEYS[5], ARGV[4]) == 0 then
  redis.call('HSETNX', KEYS[4], ARGV[4], id)
end
redis.call('SET', KEYS[2], id, 'PX', ARGV[2])
return id
`;

/**
 * Resend of a plain publish whose reply was lost. KEYS: events. ARGV: lower bound id (the entry, if
 * stored, is after it), token, envelope JSON. Returns the id of the entry carrying the token, adding
 * it first when it is not there; an error when more than 200 000 entries follow the bound.
 */
const RESEND = `
local from = '(' .. ARGV[1]
local seen = 0
while true do
  local page = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 1000)
  for _, e in ipairs(page) do
    local f = e[2]
    for i = 1, #f, 2 do
      if f[i] == 'token' and f[i + 1] == ARGV[2] then return e[1] end
    end
  end
  if #page < 1000 then break end
  seen = seen + #page
  if seen > 200000 then return redis.error_reply('ERR woodwork resend: too many entries to search') end
  from = '(' .. page[#page][1]
end
return redis.call('XADD', KEYS[1], '*', 'envelope', ARGV[3], 'token', ARGV[2])
`;

/** Fenced ack. KEYS: events, lease. ARGV: group, lease value, ids... Returns acked count, or -1 when the lease is not ours. */
const ACK = `
if redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
return redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, 3))
`;

/**
 * Records an attempt start on the server (its delivery count), fenced. KEYS: events, lease.
 * ARGV: group, consumer, lease value, id, attempt. Returns 1, or -1 when the lease is not ours.
 */
const BEGIN = `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return -1 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[4], 'RETRYCOUNT', ARGV[5], 'JUSTID')
return 1
`;

/**
 * Lease of a partition. KEYS: lease. ARGV: value, ttl ms, mode. `acquire` sets it when free (1) or
 * keeps it when it is already this value (1), else 0; `renew` extends it when it is this value (1),
 * else 0; `release` deletes it when it is this value (1), else 0.
 */
const LEASE = `
local cur = redis.call('GET', KEYS[1])
if ARGV[3] == 'release' then
  if cur == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
  return 0
end
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if ARGV[3] == 'acquire' and not cur then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
`;

/**
 * Membership of a group's consumers, by server time. KEYS: members, group-active. ARGV: member,
 * ttl ms, group key, mode ('join' | 'leave'). Returns the live members.
 */
const HEARTBEAT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[4] == 'leave' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[2], now, ARGV[3])
else
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('ZADD', KEYS[2], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
end
return redis.call('ZRANGE', KEYS[1], 0, -1)
`;

/**
 * Creates a group on one partition. KEYS: events, targets, subscribed. ARGV: group, component
 * ('' none), take-waiting ('1': start at the first entry waiting for the component), start id
 * ('' : '$' or the waiting entry). Returns { created (1/0), last generated id }.
 */
const CREATE_GROUP =
  ID_HELPERS +
  `
local start = ARGV[4]
if start == '' then
  start = '$'
  if ARGV[3] == '1' and ARGV[2] ~= '' then
    local first = redis.call('HGET', KEYS[2], ARGV[2])
    if first then
      local m, s = parseId(first)
      if s > 0 then start = string.format('%.0f-%.0f', m, s - 1) else start = string.format('%.0f-18446744073709551615', m - 1) end
    end
  end
end
local ok = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], start, 'MKSTREAM')
local created = 1
if type(ok) == 'table' and ok.err then
  if string.find(ok.err, 'BUSYGROUP', 1, true) then created = 0 else return redis.error_reply(ok.err) end
end
if ARGV[2] ~= '' then
  redis.call('SADD', KEYS[3], ARGV[2])
  redis.call('HDEL', KEYS[2], ARGV[2])
end
local info = fields(redis.call('XINFO', 'STREAM', KEYS[1]))
return { created, info['last-generated-id'] }
`;

/**
 * Trims a partition below what every group still needs. KEYS: events, targets. ARGV: cutoff id
 * (entries at or after it are kept whatever the groups did). Keeps: each group's oldest pending
 * entry and everything it has not read yet, the first entry waiting for each absent target.
 * Returns the number of entries removed.
 */
const TRIM =
  ID_HELPERS +
  `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local minId = ARGV[1]
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local f = fields(g)
  local candidate
  if tonumber(f['pending']) > 0 then
    candidate = redis.call('XPENDING', KEYS[1], f['name'])[2]
  else
    candidate = nextId(f['last-delivered-id'])
  end
  if idLess(candidate, minId) then minId = candidate end
end
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
  if idLess(v, minId) then minId = v end
end
return redis.call('XTRIM', KEYS[1], 'MINID', minId)
`;

export interface Scripts {
  wwPublish(keys: [string, string, string, string, string], args: [string, number, number, string, string]): Promise<string>;
  wwResend(events: string, lowerBound: string, token: string, text: string): Promise<string>;
  wwAck(events: string, lease: string, group: string, leaseValue: string, ids: string[]): Promise<number>;
  wwBegin(events: string, lease: string, group: string, consumer: string, leaseValue: string, id: string, attempt: number): Promise<number>;
  wwLease(lease: string, value: string, ttlMs: number, mode: 'acquire' | 'renew' | 'release'): Promise<number>;
  wwHeartbeat(members: string, groupActive: string, member: string, ttlMs: number, groupKey: string, mode: 'join' | 'leave'): Promise<string[]>;
  wwCreateGroup(events: string, targets: string, subscribed: string, group: string, component: string, takeWaiting: boolean, start: string): Promise<[number, string]>;
  wwTrim(events: string, targets: string, cutoffId: string): Promise<number>;
}

type Call = (...args: unknown[]) => Promise<unknown>;

/**
 * Typed calls of the scripts on a client: `EVALSHA`, and `EVAL` with the source when the server
 * answers NOSCRIPT (a restarted server lost its script cache). Not ioredis's `defineCommand`: in a
 * pipeline that checks or sends the whole source with every call.
 */
export function defineScripts(client: RedisClient): Scripts {
  const define = (_name: string, numberOfKeys: number, lua: string): Call => {
    const sha = createHash('sha1').update(lua).digest('hex');
    return async (...args: unknown[]) => {
      const argv = args as Array<string | number>;
      try {
        return await client.evalsha(sha, numberOfKeys, ...argv);
      } catch (error) {
        if (!/NOSCRIPT/.test(String((error as Error)?.message ?? error))) throw error;
        return client.eval(lua, numberOfKeys, ...argv);
      }
    };
  };
  const publish = define('wwPublish', 5, PUBLISH);
  const resend = define('wwResend', 1, RESEND);
  const ack = define('wwAck', 2, ACK);
  const begin = define('wwBegin', 2, BEGIN);
  const lease = define('wwLease', 1, LEASE);
  const heartbeat = define('wwHeartbeat', 2, HEARTBEAT);
  const createGroup = define('wwCreateGroup', 3, CREATE_GROUP);
  const trim = define('wwTrim', 2, TRIM);
  return {
    wwPublish: async (keys, args) => String(await publish(...keys, ...args)),
    wwResend: async (events, lowerBound, token, text) => String(await resend(events, lowerBound, token, text)),
    wwAck: async (events, leaseKey, group, value, ids) => Number(await ack(events, leaseKey, group, value, ...ids)),
    wwBegin: async (events, leaseKey, group, consumer, value, id, attempt) => Number(await begin(events, leaseKey, group, consumer, value, id, attempt)),
    wwLease: async (key, value, ttlMs, mode) => Number(await lease(key, value, ttlMs, mode)),
    wwHeartbeat: async (members, active, member, ttlMs, groupKey, mode) => ((await heartbeat(members, active, member, ttlMs, groupKey, mode)) as string[]).map(String),
    wwCreateGroup: async (events, targets, subscribed, group, component, takeWaiting, start) => {
      const [created, last] = (await createGroup(events, targets, subscribed, group, component, takeWaiting ? '1' : '0', start)) as [number, string];
      return [Number(created), String(last)];
    },
    wwTrim: async (events, targets, cutoff) => Number(await trim(events, targets, cutoff)),
  };
}
