/**
 * The dead-letter pages over the bus contract. The bus lists records oldest first up to a limit
 * (`getDeadLetterMessages`); the dashboard reads one listing of up to `maxDeadLetterScan` records for
 * a filter, filters it by age, and cuts pages out of it, so the page never holds more than one page.
 * A listing is kept for a moment (paging through 10,000 records reads them once, not once a page)
 * and dropped after every redrive or purge.
 *
 * Actions take record ids only: an action on a filter is first turned into the list of ids it
 * matches (`matchingIds`), shown to the user for confirmation, then sent as that list, so it never
 * touches a record that arrived after the user said yes.
 */
import { InvalidMessageError, deadLetterToWire, redactSecrets, validateEventType, validateName, type DeadLetterRecord, type MessageBus, type WireDeadLetter } from '@woodwork/bus-core';
import { HttpError } from './http-io.js';

export interface DeadLetterQuery {
  group?: string;
  eventType?: string;
  sessionId?: string;
  /** Only records whose last failure is at least this old. */
  olderThanMs?: number;
  /** Only records whose last failure is younger than this. */
  newerThanMs?: number;
}

/** One line of the table: what the page shows, errors with URL secrets replaced. */
export interface DeadLetterRow {
  id: string;
  group: string;
  sessionId: string;
  eventType: string;
  messageId: string;
  attempts: number;
  /** Seconds since the epoch. */
  failedAt: number;
  error: string;
}

export interface DeadLetterPage {
  total: number;
  /** The listing reached `maxDeadLetterScan`: there are more records than were looked at. */
  truncated: boolean;
  offset: number;
  limit: number;
  rows: DeadLetterRow[];
}

export const MAX_PAGE_SIZE = 200;
const LISTING_TTL_MS = 3_000;
const MAX_ID_LENGTH = 512;
/** Ids per redrive / purge call: the memory backend checks each record against the id list. */
const ACTION_CHUNK = 500;

export function parseDeadLetterQuery(params: URLSearchParams): DeadLetterQuery {
  const query: DeadLetterQuery = {};
  const group = text(params, 'group');
  if (group !== undefined) query.group = checked(() => validateName(group, 'group'));
  const sessionId = text(params, 'sessionId');
  if (sessionId !== undefined) query.sessionId = checked(() => validateName(sessionId, 'sessionId'));
  const eventType = text(params, 'eventType');
  if (eventType !== undefined) query.eventType = checked(() => validateEventType(eventType, 'eventType'));
  const older = milliseconds(params, 'olderThanMs');
  if (older !== undefined) query.olderThanMs = older;
  const newer = milliseconds(params, 'newerThanMs');
  if (newer !== undefined) query.newerThanMs = newer;
  return query;
}

export function parsePaging(params: URLSearchParams): { offset: number; limit: number } {
  const offset = whole(params, 'offset', 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const limit = whole(params, 'limit', 1, MAX_PAGE_SIZE) ?? 50;
  return { offset, limit };
}

/** The `ids` of a redrive / purge body: 1 to `max` distinct non-empty strings. */
export function parseIds(body: unknown, max: number): string[] {
  const ids = (body as { ids?: unknown } | null)?.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > max) {
    throw new HttpError(400, `ids must be an array of 1 to ${max} dead-letter ids`);
  }
  for (const id of ids) {
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
      throw new HttpError(400, `every id must be a string of 1 to ${MAX_ID_LENGTH} characters`);
    }
  }
  return [...new Set(ids as string[])];
}

export class DeadLetterListing {
  private cached: { key: string; at: number; records: DeadLetterRecord[]; truncated: boolean } | undefined;

  constructor(
    private readonly bus: MessageBus,
    private readonly maxScan: number,
  ) {}

  /** Records matching `query`, oldest first, at most `maxScan` looked at. */
  async list(query: DeadLetterQuery, fresh = false): Promise<{ records: DeadLetterRecord[]; truncated: boolean }> {
    const key = JSON.stringify([query.group, query.eventType, query.sessionId]);
    const now = Date.now();
    let listing = this.cached;
    if (fresh || !listing || listing.key !== key || now - listing.at > LISTING_TTL_MS) {
      const filter = {
        ...(query.group === undefined ? {} : { group: query.group }),
        ...(query.eventType === undefined ? {} : { eventType: query.eventType }),
        ...(query.sessionId === undefined ? {} : { sessionId: query.sessionId }),
      };
      const records = await this.bus.getDeadLetterMessages(this.maxScan, filter);
      listing = { key, at: now, records, truncated: records.length >= this.maxScan };
      this.cached = listing;
    }
    const records = listing.records.filter((r) => matchesAge(r, query, now));
    return { records, truncated: listing.truncated };
  }

