/**
 * The conformance suite's delivery, retry, dead-letter, session-order and close parts with an ACL
 * user that has exactly the rules the README documents (`redisAclRules`), on a redis-server of the
 * test's own with `requirepass` set: everything works with them. Then: after the run, the server's
 * ACL LOG holds no refusal (a rule missing from the list would show there even where the bus
 * swallowed the error).
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { RedisMessageBus, redisAclRules } from '../src/index.js';
import { OwnRedisServer } from './support/redis-server.js';

const ADMIN_PASSWORD = 'admin-pw-Acl-7c1f';
const APP_PASSWORD = 'app-pw-Acl-93be2d';
const server = await OwnRedisServer.start({ args: ['--requirepass', ADMIN_PASSWORD] });
const admin = new Redis({ port: server.port, host: '127.0.0.1', password: ADMIN_PASSWORD });
// The suite gives every test its own prefix `cf-<random>`; the bus runs them under `acl-cf-...`,
// which the user's key pattern `~acl-*` (the documented `~<prefix>:*`, for a family of prefixes) covers.
await admin.call('ACL', 'SETUSER', 'app', 'on', `>${APP_PASSWORD}`, ...redisAclRules('acl-*'));

afterAll(async () => {
  const log = (await admin.call('ACL', 'LOG')) as unknown[];
  admin.disconnect();
  await server.stop();
  if (log.length > 0) throw new Error(`the ACL user was refused something: ${JSON.stringify(log.slice(0, 3))}`);
});

describeBusConformance({
  name: 'redis with the documented ACL user',
  features: { persistence: true, crossProcess: false, serverRestart: false },
  suites: ['delivery-and-routing', 'retries-and-dead-letters', 'dead-letters-and-health', 'session-order', 'close-and-delete', 'dedupe'],
  makeBus: (options) =>
    RedisMessageBus.connect({
      url: `redis://app@127.0.0.1:${server.port}`,
      password: APP_PASSWORD,
      ...options,
      streamPrefix: `acl-${String(options.streamPrefix ?? 'woodwork')}`,
    }),
  fastRecoveryOptions: { claimIdleMs: 1_500 },
  recoveryIdleMs: 1_500,
  // 100 ms (the suite default), not more: on one server every group reads all its partitions in one
  // XREADGROUP, oldest entry first, so nothing published before a sentinel arrives after it.
  timing: { quietMs: 100 },
});

describe('the README', () => {
  it('prints exactly the rules this test runs with (redisAclRules)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`ACL SETUSER orders on >PASSWORD ${redisAclRules('orders').join(' ')}\n`);
  });
});
