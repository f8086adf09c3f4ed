/**
 * Minimal permissions and tenants, on a `nats-server` of the test's own with one account and one
 * user per tenant, each allowed only `minimalPermissions(<its prefix>)` (src/permissions.ts, the
 * lists the README gives). Tenants are prefixes inside one account, fenced by those permissions:
 * - a tenant's user runs publish, consume, retries, dead letters (list, redrive, purge), health and
 *   session deletion with nothing more;
 * - two tenants never see each other's messages, dead letters, groups or health;
 * - one tenant's user cannot reach the other's streams, subjects or inboxes;
 * - a user missing one permission gets PermissionDeniedError naming the subject and operation.
 */
import { inspect } from 'node:util';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PermissionDeniedError, createEnvelope, type JsonObject, type MessageEnvelope } from '@woodwork/bus-core';
import { FAST_RETRY, randomName, waitFor } from '@woodwork/bus-conformance';
import { NatsMessageBus, minimalPermissions, type NatsBusOptions, type NatsPermissions } from '../src/index.js';
import { ConfiguredNatsServer, testDir } from './support/secure-nats.js';

const PASSWORD = 'tenant-S3cret-Charlie-4410';
const A = randomName('tenA');
const B = randomName('tenB');

/** A user entry of the server config with these permissions. */
function userEntry(user: string, permissions: NatsPermissions): string {
  const list = (subjects: string[]): string => subjects.map((s) => JSON.stringify(s)).join(', ');
  return `{ user: "${user}", password: "${PASSWORD}", permissions: { publish: { allow: [${list(permissions.publish)}] }, subscribe: { allow: [${list(permissions.subscribe)}] } } }`;
}

const without = (permissions: NatsPermissions, drop: { publish?: (s: string) => boolean; subscribe?: (s: string) => boolean }): NatsPermissions => ({
  publish: permissions.publish.filter((s) => !drop.publish?.(s)),
  subscribe: permissions.subscribe.filter((s) => !drop.subscribe?.(s)),
});

const dir = testDir('nats-perms');
let server: ConfiguredNatsServer;
let url: string;
const open: NatsMessageBus[] = [];
const raw: NatsConnection[] = [];