  async page(query: DeadLetterQuery, offset: number, limit: number): Promise<DeadLetterPage> {
    const { records, truncated } = await this.list(query);
    return { total: records.length, truncated, offset, limit, rows: records.slice(offset, offset + limit).map(toRow) };
  }

  /** Every id the query matches now (read afresh), for an action on a filter. */
  async matchingIds(query: DeadLetterQuery): Promise<{ ids: string[]; truncated: boolean }> {
    const { records, truncated } = await this.list(query, true);
    return { ids: records.map((r) => r.id), truncated };
  }

  /** One record in the dead-letter wire form, error texts redacted; undefined when there is none. */
  async record(id: string): Promise<WireDeadLetter | undefined> {
    const [record] = await this.bus.getDeadLetterMessages(1, { ids: [id] });
    return record === undefined ? undefined : redactRecord(deadLetterToWire(record));
  }

  async redrive(ids: string[]): Promise<{ redriven: string[]; skipped: Array<{ id: string; reason: string }>; notFound: string[] }> {
    this.cached = undefined;
    const redriven: string[] = [];
    const skipped: Array<{ id: string; reason: string }> = [];
    try {
      for (let i = 0; i < ids.length; i += ACTION_CHUNK) {
        const result = await this.bus.redriveDeadLetters({ ids: ids.slice(i, i + ACTION_CHUNK) });
        redriven.push(...result.redriven);
        skipped.push(...result.skipped.map((s) => ({ id: s.id, reason: redactSecrets(s.reason) })));
      }
    } finally {
      this.cached = undefined;
    }
    const seen = new Set([...redriven, ...skipped.map((s) => s.id)]);
    return { redriven, skipped, notFound: ids.filter((id) => !seen.has(id)) };
  }

  async purge(ids: string[]): Promise<{ purged: number; notFound: string[] }> {
    this.cached = undefined;
    let purged = 0;
    const notFound: string[] = [];
    try {
      for (let i = 0; i < ids.length; i += ACTION_CHUNK) {
        const chunk = ids.slice(i, i + ACTION_CHUNK);
        const existing = new Set((await this.bus.getDeadLetterMessages(chunk.length, { ids: chunk })).map((r) => r.id));
        notFound.push(...chunk.filter((id) => !existing.has(id)));
        purged += (await this.bus.purgeDeadLetters({ ids: chunk })).purged;
      }
    } finally {
      this.cached = undefined;
    }
    return { purged, notFound };
  }
}

function matchesAge(record: DeadLetterRecord, query: DeadLetterQuery, now: number): boolean {
  const age = now - record.lastFailedAt * 1000;
  if (query.olderThanMs !== undefined && age < query.olderThanMs) return false;
  if (query.newerThanMs !== undefined && age >= query.newerThanMs) return false;
  return true;
}

function toRow(r: DeadLetterRecord): DeadLetterRow {
  const error = `${r.error.name}${r.error.code ? ` [${r.error.code}]` : ''}: ${r.error.message}`;
  return {
    id: r.id,
    group: r.group,
    sessionId: r.envelope.sessionId,
    eventType: r.envelope.eventType,
    messageId: r.envelope.messageId,
    attempts: r.attempts,
    failedAt: r.lastFailedAt,
    error: redactSecrets(error.length > 300 ? `${error.slice(0, 299)}…` : error),
  };
}

function redactRecord(wire: WireDeadLetter): WireDeadLetter {
  const out = { ...wire, error: redactSecrets(wire.error) };
  if (out.error_cause) out.error_cause = { ...out.error_cause, error: redactSecrets(out.error_cause.error) };
  if (out.raw_entry !== undefined) out.raw_entry = redactSecrets(out.raw_entry);
  return out;
}

function text(params: URLSearchParams, key: string): string | undefined {
  const value = params.get(key);
  return value === null || value === '' ? undefined : value;
}

function milliseconds(params: URLSearchParams, key: string): number | undefined {
  return whole(params, key, 0, 100 * 365 * 86_400_000);
}

function whole(params: URLSearchParams, key: string, min: number, max: number): number | undefined {
  const value = text(params, key);
  if (value === undefined) return undefined;
  const n = /^\d{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new HttpError(400, `${key} must be an integer from ${min} to ${max}`);
  return n;
}

/** Core's name and event-type rules as a 400 naming the parameter. */
function checked<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof InvalidMessageError) throw new HttpError(400, `${error.field} ${error.rule}`);
    throw error;
  }
}
