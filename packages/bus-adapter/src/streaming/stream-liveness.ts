/**
 * Liveness of a manager's streams: its two settings and the one interval that drives them. Each
 * open stream side sends something at least every `keepaliveMs`, and fails the stream when the
 * other side has sent nothing for `idleTimeoutMs` (see `checkLiveness` on the reader and writer).
 * The interval runs only while the manager has open streams, and never holds the process open.
 *
 * Time comes from a `StreamClock` (the system's unless a test injects one), so a test can move time
 * itself and decide a verdict on that time, not on how fast a loaded machine runs the timers.
 */
import { InvalidConfigError, configInteger, describeValue } from '@woodwork/bus-core';

/** Where a manager and its streams read the time and run their liveness interval. */
export interface StreamClock {
  /** Milliseconds; only differences are used. */
  now(): number;
  /** Calls `tick` every `ms` until cleared; must not keep the process alive. */
  setInterval(tick: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const systemClock: StreamClock = Object.freeze({
  now: () => Date.now(),
  setInterval: (tick: () => void, ms: number) => {
    const timer = setInterval(tick, ms);
    // Streams never keep a process alive by themselves; the bus's connection does.
    timer.unref();
    return timer;
  },
  clearInterval: (handle: unknown) => clearInterval(handle as NodeJS.Timeout),
});

export function resolveClock(clock: unknown): StreamClock {
  if (clock === undefined) return systemClock;
  const c = clock as Partial<StreamClock> | null;
  if (typeof c !== 'object' || c === null || typeof c.now !== 'function' || typeof c.setInterval !== 'function' || typeof c.clearInterval !== 'function') {
    throw new InvalidConfigError('clock', `must be an object with now(), setInterval() and clearInterval(); got ${describeValue(clock)}`);
  }
  return c as StreamClock;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
export const DEFAULT_KEEPALIVE_MS = 5_000;

export interface LivenessSettings {
  idleTimeoutMs: number;
  keepaliveMs: number;
}

export function resolveLiveness(idleTimeoutMs: unknown, keepaliveMs: unknown): LivenessSettings {
  const idle = configInteger(idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS, 'idleTimeoutMs', 0);
  const keepalive = configInteger(keepaliveMs ?? DEFAULT_KEEPALIVE_MS, 'keepaliveMs', 0);
  if (idle > 0 && keepalive === 0) {
    throw new InvalidConfigError('keepaliveMs', 'must be above 0 while idleTimeoutMs is (a silent stream would look dead); set both to 0 to turn liveness off');
  }
  if (idle > 0 && idle <= keepalive) {
    throw new InvalidConfigError('idleTimeoutMs', `must be greater than keepaliveMs (${keepalive}), or 0; got ${idle}`);
  }
  return { idleTimeoutMs: idle, keepaliveMs: keepalive };
}

export interface LivenessChecked {
  checkLiveness(now: number, idleTimeoutMs: number, keepaliveMs: number): void;
}

export class LivenessTicker {
  private timer: unknown;
  private running = false;

  constructor(
    private readonly settings: LivenessSettings,
    private readonly clock: StreamClock,
    /** The streams open now (a fresh list: a check may end a stream). */
    private readonly streams: () => LivenessChecked[],
  ) {}

  /** Starts the interval if it is not running (and liveness is on). */
  start(): void {
    const { keepaliveMs, idleTimeoutMs } = this.settings;
    if (this.running || (keepaliveMs === 0 && idleTimeoutMs === 0)) return;
    // Often enough for both periods, so a keepalive is late and a timeout early by a third at most.
    const tickMs = Math.max(5, Math.floor(Math.min(...[keepaliveMs, idleTimeoutMs].filter((ms) => ms > 0)) / 3));
    this.running = true;
    this.timer = this.clock.setInterval(() => this.tick(), tickMs);
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = this.clock.now();
    for (const stream of this.streams()) stream.checkLiveness(now, this.settings.idleTimeoutMs, this.settings.keepaliveMs);
  }
}
