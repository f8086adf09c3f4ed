/**
 * `npm run test:slow`: every part of the conformance suite but the server faults (which restart
 * the server) with an ACL user that has exactly the documented rules (`redisAclRules`), child
 * processes included (they log in as the same user), on a `redis-server --requirepass` of its own;
 * then the server's ACL LOG must be empty. `npm test` runs the short form
 * (test/acl-conformance.test.ts: delivery, retries, dead letters, order, close, dedupe).
 */
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { Redis } from 'ioredis';
import { describeBusConformance, type ConformanceSuite } from '@woodwork/bus-conformance';
import { RedisMessageBus, redisAclRules } from '../src/index.js';
import { OwnRedisServer } from '../test/support/redis-server.js';

const ADMIN_PASSWORD = 'admin-pw-AclFull-2b8e';
const APP_PASSWORD = 'app-pw-AclFull-c4d1a9';
const server = await OwnRedisServer.start({ args: ['--requirepass', ADMIN_PASSWORD] });
const admin = new Redis({ port: server.port, host: '127.0.0.1', password: ADMIN_PASSWORD });
await admin.call('ACL', 'SETUSER', 'app', 'on', `>${APP_PASSWORD}`, ...redisAclRules('acl-*'));
const url = `redis://app:${APP_PASSWORD}@127.0.0.1:${server.port}`;
process.env['WW_REDIS_ACL_URL'] = url;

afterAll(async () => {
  const log = (await admin.call('ACL', 'LOG')) as unknown[];
  admin.disconnect();
  await server.stop();
  if (log.length > 0) throw new Error(`the ACL user was refused something: ${JSON.stringify(log.slice(0, 3))}`);
});

const suites: ConformanceSuite[] = [
  'delivery-and-routing',
  'retries-and-dead-letters',
  'failures-and-replicas',
  'session-order',
  'lifecycle',
  'groups-and-replicas',
  'limits-and-timing',
  'dedupe',
  'dead-letters-and-health',
  'close-and-delete',
  'cross-instance',
  'bad-input',
  'persistence',
];

describeBusConformance({
  name: 'redis, every part with the documented ACL user',
  features: { persistence: true, crossProcess: true, serverRestart: false },
  suites,
  makeBus: (options) => RedisMessageBus.connect({ url, ...options, streamPrefix: `acl-${String(options.streamPrefix ?? 'woodwork')}` }),
  childBusModule: fileURLToPath(new URL('./acl-child-bus.mjs', import.meta.url)),
  fastRecoveryOptions: { claimIdleMs: 1_500 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
});
