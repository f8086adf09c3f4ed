/**
 * A `StreamClock` that moves only when the test says, and `runClock`, which moves it in steps,
 * each after the bus has handled everything sent so far. A liveness verdict (a stream kept open
 * through a pause, one failed after a silence) then depends on the clock the code reads, never on
 * how fast a loaded machine runs timers or delivers messages: a side that is alive has always been
 * heard from within the last step, and a step is a fraction of the idle timeout.
 */
import type { MemoryMessageBus } from '@woodwork/bus-memory';
import type { StreamClock } from '../../src/index.js';
import { quiet } from './memory.js';

interface Interval {
  tick: () => void;
  ms: number;
  next: number;
}

export class ManualClock implements StreamClock {
  private time = 0;
  private nextId = 0;
  private readonly intervals = new Map<number, Interval>();

  now(): number {
    return this.time;
  }

  setInterval(tick: () => void, ms: number): unknown {
    const id = ++this.nextId;
    this.intervals.set(id, { tick, ms, next: this.time + ms });
    return id;
  }

  clearInterval(handle: unknown): void {
    this.intervals.delete(handle as number);
  }

  /** Intervals running now. */
  get running(): number {
    return this.intervals.size;
  }

  /** Moves time on by `ms`, running each interval as often as it falls due, in time order. */
  advance(ms: number): void {
    const target = this.time + ms;
    for (;;) {
      let due: Interval | undefined;
      for (const interval of this.intervals.values()) if (interval.next <= target && (due === undefined || interval.next < due.next)) due = interval;
      if (due === undefined) break;
      this.time = due.next;
      due.next += due.ms;
      due.tick();
    }
    this.time = target;
  }
}

/**
 * Until `until()` holds: waits for the bus to be quiet, then moves `clock` on by `stepMs`. Returns
 * the clock's time when `until()` held; fails after `maxSteps` steps.
 */
export async function runClock(clock: ManualClock, bus: MemoryMessageBus, stepMs: number, until: () => boolean, maxSteps = 500): Promise<number> {
  for (let step = 0; step < maxSteps; step++) {
    await quiet(bus);
    if (until()) return clock.now();
    clock.advance(stepMs);
  }
  throw new Error(`still not done after ${maxSteps} steps of ${stepMs} ms on the manual clock`);
}

/** Moves `clock` on by `totalMs` in steps of `stepMs`, letting the bus go quiet before each. */
export async function passTime(clock: ManualClock, bus: MemoryMessageBus, totalMs: number, stepMs: number): Promise<void> {
  const end = clock.now() + totalMs;
  await runClock(clock, bus, stepMs, () => clock.now() >= end, Math.ceil(totalMs / stepMs) + 1);
}

/** A flag that turns true when `promise` settles (either way), to step a clock until then. */
export function settledFlag(promise: Promise<unknown>): { readonly done: boolean } {
  const flag = { done: false };
  promise.then(
    () => void (flag.done = true),
    () => void (flag.done = true),
  );
  return flag;
}
