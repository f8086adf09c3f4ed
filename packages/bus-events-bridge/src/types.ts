/**
 * The types an event manager is generic over: an event map (event name -> payload type) so that
 * `emit('agent.thought', {...})` is type-checked, the two kinds of listener (hooks observe, pipes
 * transform) and what each is told about the event besides its payload.
 */
import { InvalidMessageError, describeValue } from '@woodwork/bus-core';

/**
 * Constraint for an event map: each event name maps to an object payload. Written as a
 * self-reference so that plain `interface`s (which have no index signature) qualify.
 */
export type EventMapOf<E> = { [K in keyof E]: object };

/** The map used when none is given: any event name, any object payload. */
export type AnyEvents = Record<string, Record<string, unknown>>;

/** Event names of a map (string keys only). */
export type EventName<E> = keyof E & string;

export interface HookContext {
  event: string;
  /** The session the payload belongs to (see `sessionIdOf`). */
  sessionId: string;
  /**
   * Aborts when the hook ran out of time (locally: `hookTimeoutMs`; on the bus: the attempt's
   * timeout), its session was deleted or the bus is closing.
   */
  signal: AbortSignal;
  /** 1 for the first attempt; higher when the bus retries a failed hook. */
  attempt: number;
  /** The bus message id; null when the hook ran locally. */
  messageId: string | null;
  /** The component that emitted the event; null when the hook ran locally. */
  componentSource: string | null;
}

export interface PipeContext {
  event: string;
  sessionId: string;
}

/** An observer. Its result is ignored; a throw or rejection is a failure of this hook alone. */
export type Hook<P> = (payload: P, context: HookContext) => unknown;

/**
 * A transformer. A returned value replaces the payload for the next pipe and the emitter;
 * `undefined` keeps it. Pipes should return a new object rather than change the one they get,
 * because hooks may still be reading it.
 */
export type Pipe<P> = (payload: P, context: PipeContext) => P | undefined | void | Promise<P | undefined | void>;

export interface HookOptions {
  /**
   * A stable name for the hook, unique per event within one manager. On the bus it names the
   * hook's durable group, so replicas of an app must use the same names; without it the hook is
   * named by its registration order for that event (`h0`, `h1`, ...).
   */
  name?: string;
}

/** The woodwork default session, used when a payload carries none (as in the design). */
export const DEFAULT_SESSION_ID = 'default';

/**
 * The session a payload belongs to: its `session_id` field (the design's snake_case form), else its
 * `sessionId` field, else `fallback`. A session field that is present but not a string is an error,
 * not silently ignored: routing it to the default session would mix sessions.
 */
export function sessionIdOf(payload: unknown, fallback: string): string {
  if (typeof payload !== 'object' || payload === null) return fallback;
  for (const key of ['session_id', 'sessionId'] as const) {
    const value = (payload as Record<string, unknown>)[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') {
      throw new InvalidMessageError(`payload.${key}`, `must be a string session id; got ${describeValue(value)}`);
    }
    return value;
  }
  return fallback;
}
