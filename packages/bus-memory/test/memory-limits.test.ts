/**
 * Everything the memory bus holds is bounded by an option: publishes waiting for room
 * (`maxWaitingPublishes`), queues of targets with no listener (`maxTargetQueues`) and remembered
 * dedupe ids (`maxDedupeIds`); health shows each bound and says `degraded` when a queue is full.
 */
import { describe, expect, it } from 'vitest';
import { BusClosedError, InvalidConfigError, QueueFullError, createEnvelope, type EnvelopeInit } from '@woodwork/bus-core';
import { DEFAULT_MAX_WAITING_PUBLISHES, createMessageBus, type MemoryBusOptions } from '../src/index.js';
import { busesClosedAfterEach } from './support/memory-buses.js';

const makeBus = busesClosedAfterEach({ closeTimeoutMs: 10 });
const msg = (i: number, init: Partial<EnvelopeInit> = {}) =>
  createEnvelope({ sessionId: `s${i}`, eventType: 'lim.work', componentSource: 'test', pattern: 'pub_sub', payload: { i }, ...init });
const toTarget = (target: string, i = 0) =>
  createEnvelope({ sessionId: `s${i}`, eventType: 'lim.task', componentSource: 'test', componentTarget: target, payload: { i } });
const stuck = () => new Promise<void>(() => undefined);

/** Publishes without awaiting, as a careless loop would; counts how each one settles. */
function fireAndForget(publish: () => Promise<unknown>, count: number) {
  const settled = { resolved: 0, queueFull: 0, closed: 0, other: [] as unknown[] };
  for (let i = 0; i < count; i++) {
    publish().then(
      () => void settled.resolved++,
      (error: unknown) => {
        if (error instanceof QueueFullError) settled.queueFull++;
        else if (error instanceof BusClosedError) settled.closed++;
        else settled.other.push(error);
      },
    );
  }
  return settled;
}

