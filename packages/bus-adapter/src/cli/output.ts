/**
 * How the CLI writes: aligned tables and key/value blocks for people, JSON for programs, and the
 * small conversions both need (epoch seconds to ISO time, one-line JSON cut to a width).
 */

/** Where the CLI writes; `process.stdout` is one, and so is anything with a `write(text)`. */
export interface TextSink {
  write(text: string): unknown;
}

/** Rows under a header, each column as wide as its widest cell, two spaces between columns. */
export function formatTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
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
  return pairs.map(([key, value]) => `${key.padEnd(width)}  ${value}`.trimEnd()).join('\n') + '\n';
}

/** Seconds since the epoch (the envelope's float timestamps) as an ISO time. */
export function isoTime(seconds: number): string {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? String(seconds) : date.toISOString();
}

/** One-line JSON, cut to `max` characters with an ellipsis. */
export function shortJson(value: unknown, max = 80): string {
  return cut(JSON.stringify(value) ?? String(value), max);
}

export function cut(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}

export function writeJson(sink: TextSink, value: unknown): void {
  sink.write(`${JSON.stringify(value, null, 2)}\n`);
}
