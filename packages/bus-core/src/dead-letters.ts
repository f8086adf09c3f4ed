/**
 * Dead-letter records: what every backend keeps for a message it gave up on, their filters, and
 * their wire form (the design's `_move_to_dead_letter` fields plus ours, snake_case).
 */
import type { MessageEnvelope } from './envelope.js';
import { InvalidConfigError, InvalidMessageError } from './errors.js';
import { describeValue } from './describe-value.js';
import { placeholderEnvelope } from './undecodable.js';
import { fromWire, toWire, type WireEnvelope } from './wire.js';

export interface DeadLetterError {
  /** The error's `name`, e.g. `Error`, `HandlerTimeoutError`. */
  name: string;
  message: string;
  /** The `BusError` code when there is one. */
  code?: string;
  /** The error's `cause`, when it has one (an `UnrecoverableError` wrapping what went wrong). */
  cause?: DeadLetterError;
}

export interface DeadLetterRecord {
  /** Id of the record in the dead-letter store (what redrive and purge take). */
  id: string;
  /**
   * The envelope as published (its `retryCount` is the last attempt's). For an entry that could not
   * be decoded (`raw` set) a placeholder instead: see `undecodableDeadLetter`.
   */
  envelope: MessageEnvelope;
  /**
   * The entry exactly as read from the wire, when it could not be decoded into a valid envelope
   * (wire key `raw_entry`). Such a record has a placeholder `envelope` and 0 `attempts`, and
   * redrive skips it (there is no message to send back): repair and republish it, or purge it.
   */
  raw?: string;
  error: DeadLetterError;
  /** Handler attempts made (0 when the message could not be decoded). */
  attempts: number;
  /** Seconds since the epoch, float. */
  firstFailedAt: number;
  lastFailedAt: number;
  /** Where the message came from: the stream / subject / queue, and its id there. */
  source: { stream: string; id: string };
  /** The subscriber group that gave up on it; redrive sends it back to this group only. */
  group: string;
}

export interface DeadLetterFilter {
  ids?: readonly string[];
  /** The records of one message (one per group that gave up on it). */
  messageId?: string;
  sessionId?: string;
  group?: string;
  eventType?: string;
  /** At most this many records (oldest first). */
  limit?: number;
}

export interface RedriveResult {
  /** Record ids sent back to their group and removed from the dead-letter store. */
  redriven: string[];
  /**
   * Records kept, with why: their group no longer exists, its queue is full, or the record holds a
   * raw entry that never decoded (`redriveSkipReason`), among others.
   */
  skipped: Array<{ id: string; reason: string }>;
}

/**
 * Why redrive must keep a record whatever its group's state, or undefined when it may be sent
 * back. Every backend asks this first: a record with a `raw` entry has no valid envelope to send.
 */
export function redriveSkipReason(record: DeadLetterRecord): string | undefined {
  if (record.raw !== undefined) {
    return 'it holds a raw entry that could not be decoded (no valid envelope to send back): repair and republish it, or purge it';
  }
  return undefined;
}

export interface PurgeResult {
  purged: number;
}

const FILTER_KEYS = ['ids', 'messageId', 'sessionId', 'group', 'eventType', 'limit'];

/**
 * Checks a filter given to getDeadLetterMessages / redriveDeadLetters / purgeDeadLetters. A misspelt
 * key would otherwise match every record (a purge of one session would purge them all), so unknown
 * keys and wrong types are an `InvalidConfigError` naming `filter.<key>`.
 */
export function validateDeadLetterFilter(filter: unknown, allowLimit = true): DeadLetterFilter | undefined {
  if (filter === undefined) return undefined;
  if (typeof filter !== 'object' || filter === null || Array.isArray(filter)) {
    throw new InvalidConfigError('filter', `must be an object; got ${describeValue(filter)}`);
  }
  const allowed = allowLimit ? FILTER_KEYS : FILTER_KEYS.filter((k) => k !== 'limit');
  const f = filter as Record<string, unknown>;
  for (const key of Object.keys(f)) {
    if (!allowed.includes(key)) throw new InvalidConfigError(`filter.${key}`, 'is not a dead-letter filter field', allowed);
    const value = f[key];
    if (value === undefined) continue;
    if (key === 'ids') {
      if (!Array.isArray(value) || value.some((id) => typeof id !== 'string')) {
        throw new InvalidConfigError('filter.ids', `must be an array of record ids (strings); got ${describeValue(value)}`);
      }
    } else if (key === 'limit') {
      validateDeadLetterLimit(value, 'filter.limit');
    } else if (typeof value !== 'string') {
      throw new InvalidConfigError(`filter.${key}`, `must be a string; got ${describeValue(value)}`);
    }
  }
  return filter as DeadLetterFilter;
}

/** A number of records to list: an integer from 0. */
export function validateDeadLetterLimit(value: unknown, key = 'limit'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidConfigError(key, `must be an integer from 0; got ${describeValue(value)}`);
  }
  return value;
}

export function matchesDeadLetterFilter(record: DeadLetterRecord, filter: DeadLetterFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.ids && !filter.ids.includes(record.id)) return false;
  if (filter.messageId !== undefined && record.envelope.messageId !== filter.messageId) return false;
  if (filter.sessionId !== undefined && record.envelope.sessionId !== filter.sessionId) return false;
  if (filter.group !== undefined && record.group !== filter.group) return false;
  if (filter.eventType !== undefined && record.envelope.eventType !== filter.eventType) return false;
  return true;
}

const MAX_ERROR_TEXT = 2_000;

/**
 * What a dead-letter record says about a thrown value. Never throws, whatever was thrown (an object
 * whose `toString`, `message` or `name` throws, a revoked `Proxy`, `Object.create(null)`, a symbol):
 * a message must never be lost because its error cannot be printed. Unprintable parts get a fallback
 * text naming the kind of value. The `cause` is kept one level deep.
 */
