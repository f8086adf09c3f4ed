/**
 * How the CLI writes: aligned tables and key/value blocks for people, JSON for programs, and the
 * small conversions both need (epoch seconds to ISO time, one-line JSON cut to a width).
 *
 * Everything printed passes through here and is made safe for a terminal: text that came from a
 * message, a handler's error or a server (ids, error texts, payloads) has its C0 / C1 control
 * characters, bidirectional overrides and lone surrogates escaped (`\u001b`), so it cannot move the
 * cursor, retitle the window, clear the screen or reorder what is shown; and URLs have their
 * passwords and tokens replaced (`redactSecrets`). JSON output stays valid JSON.
 */
import { escapeControlCharacters, redactSecrets } from '@woodwork/bus-core';

/** Text from outside (a message, an error, a server) as it may be printed: escaped and redacted. */
export function safeText(text: string): string {
  return escapeControlCharacters(redactSecrets(text));
}

// JSON.stringify escapes C0 already; C1, DEL, bidi controls and lone surrogates it leaves raw.
// eslint-disable-next-line no-control-regex
const JSON_UNSAFE_RE = /[\u007f-\u009f\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** JSON text with what a terminal would act on written as `\uXXXX` escapes (still the same JSON value). */
export function safeJson(json: string): string {
  return redactSecrets(json.replace(JSON_UNSAFE_RE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** Where the CLI writes; `process.stdout` is one, and so is anything with a `write(text)`. */
export interface TextSink {
  write(text: string): unknown;
}

/** Rows under a header, each column as wide as its widest cell, two spaces between columns. */
export function formatTable(headers: readonly string[], rawRows: ReadonlyArray<readonly string[]>): string {
  const rows = rawRows.map((row) => row.map(safeText));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `key  value` lines with the values aligned. */
export function formatPairs(pairs: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(0, ...pairs.map(([key]) => key.length));
  return pairs.map(([key, value]) => `${key.padEnd(width)}  ${safeText(value)}`.trimEnd()).join('\n') + '\n';
}

/** Seconds since the epoch (the envelope's float timestamps) as an ISO time. */
export function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

/** One-line JSON, cut to `max` characters with an ellipsis. */
export function shortJson(value: unknown, max = 80): string {
  return cut(safeJson(JSON.stringify(value) ?? String(value)), max);
}

/** One line of at most `max` characters, escaped first so the cut never splits an escape's meaning. */
export function cut(text: string, max: number): string {
  const oneLine = safeText(text.replace(/[ \t\r\n]+/g, ' '));
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

export function writeJson(sink: TextSink, value: unknown): void {
  sink.write(`${safeJson(JSON.stringify(value, null, 2))}\n`);
}
