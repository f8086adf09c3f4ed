/**
 * What the demo shows: a timeline printed as things happen (milliseconds since the start, which
 * component, what), and the summary at the end, as text or as JSON (`--json`).
 */

export interface DeadLetterSummary {
  event_type: string;
  group: string;
  /** The hook whose group gave up on the message, when it is one of ours. */
  hook: string | null;
  error: string;
  attempts: number;
}

export interface DemoSummary {
  backend: string;
  role: string;
  session_id: string;
  question: string | null;
  events_emitted: Record<string, number>;
  hook_runs: Record<string, number>;
  hook_failures: Record<string, number>;
  rewritten: { event: string; before: string; after: string } | null;
  stream: {
    window: number | null;
    chunks_sent: string[];
    chunks_received: string[];
    /** Writes that had to wait for the reader (backpressure at work). */
    writes_waited_for_credit: number;
  };
  answer: string | null;
  dead_letters: DeadLetterSummary[];
  bus: { published: number; consumed: number; failed_attempts: number; dead_lettered: number } | null;
  timings_ms: Record<string, number>;
}

export function emptySummary(backend: string, role: string, sessionId: string): DemoSummary {
  return {
    backend,
    role,
    session_id: sessionId,
    question: null,
    events_emitted: {},
    hook_runs: {},
    hook_failures: {},
    rewritten: null,
    stream: { window: null, chunks_sent: [], chunks_received: [], writes_waited_for_credit: 0 },
    answer: null,
    dead_letters: [],
    bus: null,
    timings_ms: {},
  };
}

export class Timeline {
  private readonly started = performance.now();
  private readonly marks = new Map<string, number>();

  constructor(private readonly print: boolean) {}

  /** Milliseconds since the run started. */
  now(): number {
    return performance.now() - this.started;
  }

  /** Remembers when something first happened (for the summary's timings). */
  mark(name: string): void {
    if (!this.marks.has(name)) this.marks.set(name, this.now());
  }

  at(name: string): number | undefined {
    return this.marks.get(name);
  }

  log(component: string, text: string): void {
    if (!this.print) return;
    const ms = this.now().toFixed(1).padStart(7);
    process.stdout.write(`[${ms} ms] ${component.padEnd(7)} ${text}\n`);
  }
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

export const tally = { count };

export function formatSummary(s: DemoSummary): string {
  const lines: string[] = [];
  const row = (label: string, value: string | number) => lines.push(`  ${label.padEnd(26)} ${value}`);
  lines.push('', `Summary (backend ${s.backend}, role ${s.role}, session ${s.session_id})`);
  const emitted = Object.values(s.events_emitted).reduce((a, b) => a + b, 0);
  row('events emitted', `${emitted}  ${JSON.stringify(s.events_emitted)}`);
  const runs = Object.values(s.hook_runs).reduce((a, b) => a + b, 0);
  row('hook runs (succeeded)', `${runs}  ${JSON.stringify(s.hook_runs)}`);
  row('hook attempts failed', `${Object.values(s.hook_failures).reduce((a, b) => a + b, 0)}  ${JSON.stringify(s.hook_failures)}`);
  if (s.rewritten) row(`pipe rewrote ${s.rewritten.event}`, `${JSON.stringify(s.rewritten.before)} -> ${JSON.stringify(s.rewritten.after)}`);
  if (s.stream.chunks_sent.length > 0) row('chunks sent', s.stream.chunks_sent.length);
  if (s.stream.window !== null) row('stream window', `${s.stream.window} (writes that waited for credit: ${s.stream.writes_waited_for_credit})`);
  if (s.stream.chunks_received.length > 0) row('chunks received (in order)', s.stream.chunks_received.length);
  if (s.answer !== null) row('answer', JSON.stringify(s.answer));
  row('dead letters', s.dead_letters.length);
  for (const d of s.dead_letters) {
    lines.push(`    - ${d.event_type} in group ${d.group}${d.hook ? ` (hook "${d.hook}")` : ''}: ${d.error} after ${d.attempts} attempts`);
  }
  if (s.bus) {
    row('bus messages', `${s.bus.published} published, ${s.bus.consumed} consumed, ${s.bus.failed_attempts} failed attempts, ${s.bus.dead_lettered} dead-lettered`);
  }
  for (const [name, ms] of Object.entries(s.timings_ms)) row(name.replaceAll('_', ' '), `${ms.toFixed(1)} ms`);
  return lines.join('\n');
}
