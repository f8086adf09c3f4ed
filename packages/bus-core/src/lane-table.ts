/**
 * The state `SessionLanes` keeps per session and per delivery: a lane (one session's deliveries in
 * order, its head's phase, its backoff timer and running attempt), what has been done for each held
 * delivery, and the counts that `stats` reports, kept exact by changing phases in one place (observer
 * throws are counted where observers are called, here).
 */
import type { RunningAttempt } from './attempt-runner.js';
import { Deque } from './deque.js';
import type { LaneConsumer, LaneDelivery, LaneFailure, LaneObserver, LaneStats } from './lane-types.js';

/** A delivery the lanes hold, with what has been done for it. */
export interface Held<D> {
  readonly delivery: D;
  /** It started once in its lane: it keeps the head of its session. */
  started: boolean;
  /** `beginAttempt` succeeded for this attempt number; its handler has not run yet. */
  begun: number | undefined;
  /** Acknowledged before its handler (`at_most_once`), or after it. */
  acked: boolean;
  /** Set when it is to be dead-lettered. */
  failure: LaneFailure | undefined;
  /** Its dead-letter record was written. */
  deadLettered: boolean;
  lost: boolean;
  /** Failures of settling hooks (and starts) in a row, for their backoff. */
  failures: number;
  /** The last settling hook failed and has not succeeded since. */
  failing: boolean;
}

export function newHeld<D>(delivery: D): Held<D> {
  return { delivery, started: false, begun: undefined, acked: false, failure: undefined, deadLettered: false, lost: false, failures: 0, failing: false };
}

/** Where a lane's head is. `none`: the lane is empty, or its head is finished or left unfinished. */
export type Phase = 'none' | 'ready' | 'starting' | 'running' | 'retrying' | 'settling';

/**
 * One session's deliveries in order (the lane is its own queue: one object per lane instead of a lane
 * and its queue, issue 11), its head's phase, its backoff timer and its running attempt.
 */
export class Lane<D> extends Deque<Held<D>> {
  phase: Phase = 'none';
  /** A backoff wait (retry, or a settling hook's retry). */
  timer: NodeJS.Timeout | undefined = undefined;
  attempt: RunningAttempt | undefined = undefined;
  abandoned = false;
  /** Entries of it in the lanes' ready queue (an entry can outlive the phase that put it there). */
  readyEntries = 0;

  /** `key`: its session (set again when the lanes reuse an emptied lane for another session). */
  constructor(public key: string) {
    super();
  }

  /** Its deliveries, in order. */
  get queue(): Deque<Held<D>> {
    return this;
  }
}

export function newLane<D>(key: string): Lane<D> {
  return new Lane<D>(key);
}

/** The counts behind `stats`; phases change only through `setPhase`, so they stay exact. */
export class LaneCounts {
  /** Deliveries held (in lanes, plus in-flight heads of abandoned lanes). */
  held = 0;
  running = 0;
  retrying = 0;
  settling = 0;
  failing = 0;
  observerErrors = 0;

  setPhase<D>(lane: Lane<D>, phase: Phase): void {
    const from = lane.phase;
    if (from === phase) return;
    const wasRunning = from === 'starting' || from === 'running';
    const isRunning = phase === 'starting' || phase === 'running';
    if (wasRunning && !isRunning) this.running--;
    else if (from === 'retrying') this.retrying--;
    else if (from === 'settling') this.settling--;
    if (isRunning && !wasRunning) this.running++;
    else if (phase === 'retrying') this.retrying++;
    else if (phase === 'settling') this.settling++;
    lane.phase = phase;
  }

  markFailing<D>(held: Held<D>): void {
    if (held.failing) return;
    held.failing = true;
    this.failing++;
  }

  clearFailing<D>(held: Held<D>): void {
    if (!held.failing) return;
    held.failing = false;
    this.failing--;
  }

  /** Runs an observer; its throw is counted here and ignored. */
  safely(observe: () => void): void {
    try {
      observe();
    } catch {
      this.observerErrors++;
    }
  }

  /** `observer.handled`, as `safely` runs it, without a closure per delivery (it runs for every one). */
  observeHandled<D extends LaneDelivery>(observer: LaneObserver<D>, delivery: D, durationMs: number, consumer: LaneConsumer): void {
    if (!observer.handled) return;
    try {
      observer.handled(delivery, durationMs, consumer);
    } catch {
      this.observerErrors++;
    }
  }

  /** `observer.left`, as `safely` runs it, without a closure per delivery. */
  observeLeft<D extends LaneDelivery>(observer: LaneObserver<D>, delivery: D): void {
    if (!observer.left) return;
    try {
      observer.left(delivery);
    } catch {
      this.observerErrors++;
    }
  }

  stats(): LaneStats {
    return {
      queued: this.held - this.running - this.retrying - this.settling,
      running: this.running,
      retrying: this.retrying,
      settling: this.settling,
      failingSettles: this.failing,
      observerErrors: this.observerErrors,
    };
  }
}

/**
 * Puts a claimed delivery in its place among those of its session that have not started (a head
 * that started keeps its place). Returns that head when the delivery is older than it: an order
 * violation to report.
 *
 * Those that have not started are in position order (every insert keeps them so), and a reader
 * pushes in the order it reads, so the place is almost always the end: the search runs from the
 * back, O(1) for an in-order push (a lane thousands deep costs nothing more), O(distance) for a
 * claimed delivery that overtakes newer ones.
 */
export function insertByPosition<D extends LaneDelivery>(lane: Lane<D>, held: Held<D>, compare: (a: D, b: D) => number): D | undefined {
  const queue = lane.queue;
  const head = queue.peek() as Held<D>;
  const fixed = head.started ? 1 : 0;
  let index = queue.length;
  while (index > fixed && compare(held.delivery, (queue.at(index - 1) as Held<D>).delivery) < 0) index--;
  queue.insertAt(index, held);
  return fixed === 1 && compare(held.delivery, head.delivery) < 0 ? head.delivery : undefined;
}

/** The held entry of `delivery` in its lane, and its index (0: the head). */
export function findHeld<D>(lane: Lane<D>, delivery: D): { held: Held<D>; index: number } | undefined {
  let index = 0;
  for (const held of lane.queue) {
    if (held.delivery === delivery) return { held, index };
    index++;
  }
  return undefined;
}

/** The smallest envelope `timestamp` among the lanes' heads (each its session's oldest), or undefined when none holds anything. */
export function oldestHeadTimestamp<D extends LaneDelivery>(lanes: Iterable<Lane<D>>): number | undefined {
  let oldest: number | undefined;
  for (const lane of lanes) {
    const head = lane.queue.peek();
    if (head === undefined) continue;
    const t = head.delivery.envelope.timestamp;
    if (oldest === undefined || t < oldest) oldest = t;
  }
  return oldest;
}

/** Every delivery the lanes hold, lane by lane in order. */
export function deliveriesOf<D>(lanes: Iterable<Lane<D>>): D[] {
  const out: D[] = [];
  for (const lane of lanes) for (const held of lane.queue) out.push(held.delivery);
  return out;
}
