/**
 * Logins against a redis-server of the test's own (`--requirepass`, ACL users): password and ACL
 * user in the URL or as options; a wrong password, a missing one, a revoked one and a missing ACL
 * permission fail with core's typed errors after a bounded number of connection attempts, which the
 * server's own counter (`INFO stats` total_connections_received) shows; never a reconnect loop.
 * No error, log line or health report carries the password.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AuthenticationError, PermissionDeniedError, type BusLogger } from '@woodwork/bus-core';
import { randomName, sleep, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus, redisAclRules } from '../src/index.js';
import { MAX_REFUSED_CONNECTS } from '../src/access-errors.js';
import { OwnRedisServer } from './support/redis-server.js';

const ADMIN_PASSWORD = 'Adm1n-S3cret-e5a0b7';
const APP_PASSWORD = 'App-S3cret-77f01c9d';
const WRONG_PASSWORD = 'Wr0ng-S3cret-1d2c3b';

let server: OwnRedisServer;
let admin: Redis;

async function connectionsReceived(): Promise<number> {
  const info = await admin.info('stats');
  return Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
}

function recordingLogger(): BusLogger & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string, context?: Record<string, unknown>) => void lines.push(`${level} ${message} ${inspect(context, { depth: null })}`);
  return { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
}

function expectNoSecret(text: string, ...secrets: string[]): void {
  for (const secret of secrets) expect(text).not.toContain(secret);
}

beforeAll(async () => {
  server = await OwnRedisServer.start({ args: ['--requirepass', ADMIN_PASSWORD] });
  admin = new Redis({ host: '127.0.0.1', port: server.port, password: ADMIN_PASSWORD });
  await admin.call('ACL', 'SETUSER', 'app', 'on', `>${APP_PASSWORD}`, ...redisAclRules('auth-*'));
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

async function roundTrip(bus: RedisMessageBus): Promise<void> {
  const got: string[] = [];
  await bus.subscribe('auth.test', async (m) => void got.push(m.messageId), { componentId: 'c1' });
  const { messageId } = await bus.publish({ eventType: 'auth.test', sessionId: 's1', payload: { n: 1 }, componentSource: 'auth-test' });
  await waitFor(() => got.includes(messageId), 'the round trip', 10_000);
}

describe('Redis logins', () => {
  it('works with the password in the URL (requirepass) and with an ACL user as options', async () => {
    const viaUrl = await RedisMessageBus.connect({ url: `redis://:${encodeURIComponent(ADMIN_PASSWORD)}@127.0.0.1:${server.port}`, streamPrefix: randomName('auth') });
    const viaOptions = await RedisMessageBus.connect({ url: `redis://127.0.0.1:${server.port}`, username: 'app', password: APP_PASSWORD, streamPrefix: randomName('auth') });
    const aclInUrl = await RedisMessageBus.connect({ url: `redis://app:${APP_PASSWORD}@127.0.0.1:${server.port}`, streamPrefix: randomName('auth') });
    try {
      for (const bus of [viaUrl, viaOptions, aclInUrl]) await roundTrip(bus);
      // The resolved options keep no password: not in the url, and the credentials print redacted.
      const shown =
        inspect(viaUrl.options, { depth: null }) + JSON.stringify(viaUrl.options) + inspect(viaOptions.options, { depth: null }) + inspect(viaUrl, { depth: null }) + inspect(viaOptions, { depth: null });
      expect(inspect(viaOptions)).toMatch(/^RedisMessageBus \{ server: "redis:\/\/127\.0\.0\.1:\d+", streamPrefix: "auth-/);
      expectNoSecret(shown, ADMIN_PASSWORD, APP_PASSWORD);
      const health = JSON.stringify(await viaUrl.healthCheck());
      expect(health).toContain(`127.0.0.1:${server.port}`);
      expectNoSecret(health, ADMIN_PASSWORD);
    } finally {
      await Promise.all([viaUrl.close(), viaOptions.close(), aclInUrl.close()]);
    }
  });

  it('a wrong password is an AuthenticationError after one connection attempt, with no secret in it', async () => {
    const before = await connectionsReceived();
    const logger = recordingLogger();
    const error = await RedisMessageBus.connect({ url: `redis://app:${WRONG_PASSWORD}@127.0.0.1:${server.port}`, streamPrefix: randomName('auth'), logger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthenticationError);
    const auth = error as AuthenticationError;
    expect(auth.code).toBe('AUTHENTICATION');
    expect(auth.user).toBe('app');
    expect(auth.server).toBe(`redis://app:***@127.0.0.1:${server.port}`);
    expect(auth.message).toMatch(/refused the login of user "app".*WRONGPASS/);
    expectNoSecret(inspect(error, { depth: null }) + String(auth.stack) + JSON.stringify(error) + logger.lines.join('\n'), WRONG_PASSWORD);
    await sleep(1_500); // a reconnect loop would go on here
    expect((await connectionsReceived()) - before).toBe(1); // the bus's one attempt (admin's connection was open before)
  });

  it('a wrong password given as an option, and no password at all, are AuthenticationErrors too', async () => {
    const wrong = await RedisMessageBus.connect({ url: `redis://127.0.0.1:${server.port}`, username: 'app', password: WRONG_PASSWORD, streamPrefix: randomName('auth') }).catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(AuthenticationError);
    expectNoSecret(inspect(wrong, { depth: null }), WRONG_PASSWORD);
    const none = await RedisMessageBus.connect({ url: `redis://127.0.0.1:${server.port}`, streamPrefix: randomName('auth') }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(AuthenticationError);
    expect((none as Error).message).toMatch(/NOAUTH/);
  });

  it('a user without a permission the bus needs gets a PermissionDeniedError naming the command and key', async () => {
    await admin.call('ACL', 'SETUSER', 'nohsetnx', 'on', `>${APP_PASSWORD}`, ...redisAclRules('auth-*'), '-hsetnx');
    const prefix = randomName('auth');
    const error = await RedisMessageBus.connect({ url: `redis://nohsetnx@127.0.0.1:${server.port}`, password: APP_PASSWORD, streamPrefix: prefix }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    const denied = error as PermissionDeniedError;
    expect(denied.code).toBe('PERMISSION_DENIED');
    expect(denied.operation).toBe(`HSETNX ${prefix}:{${prefix}}:meta`);
    expect(denied.user).toBe('nohsetnx');
    expect(denied.message).toContain(`refused HSETNX ${prefix}:{${prefix}}:meta to user "nohsetnx"`);
    expectNoSecret(inspect(error, { depth: null }), APP_PASSWORD);
  });

  it('a running bus whose password is revoked stops reconnecting after a bounded number of refusals; calls fail typed', async () => {
    await admin.call('ACL', 'SETUSER', 'revoked', 'on', `>${APP_PASSWORD}`, ...redisAclRules('auth-*'));
    const logger = recordingLogger();
    const bus = await RedisMessageBus.connect({ url: `redis://revoked@127.0.0.1:${server.port}`, password: APP_PASSWORD, streamPrefix: randomName('auth'), logger });
    try {
      await roundTrip(bus); // a group reader and the notices subscriber are connected too
      const clients = ((await admin.call('CLIENT', 'LIST')) as string).split('\n').filter((line) => line.includes('user=revoked')).length;
      expect(clients).toBeGreaterThanOrEqual(3);
      await admin.call('ACL', 'SETUSER', 'revoked', 'resetpass', `>${WRONG_PASSWORD}`);
      const before = await connectionsReceived();
      await admin.call('CLIENT', 'KILL', 'USER', 'revoked');
      let error: unknown;
      await waitFor(
        async () => {
          error = await bus.publish({ eventType: 'auth.test', sessionId: 's1', payload: {}, componentSource: 'auth-test' }).then(() => undefined, (err: unknown) => err);
          if (!(error instanceof AuthenticationError)) await sleep(100);
          return error instanceof AuthenticationError;
        },
        'publish to fail with AuthenticationError',
        20_000,
      );
      expect((error as AuthenticationError).user).toBe('revoked');
      const health = await bus.healthCheck();
      expect(health.status).toBe('unhealthy');
      expect(health.error).toMatch(/refused the login of user "revoked"/);
      // Every connection gave up after MAX_REFUSED_CONNECTS refusals in a row: the count stops growing.
      await sleep(2_000);
      const attempts = (await connectionsReceived()) - before;
      await sleep(2_000);
      expect((await connectionsReceived()) - before).toBe(attempts);
      expect(attempts).toBeGreaterThan(0);
      expect(attempts).toBeLessThanOrEqual(clients * MAX_REFUSED_CONNECTS);
      expectNoSecret(inspect(error, { depth: null }) + JSON.stringify(health) + logger.lines.join('\n'), APP_PASSWORD, WRONG_PASSWORD);
    } finally {
      await bus.close();
    }
  });
});
