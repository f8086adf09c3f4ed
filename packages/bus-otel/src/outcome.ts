/**
 * What became of one handler attempt, by the bus contract's rules: a success is acknowledged; a
 * failure is retried while attempts remain (`maxRetries + 1` in all, one for `at_most_once`), else
 * dead-lettered; an `UnrecoverableError` is dead-lettered at once. The attempt's signal says when
 * the bus stopped caring about the handler's own result (timeout, deleted session, lost lease).
 */
import { BusErrorCode, MessageDeliveryMode, type MessageEnvelope } from '@woodwork/bus-core';
import { Outcome } from './semconv.js';

/** Attempts a message gets, read before the handler runs (the handler may change its envelope). */
export function maxAttemptsOf(envelope: Pick<MessageEnvelope, 'deliveryMode' | 'maxRetries'>): number {
  return envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE ? 1 : envelope.maxRetries + 1;
}

function codeOf(value: unknown): unknown {
  try {
    return typeof value === 'object' && value !== null ? (value as { code?: unknown }).code : undefined;
  } catch {
    return undefined; // a Proxy or getter that throws
  }
}

export interface AttemptResult {
  outcome: Outcome;
  /** What failed the attempt (the handler's throw, or the signal's reason), when it failed. */
  error?: unknown;
}

/**
 * `failed` with `error` when the handler threw or rejected. A signal aborted with a handler timeout
 * fails the attempt whatever the handler did afterwards (the bus has already counted it).
 */
export function attemptOutcome(attempt: number, maxAttempts: number, signal: AbortSignal, failed: boolean, error?: unknown): AttemptResult {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    const code = codeOf(reason);
    if (code === BusErrorCode.SESSION_DELETED) return { outcome: Outcome.DISCARDED, error: reason };
    if (code === BusErrorCode.LEASE_LOST) return { outcome: Outcome.LEASE_LOST, error: reason };
    if (code === BusErrorCode.HANDLER_TIMEOUT) return failedOutcome(attempt, maxAttempts, reason);
  }
  if (!failed) return { outcome: Outcome.ACKNOWLEDGED };
  return failedOutcome(attempt, maxAttempts, error);
}

function failedOutcome(attempt: number, maxAttempts: number, error: unknown): AttemptResult {
  if (codeOf(error) === BusErrorCode.UNRECOVERABLE || attempt >= maxAttempts) return { outcome: Outcome.DEAD_LETTERED, error };
  return { outcome: Outcome.RETRIED, error };
}

/** `error.type`: a `BusError`'s code, else the error's name, else the kind of value thrown. */
export function errorType(error: unknown): string {
  const code = codeOf(error);
  if (typeof code === 'string' && code.length > 0 && code.length <= 64) return code;
  try {
    if (error instanceof Error && typeof error.name === 'string' && error.name.length <= 64) return error.name;
  } catch {
    // fall through
  }
  return error === null ? 'null' : typeof error;
}

/** A short printable message for a span's status; never throws. */
export function errorMessage(error: unknown): string {
  try {
    if (error instanceof Error) return String(error.message).slice(0, 500);
    return String(error).slice(0, 500);
  } catch {
    return 'unprintable error';
  }
}
