/**
 * Health and close of a routed bus: one report per member and the overall status; a member whose
 * server is down makes the routed bus degraded while the other members work, and publishes routed
 * to it fail as that backend's do; close closes every member even when one fails and reports
 * every failure.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, BusClosedError, type MessageBus } from '@woodwork/bus-core';
import { createMessageBus as createRedisBus } from '@woodwork/bus-redis';
import { MemberFailuresError, RoutedMessageBus } from '../src/index.js';
import { overallStatus } from '../src/routed/routed-health.js';
import { eventually, memoryBus } from './support/memory.js';
import { OwnRedis } from './support/own-redis.js';

const open: MessageBus[] = [];
const servers: OwnRedis[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((bus) => bus.close()));
  await Promise.allSettled(servers.splice(0).map((server) => server.stop()));
});

/** A real bus whose `close` fails after closing it (a member whose connection ends badly). */
function failingClose(bus: MessageBus, message: string): MessageBus {
  return new Proxy(bus, {
    get(target, property) {
      if (property === 'close') return async () => {
        await target.close();
        throw new BackendUnavailableError(message);
      };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('routed health', () => {
  it('is healthy when every member is, unhealthy when every member is, degraded otherwise', () => {
    expect(overallStatus(['healthy', 'healthy'])).toBe('healthy');
    expect(overallStatus(['unhealthy', 'unhealthy'])).toBe('unhealthy');
    expect(overallStatus(['healthy', 'unhealthy'])).toBe('degraded');
    expect(overallStatus(['degraded', 'degraded'])).toBe('degraded');
    expect(overallStatus(['healthy', 'degraded'])).toBe('degraded');
  });

  it('reports every member and adds up their metrics', async () => {
    const local = memoryBus();
    const other = memoryBus();
    const bus = new RoutedMessageBus({ members: { local, other }, routes: [{ eventType: 'x.*', member: 'other' }], defaultMember: 'local' });
    open.push(bus);
    let handled = 0;
    await bus.subscribe('*', () => void handled++);
    await bus.publish({ sessionId: 's', eventType: 'a', componentSource: 't', payload: {} });
    await bus.publish({ sessionId: 's', eventType: 'x.b', componentSource: 't', payload: {} });
    await eventually(() => expect(handled).toBe(2));
    const health = await bus.healthCheck();
    expect(health.status).toBe('healthy');
    expect(health.backend).toBe('routed');
    expect(Object.keys(health.members)).toEqual(['local', 'other']);
    expect(health.members['local']!.metrics.messagesPublishedTotal).toBe(1);
    expect(health.metrics.messagesPublishedTotal).toBe(2);
    await eventually(async () => expect((await bus.healthCheck()).metrics.messagesConsumedTotal).toBe(2));
    expect(health.details['members']).toEqual({ local: { backend: 'memory', status: 'healthy' }, other: { backend: 'memory', status: 'healthy' } });
  });

  it('a member whose server is down makes it degraded; the other member works; publishes to the down one fail as its backend\'s do', async () => {
    const server = await OwnRedis.start();
    servers.push(server);
    const local = memoryBus();
    const shared = await createRedisBus({ url: server.url, streamPrefix: `routed-${randomBytes(4).toString('hex')}`, connectTimeoutMs: 1_000, blockMs: 100 });
    const bus = new RoutedMessageBus({ members: { local, shared }, routes: [{ eventType: 'chain.*', member: 'shared' }], defaultMember: 'local' });
    open.push(bus);
    const seen: string[] = [];
    await bus.subscribe('*', (e) => void seen.push(e.eventType), { componentId: 'watcher' });
    await bus.publish({ sessionId: 's', eventType: 'chain.step', componentSource: 't', payload: {} });
    await eventually(() => expect(seen).toEqual(['chain.step']));
    expect((await bus.healthCheck()).status).toBe('healthy');

    await server.stop();
    await eventually(async () => expect((await bus.healthCheck()).status).toBe('degraded'));
    const health = await bus.healthCheck();
    expect(health.members['local']!.status).toBe('healthy');
    expect(health.members['shared']!.status).not.toBe('healthy');
    expect(health.error).toMatch(/^shared \(redis\) is (degraded|unhealthy)/);
    // The memory member goes on; the Redis member fails fast (publish_buffer_size 0).
    await bus.publish({ sessionId: 's', eventType: 'hook.fired', componentSource: 't', payload: {} });
    await eventually(() => expect(seen).toEqual(['chain.step', 'hook.fired']));
    await expect(bus.publish({ sessionId: 's', eventType: 'chain.step', componentSource: 't', payload: {} })).rejects.toBeInstanceOf(BackendUnavailableError);
    // Dead letters cannot be listed whole: the call says which member could not answer.
    await expect(bus.getDeadLetterMessages()).rejects.toThrow(/^getDeadLetterMessages failed on 1 member: shared: /);
  });
});

describe('routed subscribe on a member that refuses', () => {
  it('a "*" subscription refused by one member names it and is undone on the others', async () => {
    const a = memoryBus();
    const b = memoryBus();
    await b.close();
    const bus = new RoutedMessageBus({ members: { a, b }, defaultMember: 'a' });
    open.push(bus);
    const error = await bus.subscribe('*', () => undefined, { group: 'g' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MemberFailuresError);
    expect((error as Error).message).toBe('subscribe failed on 1 member: b: BusClosedError: bus is closed: subscribe rejected');
    expect((await a.healthCheck()).groups.filter((g) => g.consumers > 0)).toEqual([]);
    expect((await bus.healthCheck()).metrics.activeSubscriptions).toBe(0);
  });
});

describe('routed close', () => {
  it('closes every member even when one fails, and reports each failure', async () => {
    const a = memoryBus();
    const b = memoryBus();
    const c = memoryBus();
    const bus = new RoutedMessageBus({ members: { a, b: failingClose(b, 'b went away badly'), c: failingClose(c, 'c too') }, defaultMember: 'a' });
    await bus.subscribe('*', () => undefined);
    const closing = bus.close();
    const error = await closing.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MemberFailuresError);
    const failures = (error as MemberFailuresError).failures;
    expect(failures.map((f) => f.member)).toEqual(['b', 'c']);
    expect((error as MemberFailuresError).errors).toHaveLength(2);
    expect((error as Error).message).toBe('close failed on 2 members: b: BackendUnavailableError: b went away badly; c: BackendUnavailableError: c too');
    for (const member of [a, b, c]) {
      await expect(member.publish({ sessionId: 's', eventType: 'x', componentSource: 't', payload: {} })).rejects.toBeInstanceOf(BusClosedError);
    }
    // Idempotent: the same outcome again, and every call afterwards is refused.
    expect(bus.close()).toBe(closing);
    await expect(bus.publish({ sessionId: 's', eventType: 'x', componentSource: 't', payload: {} })).rejects.toBeInstanceOf(BusClosedError);
    await expect(bus.healthCheck()).rejects.toBeInstanceOf(BusClosedError);
  });

  it('close waits for a spanning subscription\'s running handler, whose signal aborts', async () => {
    const bus = new RoutedMessageBus({ members: { a: memoryBus(), b: memoryBus() }, defaultMember: 'a', closeTimeoutMs: 5_000 });
    let aborted: unknown;
    let started = false;
    await bus.subscribe('*', async (_e, ctx) => {
      started = true;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
      aborted = ctx.signal.reason;
    });
    await bus.publish({ sessionId: 's', eventType: 'x', componentSource: 't', payload: {} });
    await eventually(() => expect(started).toBe(true));
    await bus.close();
    expect(aborted).toBeInstanceOf(BusClosedError);
  });
});
