/**
 * ConsumerGroup, the engine backends compose: the subscribe gate, per-replica concurrency, the
 * metrics / log / retry wiring, the dead-letter record it builds, order violations, group health.
 * Memory runs on it (its conformance suite covers the rest); the simulated server test runs through it.
 */
import { describe, expect, it, vi } from 'vitest';
import {
  ConsumerGroup,
  MetricsRecorder,
  UnrecoverableError,
  createEnvelope,
  quietLogger,
  type BusLogger,
  type ConsumerGroupHooks,
  type GroupSpec,
  type LaneDelivery,
  type MessageHandler,
  type MetricEvent,
  type NewDeadLetterRecord,
  type ResolvedSubscription,
} from '../src/index.js';

interface TestDelivery extends LaneDelivery {
  readonly id: number;
}

const SPEC: GroupSpec = { group: 'g', eventPattern: '*', componentId: 'c', sessionId: null, targetedOnly: false, observer: false, durable: true };
const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 1, multiplier: 1, jitter: 0 };
const GUARD = { timeout: 20_000, interval: 5 };

function replica(id: string, handler: MessageHandler, concurrency = 4): ResolvedSubscription {
  return { ...SPEC, subscriptionId: id, handler, concurrency, handlerTimeoutMs: 0 };
}

function delivery(id: number, session = `s${id}`, maxRetries = 3): TestDelivery {
  return { id, attemptsMade: 0, envelope: createEnvelope({ sessionId: session, eventType: 'e.t', componentSource: 'src', payload: { id }, maxRetries }) };
}

function makeGroup(extra: Partial<ConsumerGroupHooks<TestDelivery>> = {}, logger: BusLogger = quietLogger) {
  const events: MetricEvent[] = [];
  const metrics = new MetricsRecorder((e) => events.push(e));
  const records: NewDeadLetterRecord[] = [];
  const acked: Array<[number, string]> = [];
  const group = new ConsumerGroup<TestDelivery>({
    spec: SPEC,
    metrics,
    logger,
    retry: FAST_RETRY,
    hooks: {
      acknowledge: (d, reason) => void acked.push([d.id, reason]),
      storeDeadLetter: (record) => void records.push(record),
      deadLetterCount: () => records.length,
      sourceOf: (d) => ({ stream: 'events', id: String(d.id) }),
      ...extra,
    },
  });
  return { group, metrics, events, records, acked };
}

