/**
 * Dead letters for wire entries that cannot be decoded: bad JSON, a missing key, an id with
 * control characters, a payload nested too deep, anything `decodeEnvelope` refuses.
 *
 * Such an entry is never handed to a handler and never retried (it would fail the same way
 * forever): the backend that read it builds one record with `undecodableDeadLetter`, stores it
 * like any dead letter, and acknowledges the entry. The record keeps the entry as read (`raw`,
 * wire key `raw_entry`), the reason, 0 attempts, and a placeholder envelope (below) so that lists,
 * filters and `deleteSessionQueue` work on it as on any record. Redrive skips it
 * (`redriveSkipReason`): an operator repairs and republishes the message, or purges the record.
 *
 * Typical use in a backend's consumer:
 *
 * ```ts
 * let envelope: MessageEnvelope;
 * try {
 *   envelope = decodeEnvelope(text, { maxPayloadBytes: options.maxPayloadBytes });
 * } catch (reason) {
 *   await store.add(undecodableDeadLetter({ raw: text, reason, source: { stream, id: entryId }, group }));
 *   await ack(entryId); // once: the record now holds it
 *   return;
 * }
 * ```
 */
import { describeValue } from './describe-value.js';
import type { DeadLetterRecord } from './dead-letters.js';
import { MessageDeliveryMode, MessagePattern, nowSeconds, type MessageEnvelope } from './envelope.js';
import { errorToDeadLetterError } from './dead-letters.js';
import { validateEventType, validateMessageId, validateName } from './validation.js';

/** The placeholder's event type when the entry has no valid one of its own. */
export const UNDECODABLE_EVENT_TYPE = 'woodwork.undecodable';
/** The placeholder's session id, component source and message-id prefix when the entry has none valid. */
export const UNDECODABLE_NAME = 'undecodable';
/**
 * Longest raw entry kept, in UTF-16 characters (1 MiB of ASCII); a longer one is cut to this and
 * the record's error message says so. Keeps one hostile entry from filling the dead-letter store.
 */
export const MAX_RAW_ENTRY_CHARS = 1024 * 1024;

/** A dead-letter record before its store gives it an id. */
export type NewDeadLetterRecord = Omit<DeadLetterRecord, 'id'>;

export interface UndecodableEntry {
  /**
   * The entry as read: its JSON text, or its field map (a Redis stream entry's fields), or its
   * bytes (decoded as UTF-8). Kept as text in the record's `raw`.
   */
  raw: unknown;
  /** Why it could not be decoded: usually the `InvalidMessageError` from `decodeEnvelope`. */
  reason: unknown;
  /** Where it was read: the stream / subject, and the entry's id there. */
  source: { stream: string; id: string };
  /** The group that read it (the record belongs to this group, like any dead letter). */
  group: string;
  /** Seconds since the epoch; default now. */
  now?: number;
}

/**
 * The dead-letter record (without its store id) for an entry that cannot be decoded: 0 attempts,
 * the reason as the error, the entry as `raw`, and `placeholderEnvelope(raw)` as the envelope.
 * Never throws, whatever `raw` and `reason` are.
 */
export function undecodableDeadLetter(entry: UndecodableEntry): NewDeadLetterRecord {
  const now = entry.now ?? nowSeconds();
  const full = rawText(entry.raw);
  const raw = full.length > MAX_RAW_ENTRY_CHARS ? full.slice(0, MAX_RAW_ENTRY_CHARS) : full;
  const error = errorToDeadLetterError(entry.reason);
  if (raw.length < full.length) error.message += ` (raw entry cut to its first ${MAX_RAW_ENTRY_CHARS} of ${full.length} characters)`;
  return {
    envelope: placeholderEnvelope(full, now),
    error,
    attempts: 0,
    firstFailedAt: now,
    lastFailedAt: now,
    source: { stream: String(entry.source?.stream ?? ''), id: String(entry.source?.id ?? '') },
    group: String(entry.group ?? ''),
    raw,
  };
}

/**
 * The placeholder envelope of an undecodable entry. It is a valid envelope (it passes
 * `validateEnvelope`), built only from what the entry itself says where that passes its rule:
 * - `messageId`: the entry's `message_id`, else `undecodable-<timestamp>`;
 * - `sessionId`, `componentSource`: the entry's `session_id` / `component_source`, else `undecodable`;
 * - `eventType`: the entry's `event_type`, else `woodwork.undecodable`;
 * - `componentTarget`: the entry's, else null;
 * - `timestamp`: when it failed (`now`); `payload`, `metadata`: empty; `retryCount`, `maxRetries`: 0;
 * - `deliveryMode` `at_least_once`, `pattern` `point_to_point`.
 * So a session's undecodable entries are listed, filtered and deleted with the session.
 */
export function placeholderEnvelope(raw: string, now: number): MessageEnvelope {
  const fields = identityFields(raw);
  return {
    messageId: pick(fields['message_id'], (v) => validateMessageId(v)) ?? `${UNDECODABLE_NAME}-${Math.round(now * 1000)}`,
    sessionId: pick(fields['session_id'], (v) => validateName(v, 'sessionId')) ?? UNDECODABLE_NAME,
    eventType: pick(fields['event_type'], (v) => validateEventType(v)) ?? UNDECODABLE_EVENT_TYPE,
    componentSource: pick(fields['component_source'], (v) => validateName(v, 'componentSource')) ?? UNDECODABLE_NAME,
    componentTarget: pick(fields['component_target'], (v) => validateName(v, 'componentTarget')) ?? null,
    timestamp: now,
    deliveryMode: MessageDeliveryMode.AT_LEAST_ONCE,
    pattern: MessagePattern.POINT_TO_POINT,
    payload: {},
    metadata: {},
    retryCount: 0,
    maxRetries: 0,
  };
}

/** True for a record of an entry that could not be decoded (its envelope is a placeholder). */
export function isUndecodableDeadLetter(record: Pick<DeadLetterRecord, 'raw'>): boolean {
  return record.raw !== undefined;
}

const IDENTITY_KEYS = ['message_id', 'session_id', 'event_type', 'component_source', 'component_target'];

/** The identity keys of the entry if it is a JSON object (only those, only own, only strings). */
function identityFields(raw: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return out;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return out;
  for (const key of IDENTITY_KEYS) {
    const value: unknown = Object.hasOwn(data, key) ? (data as Record<string, unknown>)[key] : undefined;
    if (typeof value === 'string') out[key] = value;
  }
  return out;
}

function pick(value: string | undefined, check: (value: string) => unknown): string | undefined {
  if (value === undefined) return undefined;
  try {
    check(value);
    return value;
  } catch {
    return undefined;
  }
}

function rawText(raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  try {
    const text = JSON.stringify(raw);
    if (typeof text === 'string') return text;
  } catch {
    // Cycles, BigInt, nesting past the stack: fall through to a description.
  }
  return `(not representable as text: ${describeValue(raw)})`;
}
