/**
 * `publishBufferSize` > 0 on a redis-server of the test's own, killed with -9 and restarted on the
 * same data: while it is down, publishes wait in order up to the bound and fail with
 * `QueueFullError` past it, `healthCheck` says `degraded` with the buffer's size; on restart every
 * buffered publish resolves, each message is stored once and handled in order. A buffered publish
 * whose `publishTimeoutMs` passes rejects with `BackendUnavailableError` and is never stored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, QueueFullError, createEnvelope, type MessageEnvelope } from '@woodwork/bus-core';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '../src/index.js';
import { OwnRedisServer } from './support/redis-server.js';
import { storedCopies } from './support/stored-copies.js';

const servers: OwnRedisServer[] = [];
const buses: RedisMessageBus[] = [];
afterEach(async () => {
  await Promise.allSettled(buses.splice(0).map((b) => b.close()));
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
});

function message(i: number): MessageEnvelope {
  return createEnvelope({ sessionId: 'buffered', eventType: 'buffer.x', componentSource: 'test', pattern: 'pub_sub', payload: { i } });
}

describe('publishBufferSize > 0 while Redis is down', () => {
  it('buffers in order up to the bound (QueueFullError past it, health degraded with the size), then stores each once and delivers in order', async () => {
    const server = await OwnRedisServer.start({ args: ['--appendfsync', 'always'] });
    servers.push(server);
    const prefix = randomName('buffer');
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix: prefix, publishBufferSize: 3, publishTimeoutMs: 60_000 });
    buses.push(bus);
    const handled: number[] = [];
    await bus.subscribe('buffer.x', (e) => void handled.push(e.payload['i'] as number), { componentId: 'reader' });
    const sent = [0, 1, 2, 3, 4].map(message);
    await bus.publish(sent[0]!);
    await waitFor(() => handled.length === 1, 'the first message handled');

    await server.stopProcess('SIGKILL');
    await waitFor(async () => (await bus.healthCheck()).status === 'degraded', 'health degraded');
    const waiting = [1, 2, 3].map((i) => bus.publish(sent[i]!));
    const full = await bus.publish(sent[4]!).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(full).toBeInstanceOf(QueueFullError);
    const down = await bus.healthCheck();
    expect(down.status).toBe('degraded');
    expect(down.details).toMatchObject({ publishBufferSize: 3, publishBuffered: 3 });

    await server.startProcess();
    expect((await Promise.all(waiting)).map((r) => r.duplicate)).toEqual([false, false, false]);
    await waitFor(() => handled.length === 4, 'the buffered messages handled', 30_000);
    expect(handled).toEqual([0, 1, 2, 3]);
    const copies = await storedCopies(server.url, prefix, bus.layout.partitions);
    expect([0, 1, 2, 3].map((i) => copies.get(sent[i]!.messageId))).toEqual([1, 1, 1, 1]);
    expect(copies.has(sent[4]!.messageId)).toBe(false);
    await waitFor(async () => (await bus.healthCheck()).status === 'healthy', 'healthy again');
    expect((await bus.healthCheck()).details['publishBuffered']).toBe(0);
  }, 90_000);

  it('a buffered publish whose publishTimeoutMs passes rejects with BackendUnavailableError and is never stored', async () => {
    const server = await OwnRedisServer.start();
    servers.push(server);
    const prefix = randomName('buffer-late');
    const bus = await RedisMessageBus.connect({ url: server.url, streamPrefix: prefix, publishBufferSize: 10, publishTimeoutMs: 500 });
    buses.push(bus);
    await bus.publish(message(0));
    await server.stopProcess('SIGKILL');
    await waitFor(async () => (await bus.healthCheck()).status === 'degraded', 'health degraded');
    const late = message(1);
    const outcome = await bus.publish(late).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(outcome).toBeInstanceOf(BackendUnavailableError);
    expect((await bus.healthCheck()).details['publishBuffered']).toBe(0);
    await server.startProcess();
    await waitFor(async () => (await bus.healthCheck()).status === 'healthy', 'healthy again');
    await bus.publish(message(2));
    expect((await storedCopies(server.url, prefix, bus.layout.partitions)).has(late.messageId)).toBe(false);
  }, 60_000);
});