describe('ConsumerGroup', () => {
  it('gate: a replica joining a group that holds deliveries runs nothing before the subscribe turn has ended', async () => {
    const ran: number[] = [];
    const attached: string[] = [];
    const { group } = makeGroup();
    const g2 = new ConsumerGroup<TestDelivery>({
      spec: SPEC,
      metrics: new MetricsRecorder(),
      logger: quietLogger,
      retry: FAST_RETRY,
      hooks: { acknowledge: () => undefined, storeDeadLetter: () => undefined, deadLetterCount: () => 0, sourceOf: () => ({ stream: 's', id: '1' }) },
      attached: (s) => void attached.push(s.subscriptionId),
    });
    for (const g of [group, g2]) g.push(delivery(1));
    group.addReplica(replica('r1', (e) => void ran.push(e.payload['id'] as number)));
    g2.addReplica(replica('r2', () => undefined));
    // Microtasks (where a caller's `await subscribe()` resumes) run first: nothing may have started.
    for (let i = 0; i < 20; i++) await Promise.resolve();
    expect(ran).toEqual([]);
    expect(attached).toEqual([]);
    expect(group.consumers).toBe(1);
    await vi.waitFor(() => expect(ran).toEqual([1]), GUARD);
    await vi.waitFor(() => expect(attached).toEqual(['r2']), GUARD);
    // An empty group attaches at once (the next push dispatches on a later microtask).
    const { group: empty } = makeGroup();
    const seen: string[] = [];
    const g3 = new ConsumerGroup<TestDelivery>({
      spec: SPEC,
      metrics: new MetricsRecorder(),
      logger: quietLogger,
      retry: FAST_RETRY,
      hooks: { acknowledge: () => undefined, storeDeadLetter: () => undefined, deadLetterCount: () => 0, sourceOf: () => ({ stream: 's', id: '1' }) },
      attached: (s) => void seen.push(s.subscriptionId),
    });
    g3.addReplica(replica('r3', () => undefined));
    expect(seen).toEqual(['r3']);
    empty.addReplica(replica('r4', () => undefined));
    expect(empty.lanes.consumerCount).toBe(1);
    // A replica removed while waiting at the gate is never attached.
    g2.push(delivery(2));
    g2.addReplica(replica('r5', () => undefined));
    expect(g2.removeReplica('r5')).toBe(true);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    expect(attached).toEqual(['r2']);
    await Promise.all([group.stop(1000), g2.stop(1000), g3.stop(1000), empty.stop(1000)]);
  });

  it('each replica runs at most its own concurrency; the group runs their sum', async () => {
    const running = new Map<string, number>();
    const peak = new Map<string, number>();
    let total = 0;
    let peakTotal = 0;
    const releases: Array<() => void> = [];
    const handler =
      (name: string): MessageHandler =>
      () => {
        running.set(name, (running.get(name) ?? 0) + 1);
        peak.set(name, Math.max(peak.get(name) ?? 0, running.get(name) as number));
        peakTotal = Math.max(peakTotal, ++total);
        return new Promise<void>((resolve) =>
          releases.push(() => {
            running.set(name, (running.get(name) as number) - 1);
            total--;
            resolve();
          }),
        );
      };
    const { group, metrics } = makeGroup();
    group.addReplica(replica('one', handler('one'), 1));
    group.addReplica(replica('three', handler('three'), 3));
    for (let i = 1; i <= 12; i++) group.push(delivery(i));
    let handled = 0;
    while (handled < 12) {
      await vi.waitFor(() => expect(releases.length).toBeGreaterThan(0), GUARD);
      await new Promise((resolve) => setTimeout(resolve, 2));
      for (const release of releases.splice(0)) {
        release();
        handled++;
      }
    }
    await vi.waitFor(() => expect(metrics.consumed).toBe(12), GUARD);
    expect(peak.get('one')).toBe(1);
    expect(peak.get('three')).toBe(3);
    expect(peakTotal).toBe(4);
    await group.stop(1000);
  });

  it('wires retries, metrics and logs, and builds the dead-letter record (cause kept); a throwing logger changes nothing', async () => {
    const logs: Array<[string, string, Record<string, unknown> | undefined]> = [];
    const throwing: BusLogger = {
      debug: () => undefined,
      info: () => undefined,
      warn: (m, c) => {
        logs.push(['warn', m, c]);
        throw new Error('logger broke');
      },
      error: (m, c) => {
        logs.push(['error', m, c]);
        throw new Error('logger broke');
      },
    };
    let stores = 0;
    const { group, events, records, acked } = makeGroup({ storeDeadLetter: (r) => void (stores++, records.push(r)) }, throwing);
    const attempts: number[] = [];
    group.addReplica(
      replica('r', (e, ctx) => {
        attempts.push(ctx.attempt);
        if (e.payload['id'] === 1) throw new Error(`fails ${ctx.attempt}`);
        if (e.payload['id'] === 2) throw new UnrecoverableError('never works', { cause: new TypeError('bad input') });
        return undefined;
      }),
    );
    const before = Date.now() / 1000;
    group.push(delivery(1, 'a', 2));
    group.push(delivery(2, 'b', 5));
    group.push(delivery(3, 'c'));
    await vi.waitFor(() => expect(records).toHaveLength(2), GUARD);
    await vi.waitFor(() => expect(acked.filter(([, r]) => r === 'dead-lettered')).toHaveLength(2), GUARD);
    expect(stores).toBe(2);
    const exhausted = records.find((r) => r.source.id === '1') as NewDeadLetterRecord;
    expect(exhausted).toMatchObject({ attempts: 3, group: 'g', source: { stream: 'events', id: '1' }, error: { name: 'Error', message: 'fails 3' } });
    expect(exhausted.envelope).toMatchObject({ sessionId: 'a', retryCount: 2, payload: { id: 1 } });
    expect(exhausted.firstFailedAt).toBeGreaterThanOrEqual(before - 1);
    expect(exhausted.lastFailedAt).toBeGreaterThanOrEqual(exhausted.firstFailedAt);
    const unrecoverable = records.find((r) => r.source.id === '2') as NewDeadLetterRecord;
    expect(unrecoverable).toMatchObject({ attempts: 1, error: { name: 'UnrecoverableError', code: 'UNRECOVERABLE', cause: { name: 'TypeError', message: 'bad input' } } });
    expect(acked).toContainEqual([3, 'handled']);
    const names = events.map((e) => e.name);
    expect(names.filter((n) => n === 'message_bus.messages_failed_total')).toHaveLength(4);
    expect(names.filter((n) => n === 'message_bus.messages_consumed_total')).toHaveLength(1);
    expect(events.filter((e) => e.name === 'message_bus.dead_letter_queue_size').map((e) => e.value)).toEqual([1, 2]);
    expect(logs.filter(([level, m]) => level === 'warn' && m === 'handler attempt failed')).toHaveLength(4);
    expect(logs.filter(([level, m]) => level === 'error' && m === 'message dead-lettered').map(([, , c]) => c?.['reason']).sort()).toEqual([
      'exhausted',
      'unrecoverable',
    ]);
    expect(group.lanes.stats.observerErrors).toBeGreaterThan(0);
    await group.stop(1000);
  });

  it('a dead-letter store whose count is async still gets its metric', async () => {
    const { group, events } = makeGroup({ deadLetterCount: () => Promise.resolve(7) });
    group.addReplica(replica('r', () => Promise.reject(new UnrecoverableError('no'))));
    group.push(delivery(1));
    await vi.waitFor(() => expect(events.filter((e) => e.name === 'message_bus.dead_letter_queue_size')).toEqual([
      { name: 'message_bus.dead_letter_queue_size', value: 7, labels: { group: 'g' } },
    ]), GUARD);
    await group.stop(1000);
  });

  it('a claimed older delivery behind a running newer one counts an order violation (metric, log, counter)', async () => {
    const logs: string[] = [];
    const logger: BusLogger = { ...quietLogger, warn: (m) => void logs.push(m) };
    const { group, events } = makeGroup({ comparePositions: (a, b) => a.id - b.id }, logger);
    let release!: () => void;
    const started: number[] = [];
    group.addReplica(
      replica('r', (e) => {
        started.push(e.payload['id'] as number);
        if (e.payload['id'] === 10) return new Promise<void>((resolve) => (release = resolve));
        return undefined;
      }),
    );
    group.push(delivery(10, 's'));
    await vi.waitFor(() => expect(started).toEqual([10]), GUARD);
    group.push(delivery(4, 's'));
    expect(group.orderViolations).toBe(1);
    expect(events.filter((e) => e.name === 'message_bus.order_violations_total')).toEqual([
      { name: 'message_bus.order_violations_total', value: 1, labels: { group: 'g' } },
    ]);
    expect(logs.some((m) => m.includes('out of order'))).toBe(true);
    release();
    await vi.waitFor(() => expect(started).toEqual([10, 4]), GUARD);
    await group.stop(1000);
  });

  it('with comparePositions, deliveries pushed out of order run in position order behind a started head (searched from the back)', async () => {
    const { group } = makeGroup({ comparePositions: (a, b) => a.id - b.id });
    let release!: () => void;
    const started: number[] = [];
    group.addReplica(
      replica('r', (e) => {
        started.push(e.payload['id'] as number);
        if (e.payload['id'] === 50) return new Promise<void>((resolve) => (release = resolve));
        return undefined;
      }),
    );
    group.push(delivery(50, 's'));
    await vi.waitFor(() => expect(started).toEqual([50]), GUARD);
    // In order (the common case: appended), then claimed older ones landing in the middle and front.
    for (const id of [60, 70, 80, 65, 55, 75, 90, 51, 85]) group.push(delivery(id, 's'));
    expect(group.orderViolations).toBe(0);
    release();
    await vi.waitFor(() => expect(started).toEqual([50, 51, 55, 60, 65, 70, 75, 80, 85, 90]), GUARD);
    await group.stop(1000);
  });

  it('health: consumers, pending and lag from the lanes, or the counts a backend passes', async () => {
    const { group } = makeGroup();
    let release!: () => void;
    group.addReplica(replica('r', () => new Promise<void>((resolve) => (release = resolve)), 1));
    group.push(delivery(1, 's'));
    group.push(delivery(2, 's'));
    group.push(delivery(3, 't'));
    await vi.waitFor(() => expect(group.lanes.stats.running).toBe(1), GUARD);
    const h = group.health();
    expect(h).toMatchObject({ group: 'g', eventPattern: '*', componentId: 'c', sessionId: null, durable: true, consumers: 1, pending: 1, lag: 2 });
    expect(h.lastActiveAt).toBeCloseTo(Date.now() / 1000, -1);
    expect(h.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
    expect(group.health({ pending: 9, lag: 40 })).toMatchObject({ consumers: 1, pending: 9, lag: 40 });
    expect(group.health({ pending: 9, lag: 40 })).not.toHaveProperty('oldestPendingAgeMs');
    expect(group.health({ pending: 9, lag: 40, oldestPendingAgeMs: 1234 }).oldestPendingAgeMs).toBe(1234);
    await vi.waitFor(() => {
      release(); // each delivery waits for its own release
      expect(group.health().oldestPendingAgeMs).toBeNull();
    }, GUARD);
    await group.stop(1000);
  });
});