describe('publishes waiting for room are capped', () => {
  it('past maxWaitingPublishes a publish that would wait rejects at once with QueueFullError; close rejects the ones waiting', async () => {
    const bus = makeBus({ maxQueueSize: 1, maxWaitingPublishes: 100, publishTimeoutMs: 60_000 });
    await bus.subscribe('lim.work', stuck, { group: 'stuck', handlerTimeoutMs: 0 });
    let i = 0;
    const settled = fireAndForget(() => bus.publish(msg(i++)), 1_000);
    // 1 taken by the queue, 100 wait, the other 899 are turned away without waiting for any timer.
    await expect.poll(() => settled.queueFull).toBe(899);
    const error = await bus.publish(msg(-1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error).toMatchObject({ code: 'QUEUE_FULL', limit: 100, queue: 'woodwork:waiting-publishes', message: expect.stringContaining('maxWaitingPublishes') });
    const health = await bus.healthCheck();
    expect(health.status).toBe('degraded');
    expect(health.details).toMatchObject({ waitingPublishes: 100, maxWaitingPublishes: 100 });
    expect(settled.resolved).toBe(1);
    await bus.close();
    await expect.poll(() => settled.closed).toBe(100);
    expect(settled.other).toEqual([]);
  });

  it(`by default at most ${DEFAULT_MAX_WAITING_PUBLISHES} publishes wait, however many are made without awaiting`, async () => {
    const bus = makeBus({ maxQueueSize: 1, publishTimeoutMs: 60_000 });
    await bus.subscribe('lim.work', stuck, { group: 'stuck', handlerTimeoutMs: 0 });
    let i = 0;
    const total = 2.5 * DEFAULT_MAX_WAITING_PUBLISHES;
    const settled = fireAndForget(() => bus.publish(msg(i++)), total);
    await expect.poll(() => settled.queueFull, { timeout: 30_000 }).toBe(total - 1 - DEFAULT_MAX_WAITING_PUBLISHES);
    expect((await bus.healthCheck()).details['waitingPublishes']).toBe(DEFAULT_MAX_WAITING_PUBLISHES);
    await bus.close();
    await expect.poll(() => settled.closed).toBe(DEFAULT_MAX_WAITING_PUBLISHES);
    expect(settled).toMatchObject({ resolved: 1, other: [] });
  });

  it('maxWaitingPublishes 0: a publish to a full queue never waits', async () => {
    const bus = makeBus({ maxQueueSize: 1, maxWaitingPublishes: 0, publishTimeoutMs: 60_000 });
    await bus.subscribe('lim.work', stuck, { group: 'stuck', handlerTimeoutMs: 0 });
    await bus.publish(msg(0));
    await expect(bus.publish(msg(1))).rejects.toBeInstanceOf(QueueFullError);
    expect((await bus.healthCheck()).details['waitingPublishes']).toBe(0);
  });
});

describe('target queues are capped and counted', () => {
  it("a message to one more target than maxTargetQueues is a full queue ('reject'); a target that has a queue still takes messages", async () => {
    const bus = makeBus({ maxTargetQueues: 2, onQueueFull: 'reject' });
    await bus.publish(toTarget('t1'));
    await bus.publish(toTarget('t2'));
    const error = await bus.publish(toTarget('t3')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error).toMatchObject({ limit: 2, queue: 'woodwork:target:t3', message: expect.stringContaining('maxTargetQueues') });
    await bus.publish(toTarget('t1', 1));
    const health = await bus.healthCheck();
    expect(health.status).toBe('degraded');
    expect(health.details).toMatchObject({ targetQueues: 2, maxTargetQueues: 2, waitingForTarget: { t1: 2, t2: 1 } });
    // t1's listener takes its queue: there is room for t3's now.
    const got: number[] = [];
    await bus.subscribe('*', (e) => void got.push((e.payload as { i: number }).i), { componentId: 't1', targetedOnly: true });
    await bus.publish(toTarget('t3'));
    expect((await bus.healthCheck()).details).toMatchObject({ targetQueues: 2, waitingForTarget: { t2: 1, t3: 1 } });
    await expect.poll(() => got).toEqual([0, 1]);
  });

  it("with 'wait', a message to one more target waits until a target queue goes", async () => {
    const bus = makeBus({ maxTargetQueues: 1, onQueueFull: 'wait', publishTimeoutMs: 60_000 });
    await bus.publish(toTarget('t1'));
    let admitted = false;
    const waiting = bus.publish(toTarget('t2')).then((r) => {
      admitted = true;
      return r;
    });
    await new Promise((r) => setImmediate(r));
    expect(admitted).toBe(false);
    expect((await bus.healthCheck()).details).toMatchObject({ waitingPublishes: 1, targetQueues: 1 });
    await bus.subscribe('*', () => undefined, { componentId: 't1', targetedOnly: true });
    await expect(waiting).resolves.toMatchObject({ duplicate: false });
    expect((await bus.healthCheck()).details['waitingForTarget']).toEqual({ t2: 1 });
  });

  it('a full target queue makes health degraded', async () => {
    const bus = makeBus({ maxQueueSize: 2, onQueueFull: 'reject' });
    await bus.publish(toTarget('later', 0));
    expect((await bus.healthCheck()).status).toBe('healthy');
    await bus.publish(toTarget('later', 1));
    await expect(bus.publish(toTarget('later', 2))).rejects.toBeInstanceOf(QueueFullError);
    const health = await bus.healthCheck();
    expect(health.status).toBe('degraded');
    expect(health.error).toMatch(/full/);
    expect(health.details).toMatchObject({ targetQueues: 1, waitingForTarget: { later: 2 } });
  });
});

describe('dedupe ids are capped', () => {
  it('past maxDedupeIds the oldest ids are forgotten early, and counted', async () => {
    const bus = makeBus({ maxDedupeIds: 3 });
    const once = (id: string) => msg(0, { messageId: id, deliveryMode: 'exactly_once' });
    for (const id of ['d1', 'd2', 'd3', 'd4', 'd5']) expect((await bus.publish(once(id))).duplicate).toBe(false);
    expect((await bus.publish(once('d5'))).duplicate).toBe(true);
    expect((await bus.publish(once('d3'))).duplicate).toBe(true);
    expect((await bus.healthCheck()).details).toMatchObject({ dedupeIds: 3, maxDedupeIds: 3, dedupeIdsEvicted: 2 });
    // d1 was forgotten: it is a new message again.
    expect((await bus.publish(once('d1'))).duplicate).toBe(false);
  });

  it("each group's acknowledged ids are capped too", async () => {
    const bus = makeBus({ maxDedupeIds: 2 });
    let handled = 0;
    await bus.subscribe('lim.work', () => void handled++, { group: 'g' });
    for (let i = 0; i < 5; i++) await bus.publish(msg(i, { deliveryMode: 'exactly_once' }));
    await expect.poll(() => handled).toBe(5);
    // 2 published ids kept by the bus, 2 acknowledged ids kept by the group; 3 + 3 forgotten early.
    expect((await bus.healthCheck()).details).toMatchObject({ dedupeIds: 4, dedupeIdsEvicted: 6 });
  });
});

it('rejects bad limits with InvalidConfigError naming the option', () => {
  expect(() => createMessageBus({ maxWaitingPublishes: -1 })).toThrow(InvalidConfigError);
  expect(() => createMessageBus({ maxTargetQueues: 1.5 })).toThrow(/maxTargetQueues/);
  expect(() => createMessageBus({ maxDedupeIds: 0 })).toThrow(/maxDedupeIds/);
  // Own keys only: a limit on the options' prototype is never read.
  const inherited = createMessageBus(Object.create({ maxWaitingPublishes: 0 }) as MemoryBusOptions);
  expect(inherited.options.maxWaitingPublishes).toBe(DEFAULT_MAX_WAITING_PUBLISHES);
  void inherited.close();
  const bus = createMessageBus({ maxWaitingPublishes: 0, maxTargetQueues: 0, maxDedupeIds: 1 });
  expect(bus.options).toMatchObject({ maxWaitingPublishes: 0, maxTargetQueues: 0, maxDedupeIds: 1 });
  return bus.close();
});
