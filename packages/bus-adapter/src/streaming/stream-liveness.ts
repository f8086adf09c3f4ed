/**
 * Liveness of a manager's streams: its two settings and the one interval that drives them. Each
 * open stream side sends something at least every `keepaliveMs`, and fails the stream when the
 * other side has sent nothing for `idleTimeoutMs` (see `checkLiveness` on the reader and writer).
 * The interval runs only while the manager has open streams, and never holds the process open.
 */
import { InvalidConfigError, configInteger } from '@woodwork/bus-core';

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
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: LivenessSettings,
    /** The streams open now (a fresh list: a check may end a stream). */
    private readonly streams: () => LivenessChecked[],
  ) {}

  /** Starts the interval if it is not running (and liveness is on). */
  start(): void {
    const { keepaliveMs, idleTimeoutMs } = this.settings;
    if (this.timer !== undefined || (keepaliveMs === 0 && idleTimeoutMs === 0)) return;
    // Often enough for both periods, so a keepalive is late and a timeout early by a third at most.
    const tickMs = Math.max(5, Math.floor(Math.min(...[keepaliveMs, idleTimeoutMs].filter((ms) => ms > 0)) / 3));
    this.timer = setInterval(() => this.tick(), tickMs);
    // Streams never keep a process alive by themselves; the bus's connection does.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    for (const stream of this.streams()) stream.checkLiveness(now, this.settings.idleTimeoutMs, this.settings.keepaliveMs);
  }
}
