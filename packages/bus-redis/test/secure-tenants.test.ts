/**
 * Tenants on one redis-server of the test's own: two buses with different `streamPrefix`, each
 * logged in as an ACL user with the documented rules for its own prefix only (`redisAclRules`).
 * They never see each other's messages, dead letters, health groups or consumer groups; and one
 * tenant's credentials cannot read or write the other's keys (PermissionDeniedError naming the
 * command and key), nor hear its channel. Also: no password in errors, logs, health or metrics.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { PermissionDeniedError, type BusLogger, type MessageEnvelope, type MetricEvent } from '@woodwork/bus-core';
import { FAST_RETRY, randomName, sleep, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus, redisAclRules } from '../src/index.js';
import { OwnRedisServer } from './support/redis-server.js';

const PASSWORD_A = 'Tenant-A-S3cret-5b1e';
const PASSWORD_B = 'Tenant-B-S3cret-c8d4';
const ADMIN_PASSWORD = 'Tenants-Adm1n-0a9f';

let server: OwnRedisServer;
let admin: Redis;
const prefixA = randomName('tenant-a');
const prefixB = randomName('tenant-b');

beforeAll(async () => {
  server = await OwnRedisServer.start({ args: ['--requirepass', ADMIN_PASSWORD] });
  admin = new Redis({ host: '127.0.0.1', port: server.port, password: ADMIN_PASSWORD });
  await admin.call('ACL', 'SETUSER', 'tenant-a', 'on', `>${PASSWORD_A}`, ...redisAclRules(prefixA));
  await admin.call('ACL', 'SETUSER', 'tenant-b', 'on', `>${PASSWORD_B}`, ...redisAclRules(prefixB));
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

function collectingLogger(): BusLogger & { lines: string[] } {
  const lines: string[] = [];
  const record = (level: string) => (message: string, context?: Record<string, unknown>) => void lines.push(`${level} ${message} ${inspect(context, { depth: null })}`);
  return { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
}

describe('tenants on one Redis', () => {
  it('two prefixes with their own ACL users never see each other, and one cannot reach the other', async () => {
    const logs = collectingLogger();
    const metrics: MetricEvent[] = [];
    const common = { retry: FAST_RETRY, maxRetries: 1, logger: logs, onMetric: (e: MetricEvent) => void metrics.push(e) };
    const a = await RedisMessageBus.connect({ ...common, url: `redis://tenant-a:${PASSWORD_A}@127.0.0.1:${server.port}`, streamPrefix: prefixA });
    const b = await RedisMessageBus.connect({ ...common, url: `redis://tenant-b@127.0.0.1:${server.port}`, password: PASSWORD_B, streamPrefix: prefixB });
    try {
      const seenA: MessageEnvelope[] = [];
      const seenB: MessageEnvelope[] = [];
      // The same component, event type and session on both: only the prefix separates them.
      await a.subscribe('order.created', async (m) => {
        seenA.push(m);
        if (m.payload['fail']) throw new Error('tenant a handler failed');
      }, { componentId: 'billing', durable: true });
      await b.subscribe('order.created', async (m) => void seenB.push(m), { componentId: 'billing', durable: true });
      const fromA = await a.publish({ eventType: 'order.created', sessionId: 's1', payload: { tenant: 'a' }, componentSource: 'shop' });
      const failing = await a.publish({ eventType: 'order.created', sessionId: 's1', payload: { tenant: 'a', fail: true }, componentSource: 'shop' });
      const fromB = await b.publish({ eventType: 'order.created', sessionId: 's1', payload: { tenant: 'b' }, componentSource: 'shop' });
      await waitFor(() => seenB.some((m) => m.messageId === fromB.messageId), 'tenant b delivery', 15_000);
      await waitFor(async () => (await a.getDeadLetterMessages()).length === 1, 'tenant a dead letter', 15_000);
      await sleep(500); // anything misrouted would have arrived by now
      expect(seenA.map((m) => m.payload['tenant'])).not.toContain('b');
      expect(seenB.map((m) => m.messageId)).toEqual([fromB.messageId]);
      expect(seenA.map((m) => m.messageId)).toContain(fromA.messageId);
      expect((await a.getDeadLetterMessages())[0]!.envelope.messageId).toBe(failing.messageId);
      expect(await b.getDeadLetterMessages()).toEqual([]);

      const [healthA, healthB] = [await a.healthCheck(), await b.healthCheck()];
      expect(healthB.groups).toHaveLength(1);
      expect(healthA.groups).toHaveLength(1);
      expect(JSON.stringify(healthB)).not.toContain(prefixA);
      expect(JSON.stringify(healthA)).not.toContain(prefixB);
      // Consumer groups on the server: each prefix's streams hold only its own.
      const keysB = (await admin.keys(`${prefixB}:*`)).length;
      expect(keysB).toBeGreaterThan(0);
      expect(await admin.keys(`${prefixA}:*${prefixB}*`)).toEqual([]);

      // Tenant b's credentials on tenant a's prefix: refused, naming the command and the key.
      const crossing = await RedisMessageBus.connect({ url: `redis://tenant-b@127.0.0.1:${server.port}`, password: PASSWORD_B, streamPrefix: prefixA }).catch((e: unknown) => e);
      expect(crossing).toBeInstanceOf(PermissionDeniedError);
      expect((crossing as PermissionDeniedError).operation).toBe(`HSETNX ${prefixA}:{${prefixA}}:meta`);
      expect((crossing as Error).message).toContain('to user "tenant-b"');
      // ... and directly: no read, no write, no subscribe on a's keys and channel.
      const raw = new Redis({ host: '127.0.0.1', port: server.port, username: 'tenant-b', password: PASSWORD_B });
      try {
        await expect(raw.xrange(`${prefixA}:{${prefixA}/0}:events`, '-', '+')).rejects.toThrow(/NOPERM/);
        await expect(raw.xadd(`${prefixA}:{${prefixA}/0}:events`, '*', 'envelope', '{}')).rejects.toThrow(/NOPERM/);
        await expect(raw.xrange(`${prefixA}:{${prefixA}}:dlq`, '-', '+')).rejects.toThrow(/NOPERM/);
        await expect(raw.publish(`${prefixA}:{${prefixA}}:control`, 'x')).rejects.toThrow(/NOPERM/);
      } finally {
        raw.disconnect();
      }

      const shown = logs.lines.join('\n') + JSON.stringify(metrics) + JSON.stringify([healthA, healthB]) + inspect(crossing, { depth: null });
      for (const secret of [PASSWORD_A, PASSWORD_B]) expect(shown).not.toContain(secret);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
