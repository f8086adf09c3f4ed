/**
 * `woodwork-bus dlq list | show | redrive | purge`: the dead-letter queue through the bus contract
 * (`getDeadLetterMessages`, `redriveDeadLetters`, `purgeDeadLetters`), so it works the same on every
 * backend. JSON output uses core's dead-letter wire form (snake_case, readable by Python woodwork).
 * Redrive and purge take ids, `--all` or filters, never nothing, so a bare command cannot touch
 * every record by accident; an id that does not exist is reported and makes the exit code 1.
 */
import { deadLetterToWire, type DeadLetterFilter, type DeadLetterRecord, type MessageBus } from '@woodwork/bus-core';
import type { DeadLetterSelection } from './args.js';
import { cut, formatPairs, formatTable, isoTime, safeJson, safeText, shortJson, writeJson, type TextSink } from './output.js';

export interface DlqIo {
  out: TextSink;
  err: TextSink;
  json: boolean;
}

export async function runDlqList(
  bus: MessageBus,
  io: DlqIo,
  limit: number,
  filter: Omit<DeadLetterFilter, 'limit' | 'ids'>,
): Promise<number> {
  const records = await bus.getDeadLetterMessages(limit, filter);
  if (io.json) {
    writeJson(io.out, records.map(toWire));
    return 0;
  }
  if (records.length === 0) {
    io.out.write('no dead letters\n');
    return 0;
  }
  // A routed bus names the member holding each record (its id starts with it too).
  const routed = records.some((r) => memberOf(r) !== undefined);
  const rows = records.map((r) => [
    r.id,
    ...(routed ? [memberOf(r) ?? '-'] : []),
    isoTime(r.lastFailedAt),
    r.group,
    r.envelope.sessionId,
    r.envelope.eventType,
    String(r.attempts),
    cut(errorText(r), 60),
  ]);
  io.out.write(formatTable(['ID', ...(routed ? ['MEMBER'] : []), 'FAILED AT', 'GROUP', 'SESSION', 'EVENT', 'ATTEMPTS', 'ERROR'], rows));
  return 0;
}

export async function runDlqShow(bus: MessageBus, io: DlqIo, id: string): Promise<number> {
  const [record] = await bus.getDeadLetterMessages(1, { ids: [id] });
  if (!record) {
    io.err.write(`woodwork-bus: no dead letter with id ${safeText(id)}\n`);
    return 1;
  }
  if (io.json) writeJson(io.out, toWire(record));
  else io.out.write(formatRecord(record));
  return 0;
}

export async function runDlqRedrive(bus: MessageBus, io: DlqIo, selection: DeadLetterSelection): Promise<number> {
  const result = await bus.redriveDeadLetters(toFilter(selection));
  const seen = new Set([...result.redriven, ...result.skipped.map((s) => s.id)]);
  const notFound = selection.ids.filter((id) => !seen.has(id));
  if (io.json) {
    writeJson(io.out, { redriven: result.redriven, skipped: result.skipped, not_found: notFound });
  } else {
    io.out.write(`redriven ${result.redriven.length} dead letter${plural(result.redriven.length)}${safeText(list(result.redriven))}\n`);
    if (result.skipped.length > 0) {
      io.out.write(`skipped ${result.skipped.length}:\n`);
      io.out.write(formatTable(['ID', 'REASON'], result.skipped.map((s) => [s.id, s.reason])));
    }
  }
  reportNotFound(io, notFound);
  return result.skipped.length > 0 || notFound.length > 0 ? 1 : 0;
}

export async function runDlqPurge(bus: MessageBus, io: DlqIo, selection: DeadLetterSelection): Promise<number> {
  let notFound: string[] = [];
  if (selection.ids.length > 0) {
    const existing = await bus.getDeadLetterMessages(selection.ids.length, { ids: selection.ids });
    const found = new Set(existing.map((r) => r.id));
    notFound = selection.ids.filter((id) => !found.has(id));
  }
  const result = await bus.purgeDeadLetters(toFilter(selection));
  if (io.json) writeJson(io.out, { purged: result.purged, not_found: notFound });
  else io.out.write(`purged ${result.purged} dead letter${plural(result.purged)}\n`);
  reportNotFound(io, notFound);
  return notFound.length > 0 ? 1 : 0;
}

function toFilter(selection: DeadLetterSelection): DeadLetterFilter | undefined {
  if (selection.all) return undefined;
  if (selection.ids.length > 0) return { ids: selection.ids };
  return {
    ...(selection.sessionId === undefined ? {} : { sessionId: selection.sessionId }),
    ...(selection.group === undefined ? {} : { group: selection.group }),
    ...(selection.eventType === undefined ? {} : { eventType: selection.eventType }),
  };
}

function formatRecord(r: DeadLetterRecord): string {
  const e = r.envelope;
  const text = formatPairs([
    ['id', r.id],
    ...(memberOf(r) === undefined ? [] : [['member', memberOf(r)!] as [string, string]]),
    ['group', r.group],
    ['source', `${r.source.stream} ${r.source.id}`],
    ['error', errorText(r)],
    ['attempts', String(r.attempts)],
    ['first failed', isoTime(r.firstFailedAt)],
    ['last failed', isoTime(r.lastFailedAt)],
    ['message id', e.messageId],
    ['session', e.sessionId],
    ['event', e.eventType],
    ['from', e.componentSource],
    ['to', e.componentTarget ?? '-'],
    ['pattern', e.pattern],
    ['delivery', e.deliveryMode],
    ['published', isoTime(e.timestamp)],
    ['max retries', String(e.maxRetries)],
    ['metadata', shortJson(e.metadata, 200)],
    // An entry that never decoded: its envelope is a placeholder, the entry itself is what matters.
    ...(r.raw === undefined ? [] : [['raw entry', cut(r.raw, 2000)] as [string, string]]),
  ]);
  return `${text}payload:\n${safeJson(JSON.stringify(e.payload, null, 2))}\n`;
}

/** The member of a routed bus's record (`RoutedDeadLetterRecord.member`), if it is one. */
function memberOf(r: DeadLetterRecord): string | undefined {
  const member = (r as { member?: unknown }).member;
  return typeof member === 'string' ? member : undefined;
}

/** Core's wire form, plus `member` for a routed bus's record. */
function toWire(r: DeadLetterRecord): ReturnType<typeof deadLetterToWire> & { member?: string } {
  const member = memberOf(r);
  return member === undefined ? deadLetterToWire(r) : { ...deadLetterToWire(r), member };
}

function errorText(r: DeadLetterRecord): string {
  return `${r.error.name}${r.error.code ? ` [${r.error.code}]` : ''}: ${r.error.message}`;
}

function reportNotFound(io: DlqIo, ids: readonly string[]): void {
  for (const id of ids) io.err.write(`woodwork-bus: no dead letter with id ${safeText(id)}\n`);
}

function plural(n: number): string {
  return n === 1 ? '' : 's';
}

function list(ids: readonly string[]): string {
  return ids.length === 0 ? '' : `: ${ids.join(', ')}`;
}