beforeAll(async () => {
  const a = minimalPermissions(A);
  const users = [
    userEntry('tenant-a', a),
    userEntry('tenant-b', minimalPermissions(B)),
    userEntry('no-consumer-create', without(a, { publish: (s) => s.includes('CONSUMER.CREATE') })),
    // Everything but publishing messages: <p>.> is split so dead letters and assignments stay.
    userEntry('no-message-publish', { ...without(a, { publish: (s) => s === `${A}.>` }), publish: [...without(a, { publish: (s) => s === `${A}.>` }).publish, `${A}.dlq.>`, `${A}.state.>`] }),
    userEntry('no-inbox', without(a, { subscribe: (s) => s.startsWith('_INBOX') })),
  ];
  server = await ConfiguredNatsServer.start(dir.path, `authorization {\n  users = [\n    ${users.join('\n    ')}\n  ]\n}\n`);
  url = `nats://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.stop();
  dir.remove();
});
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((b) => b.close()));
  await Promise.allSettled(raw.splice(0).map((nc) => nc.close()));
});

function logger(lines: string[]) {
  const write = (level: string) => (message: string, context?: object) => void lines.push(`${level} ${message} ${inspect(context, { depth: null })}`);
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

async function tenantBus(user: string, streamPrefix: string, options: NatsBusOptions = {}): Promise<NatsMessageBus> {
  const bus = await NatsMessageBus.connect({ url, username: user, password: PASSWORD, streamPrefix, storage: 'memory', retry: FAST_RETRY, maxRetries: 2, ...options });
  open.push(bus);
  return bus;
}

const event = (sessionId: string, eventType: string, payload: JsonObject = {}): MessageEnvelope =>
  createEnvelope({ sessionId, eventType, componentSource: 'test', pattern: 'pub_sub', payload });

describe('a tenant user with the minimal permissions', () => {
  it('publishes, consumes, retries, dead-letters, redrives and purges, with no refusal logged', async () => {
    const lines: string[] = [];
    const bus = await tenantBus('tenant-a', A, { logger: logger(lines) });
    const done: string[] = [];
    const attempts = new Map<string, number>();
    await bus.subscribe(
      'work.item',
      async (e) => {
        const n = (attempts.get(e.messageId) ?? 0) + 1;
        attempts.set(e.messageId, n);
        const mode = (e.payload as { mode?: string }).mode;
        if (mode === 'always-fail') throw new Error('this one never works');
        if (mode === 'fail-once' && n === 1) throw new Error('first attempt fails');
        done.push(e.messageId);
      },
      { componentId: 'worker' },
    );
    const ok = await bus.publish(event('s1', 'work.item', { mode: 'ok' }));
    const retried = await bus.publish(event('s1', 'work.item', { mode: 'fail-once' }));
    const poison = await bus.publish(event('s2', 'work.item', { mode: 'always-fail' }));
    await waitFor(() => done.includes(ok.messageId) && done.includes(retried.messageId), 'the good and the retried message', 20_000);
    expect(attempts.get(retried.messageId)).toBe(2);
    await waitFor(async () => (await bus.getDeadLetterMessages(10)).length === 1, 'the dead letter', 20_000);
    const [record] = await bus.getDeadLetterMessages(10);
    expect(record!.envelope.messageId).toBe(poison.messageId);
    expect(attempts.get(poison.messageId)).toBe(record!.attempts);
    expect(record!.attempts).toBeGreaterThan(1);
    const health = await bus.healthCheck();
    expect(health.status).toBe('healthy');
    expect(health.groups.some((g) => g.componentId === 'worker')).toBe(true);
    expect(health.metrics.deadLetterQueueSize).toBe(1);
    // Redrive goes back to the group (still failing: dead-lettered again), then purge empties it.
    expect((await bus.redriveDeadLetters()).redriven).toEqual([record!.id]);
    await waitFor(() => (attempts.get(poison.messageId) ?? 0) >= 2 * record!.attempts, 'the redriven attempts', 20_000);
    await waitFor(async () => (await bus.getDeadLetterMessages(10)).length === 1, 'the second dead letter', 20_000);
    expect((await bus.purgeDeadLetters()).purged).toBe(1);
    await bus.deleteSessionQueue('s1');
    expect(lines.filter((l) => /denied/i.test(l))).toEqual([]);
    expect((await bus.healthCheck()).details?.['permissionDenied']).toEqual([]);
    // The server logs every refusal ("Publish Violation - User ..."): none for this user, even one
    // the bus might have swallowed.
    await bus.close();
    expect(server.logLines(/Violation - User "tenant-a"/)).toEqual([]);
  });
});

describe('tenants: two prefixes in one account', () => {
  it('never see each other’s messages, dead letters, groups or health', async () => {
    const a = await tenantBus('tenant-a', A, { maxRetries: 0 });
    const b = await tenantBus('tenant-b', B, { maxRetries: 0 });
    const seenA = new Set<string>();
    const seenB = new Set<string>();
    await a.subscribe('shared.type', async (e) => {
      seenA.add(e.messageId);
      if ((e.payload as { fail?: boolean }).fail) throw new Error('a fails');
    }, { componentId: 'same-name' });
    await b.subscribe('shared.type', async (e) => void seenB.add(e.messageId), { componentId: 'same-name' });
    const fromA = [await a.publish(event('s', 'shared.type', { fail: true })), await a.publish(event('s', 'shared.type'))];
    const fromB = await b.publish(event('s', 'shared.type'));
    await waitFor(() => seenA.size === 2 && seenB.size === 1, 'each tenant’s own messages', 20_000);
    await waitFor(async () => (await a.getDeadLetterMessages(10, { messageId: fromA[0]!.messageId })).length === 1, 'A’s dead letter', 20_000);
    // Give a leak time to show itself.
    await new Promise((r) => setTimeout(r, 500));
    expect([...seenA].sort()).toEqual(fromA.map((p) => p.messageId).sort());
    expect([...seenB]).toEqual([fromB.messageId]);
    expect(await b.getDeadLetterMessages(10)).toEqual([]);
    const [healthA, healthB] = [await a.healthCheck(), await b.healthCheck()];
    expect(healthA.metrics.deadLetterQueueSize).toBeGreaterThanOrEqual(1);
    expect(healthB.metrics.deadLetterQueueSize).toBe(0);
    expect(healthB.details?.['streams']).toEqual([`${B}~EVENTS`, `${B}~DLQ`, `${B}~STATE`]);
    expect(JSON.stringify(healthB)).not.toContain(A);
    expect(JSON.stringify(healthA)).not.toContain(B);
  });

  it('one tenant’s user cannot open, read or write the other’s prefix', async () => {
    // B's user on A's prefix: A's inboxes are refused first; with B's own inbox prefix, the first
    // JetStream call on A's streams. Typed and named either way.
    const onA = (inboxPrefix?: string) =>
      NatsMessageBus.connect({ url, username: 'tenant-b', password: PASSWORD, streamPrefix: A, storage: 'memory', ...(inboxPrefix ? { inboxPrefix } : {}) }).catch((e: unknown) => e as Error);
    const inboxError = await onA();
    expect(inboxError).toBeInstanceOf(PermissionDeniedError);
    expect((inboxError as PermissionDeniedError).operation).toMatch(new RegExp(`^subscribe _INBOX\\.${A}\\.`));
    const apiError = await onA(`_INBOX.${B}`);
    expect(apiError).toBeInstanceOf(PermissionDeniedError);
    expect((apiError as PermissionDeniedError).operation).toMatch(new RegExp(`^publish \\$JS\\.API\\.STREAM\\.(CREATE|INFO)\\.${A}~`));
    expect((apiError as PermissionDeniedError).user).toBe('tenant-b');
    expect(inspect([inboxError, apiError], { depth: null })).not.toContain(PASSWORD);
    // B's user with a raw client: A's subjects, A's inboxes, A's stream API and acks are refused.
    const nc = await connect({ servers: url, user: 'tenant-b', pass: PASSWORD });
    raw.push(nc);
    const refusals: string[] = [];
    void (async () => {
      for await (const s of nc.status()) if (s.type === 'error') refusals.push(String((s as unknown as { error?: Error }).error?.message));
    })();
    nc.subscribe(`${A}.m.>`);
    nc.subscribe(`_INBOX.${A}.>`);
    nc.subscribe(`${A}.state.g.>`);
    nc.publish(`${A}.m.0.s.~.shared.type`, 'x');
    nc.publish(`$JS.API.STREAM.PURGE.${A}~EVENTS`, '{}');
    nc.publish(`$JS.ACK.${A}~EVENTS.x.1.1.1.1.0.0`, '+ACK');
    await nc.flush();
    await waitFor(() => refusals.length >= 6, 'six refusals', 10_000);
    expect(refusals.join('\n')).toContain(`Subscription to "${A}.m.>"`);
    expect(refusals.join('\n')).toContain(`Subscription to "_INBOX.${A}.>"`);
    expect(refusals.join('\n')).toContain(`Publish to "$JS.API.STREAM.PURGE.${A}~EVENTS"`);
  });
});

describe('a missing permission is PermissionDeniedError naming what was refused', () => {
  it('no consumer create: subscribe fails naming the JetStream API subject', async () => {
    const bus = await tenantBus('no-consumer-create', A);
    const error = (await bus.subscribe('x.y', async () => {}, { componentId: 'nope' }).catch((e: unknown) => e)) as Error;
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as PermissionDeniedError).code).toBe('PERMISSION_DENIED');
    expect((error as PermissionDeniedError).operation).toMatch(new RegExp(`^publish \\$JS\\.API\\.CONSUMER\\.CREATE\\.${A}~EVENTS\\.`));
    expect(error.message).toContain('no-consumer-create');
  });

  it('no publish on message subjects: publish fails at once naming the subject, and health reports it', async () => {
    const lines: string[] = [];
    const bus = await tenantBus('no-message-publish', A, { logger: logger(lines), publishTimeoutMs: 30_000 });
    const error = await bus.publish(event('s9', 'x.y')).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as PermissionDeniedError).operation).toMatch(new RegExp(`^publish ${A}\\.m\\.\\d+\\.s9\\.~\\.x\\.y$`));
    expect(lines.some((l) => l.includes('denied') && l.includes(`${A}.m.`))).toBe(true);
    const health = await bus.healthCheck();
    expect(health.status).toBe('degraded');
    expect(health.error).toContain(`${A}.m.`);
    expectNoPassword([error, lines, health]);
  });

  it('no subscribe on the inbox: connect fails naming the subscription', async () => {
    const error = await NatsMessageBus.connect({ url, username: 'no-inbox', password: PASSWORD, streamPrefix: A, storage: 'memory', publishTimeoutMs: 3_000 }).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(PermissionDeniedError);
    expect((error as PermissionDeniedError).operation).toMatch(/^subscribe _INBOX\./);
    expectNoPassword([error]);
  });
});

function expectNoPassword(values: unknown[]): void {
  expect(inspect(values, { depth: null, showHidden: true })).not.toContain(PASSWORD);
}