export function errorToDeadLetterError(error: unknown, depth = 0): DeadLetterError {
  const name = readText(error, 'name');
  const message = readText(error, 'message');
  const code = readText(error, 'code');
  const causeValue = depth === 0 ? readField(error, 'cause') : undefined;
  const isError = safeIsError(error);
  const out: DeadLetterError = {
    name: name ?? (isError ? 'Error' : 'NonError'),
    message: message ?? (isError ? '' : safeString(error)),
  };
  if (code !== undefined) out.code = code;
  if (causeValue !== undefined) out.cause = errorToDeadLetterError(causeValue, depth + 1);
  return out;
}

function safeIsError(value: unknown): boolean {
  try {
    return value instanceof Error;
  } catch {
    return false;
  }
}

function readField(value: unknown, key: string): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** A string field of a thrown object, when reading it works and gives a string. */
function readText(value: unknown, key: string): string | undefined {
  const field = readField(value, key);
  return typeof field === 'string' ? field.slice(0, MAX_ERROR_TEXT) : undefined;
}

/** `String(value)`, or a fallback text naming the kind of value when that throws. */
function safeString(value: unknown): string {
  try {
    return String(value).slice(0, MAX_ERROR_TEXT);
  } catch {
    let kind: string = typeof value;
    try {
      kind = describeValue(value);
    } catch {
      // A Proxy whose traps throw: `typeof` is all that is safe.
    }
    return `(a thrown value that cannot be printed: ${kind})`;
  }
}

export interface WireDeadLetter {
  dead_letter_id: string;
  original_stream: string;
  original_message_id: string;
  envelope: WireEnvelope;
  error: string;
  error_type: string;
  error_code: string | null;
  /** The error's cause, when it has one (`error` / `error_type` / `error_code` of it). */
  error_cause?: { error: string; error_type: string; error_code: string | null };
  attempts: number;
  first_failed_at: number;
  failed_at: number;
  group: string;
  /** Only on a record of an entry that could not be decoded: the entry as read. */
  raw_entry?: string;
}

export function deadLetterToWire(record: DeadLetterRecord): WireDeadLetter {
  return {
    dead_letter_id: record.id,
    original_stream: record.source.stream,
    original_message_id: record.source.id,
    envelope: toWire(record.envelope),
    error: record.error.message,
    error_type: record.error.name,
    error_code: record.error.code ?? null,
    ...(record.error.cause
      ? { error_cause: { error: record.error.cause.message, error_type: record.error.cause.name, error_code: record.error.cause.code ?? null } }
      : {}),
    attempts: record.attempts,
    first_failed_at: record.firstFailedAt,
    failed_at: record.lastFailedAt,
    group: record.group,
    ...(record.raw === undefined ? {} : { raw_entry: record.raw }),
  };
}

/**
 * Reads a dead-letter record written by any woodwork process, including the design's Python form
 * (`envelope` as a JSON string, `failed_at` only). Unknown keys are ignored.
 */
export function deadLetterFromWire(data: unknown, fallbackId?: string): DeadLetterRecord {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new InvalidMessageError('dead_letter', `must be a JSON object; got ${describeValue(data)}`);
  }
  // Own keys only: nothing is read from a prototype.
  const d = Object.assign(Object.create(null) as Record<string, unknown>, data);
  const raw = d['raw_entry'] == null ? undefined : d['raw_entry'];
  if (raw !== undefined && typeof raw !== 'string') {
    throw new InvalidMessageError('raw_entry', `must be a string or null; got ${describeValue(raw)}`);
  }
  const failedAt = wireNumber(d, 'failed_at', 0);
  const rawEnvelope =
    d['envelope'] == null && raw !== undefined
      ? toWire(placeholderEnvelope(raw, failedAt))
      : typeof d['envelope'] === 'string'
        ? parseEnvelopeText(d['envelope'])
        : d['envelope'];
  const id = typeof d['dead_letter_id'] === 'string' ? d['dead_letter_id'] : fallbackId;
  if (id === undefined) throw new InvalidMessageError('dead_letter_id', 'is required');
  const code = d['error_code'];
  const cause = d['error_cause'];
  return {
    id,
    envelope: fromWire(rawEnvelope),
    error: {
      name: typeof d['error_type'] === 'string' ? d['error_type'] : 'Error',
      message: String(d['error'] ?? ''),
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof cause === 'object' && cause !== null ? { cause: causeFromWire(cause as Record<string, unknown>) } : {}),
    },
    attempts: wireNumber(d, 'attempts', 0),
    firstFailedAt: wireNumber(d, 'first_failed_at', failedAt),
    lastFailedAt: failedAt,
    source: { stream: String(d['original_stream'] ?? ''), id: String(d['original_message_id'] ?? '') },
    group: String(d['group'] ?? ''),
    ...(raw === undefined ? {} : { raw }),
  };
}

function causeFromWire(c: Record<string, unknown>): DeadLetterError {
  const code = c['error_code'];
  return {
    name: typeof c['error_type'] === 'string' ? c['error_type'] : 'Error',
    message: String(c['error'] ?? ''),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

function parseEnvelopeText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new InvalidMessageError('envelope', `must be a JSON object or JSON text of one (${(cause as Error).message})`, { cause });
  }
}

/** A number, or the numeric text a Redis stream field holds (the design writes `failed_at` there). */
function wireNumber(d: Record<string, unknown>, key: string, fallback: number): number {
  const value = d[key];
  if (value == null) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidMessageError(key, `must be a number; got ${describeValue(value)}`);
  return n;
}
