/**
 * One row per scenario, from its ledger: the table people read and the JSON object (the last line
 * of the output) tools read.
 */
import type { ScenarioOutcome } from './context.js';

export interface ScenarioRow {
  name: string;
  published: number;
  acknowledged: number;
  delivered: number;
  /** Acknowledged publishes missing for any reason but the server's own loss. */
  lost: number;
  unexpected: number;
  duplicatesDelivered: number;
  /** Null when the backend cannot count stored copies. */
  duplicatesStored: number | null;
  orderViolations: number;
  deadLetters: number;
  /** Null when the run never recovered (not every acknowledged publish arrived in time). */
  recoveryMs: number | null;
  serverLost: number;
  rejectedButStored: number;
  notes?: string[];
}

export function rowOf(name: string, outcome: ScenarioOutcome): ScenarioRow {
  const { ledger } = outcome;
  const report = ledger.check(outcome.serverLost ? { serverLost: outcome.serverLost } : {});
  return {
    name,
    published: ledger.published.length + ledger.rejected.length,
    acknowledged: ledger.published.length,
    delivered: ledger.distinctDelivered,
    lost: report.missing.length,
    unexpected: report.unexpected.length,
    duplicatesDelivered: report.duplicates,
    duplicatesStored: outcome.duplicatesStored,
    orderViolations: report.outOfOrder.length,
    deadLetters: outcome.deadLetters,
    recoveryMs: outcome.recoveryMs,
    serverLost: report.serverLost.length,
    rejectedButStored: report.rejectedButStored.length,
    ...(outcome.notes && outcome.notes.length > 0 ? { notes: outcome.notes } : {}),
  };
}

const COLUMNS: Array<[string, (r: ScenarioRow) => string]> = [
  ['scenario', (r) => r.name],
  ['published', (r) => String(r.published)],
  ['acknowledged', (r) => String(r.acknowledged)],
  ['delivered', (r) => String(r.delivered)],
  ['lost', (r) => String(r.lost)],
  ['unexpected', (r) => String(r.unexpected)],
  ['dup delivered', (r) => String(r.duplicatesDelivered)],
  ['dup stored', (r) => (r.duplicatesStored === null ? 'n/a' : String(r.duplicatesStored))],
  ['order violations', (r) => String(r.orderViolations)],
  ['dead letters', (r) => String(r.deadLetters)],
  ['recovery ms', (r) => (r.recoveryMs === null ? 'never' : String(r.recoveryMs))],
  ['server lost', (r) => String(r.serverLost)],
];

export function table(rows: readonly ScenarioRow[]): string {
  const cells = [COLUMNS.map(([h]) => h), ...rows.map((r) => COLUMNS.map(([, f]) => f(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const rule = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  const notes = rows.flatMap((r) => (r.notes ?? []).map((n) => `${r.name}: ${n}`));
  return [line(cells[0]!), rule, ...cells.slice(1).map(line), ...notes.map((n) => `note: ${n}`)].join('\n');
}

/** The last line: `{"backend": ..., "scenarios": [...]}`. */
export function jsonLine(backend: string, rows: readonly ScenarioRow[]): string {
  return JSON.stringify({
    backend,
    scenarios: rows.map((r) => ({
      name: r.name,
      published: r.published,
      acknowledged: r.acknowledged,
      delivered: r.delivered,
      lost: r.lost,
      unexpected: r.unexpected,
      duplicatesDelivered: r.duplicatesDelivered,
      duplicatesStored: r.duplicatesStored,
      orderViolations: r.orderViolations,
      deadLetters: r.deadLetters,
      recoveryMs: r.recoveryMs,
      serverLost: r.serverLost,
      rejectedButStored: r.rejectedButStored,
    })),
  });
}
