/**
 * The lanes' server hooks proven against a simulated server (support/simulated-server.ts) on fake
 * timers: consumer processes, each a core ConsumerGroup (the engine backends compose) with beginAttempt / acknowledge / deadLetter /
 * renew / comparePositions wired to the server, crash and are replaced; the others claim what the
 * dead ones held. A ledger then proves: order per session, no duplicate handling, never two
 * attempts of a session at once, no claim of anything a live process held (leases renewed, long
 * handlers included), crash-looping messages dead-lettered after their attempts instead of looping,
 * and a failed acknowledgement holding its session.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  ConsumerGroup,
  MetricsRecorder,
  SessionLanes,
  createEnvelope,
  quietLogger,
  type GroupSpec,
  type LaneDelivery,
  type MessageEnvelope,
  type NewDeadLetterRecord,
} from '../src/index.js';
import { SimulatedServer } from './support/simulated-server.js';

const LEASE_MS = 300;
const POLL_MS = 25;

interface SimDelivery extends LaneDelivery {
  readonly id: number;
}

interface Ledger {
  seq: number;
  starts: Array<{ id: number; proc: string; seq: number }>;
  handled: Array<{ id: number; proc: string; seq: number }>;
  ackedAt: Map<number, number>;
  runningBySession: Map<string, string>;
  overlaps: string[];
  deadAt: Map<string, number>;
  records: NewDeadLetterRecord[];
}

const SPEC: GroupSpec = { group: 'g', eventPattern: '*', componentId: 'sim', sessionId: null, targetedOnly: false, observer: false, durable: true };

class ConsumerProcess {
  readonly group: ConsumerGroup<SimDelivery>;
  readonly metrics = new MetricsRecorder();
  alive = true;
  private readonly poller: NodeJS.Timeout;

  constructor(
    readonly name: string,
    private readonly server: SimulatedServer,
    private readonly ledger: Ledger,
    private readonly behaviour: { crashLoop: Set<number>; slow: Set<number>; failOnce: Set<number> },
    private readonly onCrash: (proc: ConsumerProcess) => void,
  ) {
    const dead = (): never => {
      throw new Error(`${name} is dead`);
    };
    this.group = new ConsumerGroup<SimDelivery>({
      spec: SPEC,
      metrics: this.metrics,
      logger: quietLogger,
      retry: { initialDelayMs: 20, maxDelayMs: 20, multiplier: 1, jitter: 0 },
      leaseMs: LEASE_MS,
      hooks: {
        beginAttempt: (d) => {
          if (!this.alive) dead();
          server.recordStart(d.id);
        },
        acknowledge: (d) => {
          if (!this.alive) dead();
          server.ack(d.id);
          ledger.ackedAt.set(d.id, ++ledger.seq);
        },
        storeDeadLetter: (record, d, failure) => {
          if (!this.alive) dead();
          server.deadLetter(d.id, failure.attempts, failure.reason);
          ledger.records.push(record);
        },
        deadLetterCount: () => server.deadLetters.length,
        sourceOf: (d) => ({ stream: 'sim-events', id: String(d.id) }),
        renew: (deliveries) => {
          if (!this.alive) dead();
          const lost = new Set(server.renew(name, deliveries.map((d) => d.id)));
          return deliveries.filter((d) => lost.has(d.id));
        },
        comparePositions: (a, b) => a.id - b.id,
      },
    });
    this.group.addReplica({ ...SPEC, subscriptionId: name, handler: (e) => this.handle(e), handlerTimeoutMs: 0, concurrency: 3 });
    this.poller = setInterval(() => this.poll(), POLL_MS);
  }

  private poll(): void {
    for (const entry of [...this.server.claim(this.name, LEASE_MS), ...this.server.read(this.name, 8)]) {
      const envelope = createEnvelope({ sessionId: entry.sessionId, eventType: 'sim.work', componentSource: 'sim', payload: entry.payload, maxRetries: 2 });
      this.group.push({ envelope, id: entry.id, deliveryId: String(entry.id), attemptsMade: this.server.starts.get(entry.id) ?? 0 });
    }
  }

  private async handle(envelope: MessageEnvelope): Promise<void> {
    const id = envelope.payload['id'] as number;
    const session = envelope.sessionId;
    const ledger = this.ledger;
    const other = ledger.runningBySession.get(session);
    if (other !== undefined) ledger.overlaps.push(`${session}: ${id} on ${this.name} while ${other}`);
    ledger.runningBySession.set(session, `${id}@${this.name}`);
    ledger.starts.push({ id, proc: this.name, seq: ++ledger.seq });
    if (this.behaviour.crashLoop.has(id)) {
      this.crash();
      return new Promise<void>(() => {}); // the process is gone: this handler never ends
    }
    const attempt = this.server.starts.get(id) ?? 0;
    await new Promise((resolve) => setTimeout(resolve, this.behaviour.slow.has(id) ? LEASE_MS * 3 : 5 + (id % 7) * 5));
    if (!this.alive) return new Promise<void>(() => {});
    ledger.runningBySession.delete(session);
    if (this.behaviour.failOnce.has(id) && attempt === 1) throw new Error('first attempt fails');
    ledger.handled.push({ id, proc: this.name, seq: ++ledger.seq });
  }

  crash(): void {
    if (!this.alive) return;
    this.alive = false;
    clearInterval(this.poller);
    this.ledger.deadAt.set(this.name, Date.now());
    // Its handlers are gone with it: nothing of this process runs any more.
    for (const [session, running] of this.ledger.runningBySession) if (running.endsWith(`@${this.name}`)) this.ledger.runningBySession.delete(session);
    void this.group.stop(0, { abort: false });
    this.onCrash(this);
  }

  stop(): Promise<unknown> {
    clearInterval(this.poller);
    return this.group.stop(0);
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate', 'Date', 'performance'] });
});

afterEach(() => {
  vi.useRealTimers();
});

describe('lanes on a simulated server that redelivers', () => {
  it('keeps the ledger: order per session, no duplicates, no claim while held, crash loops dead-lettered, failed acks hold their session', async () => {
    const server = new SimulatedServer(() => Date.now());
    const ledger: Ledger = {
      seq: 0,
      starts: [],
      handled: [],
      ackedAt: new Map(),
      runningBySession: new Map(),
      overlaps: [],
      deadAt: new Map(),
      records: [],
    };
    const SESSIONS = 10;
    const MESSAGES = 150;
    for (let i = 1; i <= MESSAGES; i++) server.add(`s${i % SESSIONS}`, { id: i });
    const crashLoop = new Set([17, 64]);
    const slow = new Set([5, 33, 90]);
    const failOnce = new Set([8, 41]);
    for (const id of [12, 50, 77]) server.ackFailures.set(id, 2);

    const processes: ConsumerProcess[] = [];
    let spawned = 0;
    const spawn = (): void => {
      const proc = new ConsumerProcess(`p${++spawned}`, server, ledger, { crashLoop, slow, failOnce }, () => {
        setTimeout(spawn, 50); // a supervisor restarts it
      });
      processes.push(proc);
    };
    spawn();
    spawn();

    for (let i = 0; i < 4_000 && !(server.done && processes.every((p) => !p.alive || p.group.size === 0)); i++) {
      await vi.advanceTimersByTimeAsync(10);
    }
    expect(server.done).toBe(true);
    await Promise.all(processes.filter((p) => p.alive).map((p) => p.stop()));

    // Crash-looping messages: started on three processes (maxRetries 2), then dead-lettered unrun.
    // A message that was running on a process a crash loop killed counts that start too; one that
    // lost all three starts that way is dead-lettered the same way (and each of its starts died).
    const deadLettered = new Set(server.deadLetters.map((d) => d.id));
    expect(deadLettered.size).toBe(server.deadLetters.length);
    for (const id of crashLoop) expect(deadLettered.has(id)).toBe(true);
    for (const record of server.deadLetters) {
      expect(record).toEqual({ id: record.id, attempts: 3, reason: 'exhausted-before-start' });
      expect(server.starts.get(record.id)).toBe(3);
      const startedOn = ledger.starts.filter((s) => s.id === record.id).map((s) => s.proc);
      expect(startedOn).toHaveLength(3);
      for (const proc of startedOn) expect(ledger.deadAt.has(proc)).toBe(true);
    }
    expect(spawned).toBe(2 + 3 * crashLoop.size);
    // The engine built each record: where it came from, the group, the attempts, the envelope.
    expect(ledger.records.map((r) => Number(r.source.id)).sort((a, b) => a - b)).toEqual([...deadLettered].sort((a, b) => a - b));
    for (const record of ledger.records) {
      expect(record).toMatchObject({ group: 'g', attempts: 3, source: { stream: 'sim-events' } });
      expect(record.envelope).toMatchObject({ retryCount: 2, payload: { id: Number(record.source.id) } });
      expect(processes.reduce((n, p) => n + p.metrics.deadLettered, 0)).toBe(ledger.records.length);
    }

    // Everything else handled, and acknowledged. Handled twice only when the first process died
    // between its handler's end and a successful acknowledgement (at least once); never otherwise.
    const expected = server.entries.map((e) => e.id).filter((id) => !deadLettered.has(id));
    expect([...new Set(ledger.handled.map((h) => h.id))].sort((a, b) => a - b)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(MESSAGES - 10);
    for (const id of expected) {
      const handlings = ledger.handled.filter((h) => h.id === id);
      for (const earlier of handlings.slice(0, -1)) expect(ledger.deadAt.has(earlier.proc), `${id} handled twice`).toBe(true);
    }
    for (const id of expected) expect(server.acked.has(id)).toBe(true);

    // Order per session, and never two attempts of a session at once.
    for (let s = 0; s < SESSIONS; s++) {
      const ids = ledger.handled.filter((h) => server.entry(h.id).sessionId === `s${s}`).map((h) => h.id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    expect(ledger.overlaps).toEqual([]);
    expect(processes.map((p) => p.group.orderViolations)).toEqual(processes.map(() => 0));
    expect(processes.map((p) => p.metrics.orderViolations)).toEqual(processes.map(() => 0));

    // Claims happened (the dead processes' messages), and only from processes already dead.
    expect(server.claims.length).toBeGreaterThanOrEqual(crashLoop.size * 2);
    for (const claim of server.claims) {
      const deadAt = ledger.deadAt.get(claim.from);
      expect(deadAt, `claim of ${claim.id} from live ${claim.from}`).toBeDefined();
      expect(claim.idleMs).toBeGreaterThanOrEqual(LEASE_MS);
    }
    // The slow handlers ran three leases long and were never claimed: renewal kept them.
    for (const id of slow) expect(server.claims.some((c) => c.id === id && !ledger.deadAt.has(c.from))).toBe(false);

    // A failed acknowledgement held its session: the session's next message started only after it.
    for (const id of [12, 50, 77]) {
      const session = server.entry(id).sessionId;
      const next = server.entries.find((e) => e.id > id && e.sessionId === session && !deadLettered.has(e.id));
      const ackSeq = ledger.ackedAt.get(id) as number;
      const nextStart = ledger.starts.find((s) => s.id === next!.id)!.seq;
      expect(nextStart).toBeGreaterThan(ackSeq);
    }
    // Failing-once handlers were retried on their own process.
    for (const id of failOnce) if (!deadLettered.has(id)) expect(ledger.starts.filter((s) => s.id === id).length).toBeGreaterThanOrEqual(2);
  }, 60_000);
});

describe('server hooks, one at a time', () => {
  it('push is idempotent by deliveryId: a redelivery raises the count, never adds a copy', async () => {
    const ran: number[] = [];
    const lanes = new SessionLanes<SimDelivery>({ acknowledge: () => undefined, deadLetter: () => undefined, retryDelayMs: () => 1 });
    const d = (attemptsMade: number): SimDelivery => ({
      envelope: createEnvelope({ sessionId: 's', eventType: 'x', componentSource: 'c', payload: {}, maxRetries: 5 }),
      id: 1,
      deliveryId: '1',
      attemptsMade,
    });
    const first = d(0);
    expect(lanes.push(first)).toBe(true);
    expect(lanes.push(d(2))).toBe(false);
    expect(lanes.size).toBe(1);
    expect(first.attemptsMade).toBe(2);
    lanes.attach({ subscriptionId: 'c', group: 'g', handlerTimeoutMs: 0, concurrency: 1, handler: (_e, ctx) => void ran.push(ctx.attempt) });
    await vi.advanceTimersByTimeAsync(5);
    expect(ran).toEqual([3]);
    expect(lanes.push(d(0))).toBe(true); // acknowledged and gone: a new delivery of the id
  });

  it('a claimed older delivery goes ahead of newer queued ones; behind a running newer one it goes next and is reported', async () => {
    const started: number[] = [];
    const violations: Array<[number, number]> = [];
    let release!: () => void;
    const lanes = new SessionLanes<SimDelivery>(
      { acknowledge: () => undefined, deadLetter: () => undefined, retryDelayMs: () => 1, comparePositions: (a, b) => a.id - b.id },
      { outOfOrder: (pushed, running) => void violations.push([pushed.id, running.id]) },
    );
    const d = (id: number): SimDelivery => ({
      envelope: createEnvelope({ sessionId: 's', eventType: 'x', componentSource: 'c', payload: { id } }),
      id,
      attemptsMade: 0,
    });
    lanes.attach({
      subscriptionId: 'c',
      group: 'g',
      handlerTimeoutMs: 0,
      concurrency: 1,
      handler: (e) => {
        started.push(e.payload['id'] as number);
        if (e.payload['id'] === 10) return new Promise<void>((resolve) => (release = resolve));
        return undefined;
      },
    });
    lanes.push(d(10));
    await vi.advanceTimersByTimeAsync(1);
    lanes.push(d(12));
    lanes.push(d(14));
    lanes.push(d(11)); // older than the queued 12 and 14: goes ahead of them
    lanes.push(d(5)); // older than the running 10: goes right after it, reported
    release();
    await vi.advanceTimersByTimeAsync(5);
    expect(started).toEqual([10, 5, 11, 12, 14]);
    expect(violations).toEqual([[5, 10]]);
  });

  it('a lost lease aborts the running attempt, drops it unacknowledged, and the session goes on', async () => {
    const acked: number[] = [];
    let signal: AbortSignal | undefined;
    const lose = new Set<number>();
    const renewed: number[][] = [];
    const lanes = new SessionLanes<SimDelivery>(
      {
        acknowledge: (d) => void acked.push(d.id),
        deadLetter: () => undefined,
        retryDelayMs: () => 1,
        renew: (ds) => {
          renewed.push(ds.map((d) => d.id));
          return ds.filter((d) => lose.has(d.id));
        },
      },
      {},
      { leaseMs: 90 },
    );
    const d = (id: number): SimDelivery => ({
      envelope: createEnvelope({ sessionId: 's', eventType: 'x', componentSource: 'c', payload: { id } }),
      id,
      attemptsMade: 0,
    });
    lanes.attach({
      subscriptionId: 'c',
      group: 'g',
      handlerTimeoutMs: 0,
      concurrency: 1,
      handler: (e, ctx) => {
        if (e.payload['id'] !== 1) return undefined;
        signal = ctx.signal;
        return new Promise<void>(() => {}); // runs past its lease
      },
    });
    lanes.push(d(1));
    lanes.push(d(2));
    await vi.advanceTimersByTimeAsync(30);
    expect(renewed).toEqual([[1, 2]]); // every third of the lease, all held deliveries in one call
    lose.add(1);
    await vi.advanceTimersByTimeAsync(30);
    expect(signal?.aborted).toBe(true);
    expect((signal?.reason as Error).name).toBe('LeaseLostError');
    // The handler ignores its signal: the session waits for it to end.
    expect(acked).toEqual([]);
    expect(lanes.stats.running).toBe(1);
  });

  it('a lost lease of a queued delivery drops only it', async () => {
    const ran: number[] = [];
    const lose = new Set<number>([2]);
    const lanes = new SessionLanes<SimDelivery>(
      { acknowledge: () => undefined, deadLetter: () => undefined, retryDelayMs: () => 1, renew: (ds) => ds.filter((d) => lose.has(d.id)) },
      {},
      { leaseMs: 30 },
    );
    for (const id of [1, 2, 3]) {
      lanes.push({ envelope: createEnvelope({ sessionId: 's', eventType: 'x', componentSource: 'c', payload: { id } }), id, attemptsMade: 0 });
    }
    await vi.advanceTimersByTimeAsync(15);
    expect(lanes.size).toBe(2);
    lanes.attach({ subscriptionId: 'c', group: 'g', handlerTimeoutMs: 0, concurrency: 1, handler: (e) => void ran.push(e.payload['id'] as number) });
    await vi.advanceTimersByTimeAsync(5);
    expect(ran).toEqual([1, 3]);
  });
});
