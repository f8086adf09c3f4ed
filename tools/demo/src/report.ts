/**
 * What the demo shows: a timeline printed as things happen (milliseconds since the start, which
 * component, what), and the summary at the end, as text or as JSON (`--json`).
 */

import type { TraceLine } from './trace.js';

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
  /** This run's dead letters of the session; reported by the roles `all` and `hooks` only. */
  dead_letters: DeadLetterSummary[];
  bus: { published: number; consumed: number; failed_attempts: number; dead_lettered: number } | null;
  /**
   * On a routed bus (`WOODWORK_MESSAGE_BUS=routed`): each member, its backend, the event types it
   * carried in this run (publishes per type), and its own published / handled counts. Else null.
   */
  members: Record<string, { backend: string; events: Record<string, number>; published: number; handled: number }> | null;
  /**
   * Milliseconds: `question_to_first_chunk` (input sent the question -> output had chunk 1: the
   * agent's events, the pipe and the stream's setup), `streaming` (chunk 1 -> the last, paced by
   * the reader), `emit_to_log_hook_avg` / `_max` (an emit -> the log hook running it: bus delivery),
   * `tool_result_to_dead_letter` (publish -> dead letter, by the bus's clock: every attempt and
   * retry wait), `total`. A timing a process could not see (another role's) is left out.
   */
  timings_ms: Record<string, number>;
  /** With `--trace`: the run's spans, depth-first (see trace.ts). */
  trace?: TraceLine[];
  /** What the timings depend on. */
  settings: { delay_ms: number; reader_delay_ms: number; window: number; max_retries: number; retry_waits_ms: number[] };
}

export function emptySummary(backend: string, role: string, sessionId: string, settings: DemoSummary['settings']): DemoSummary {
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
    members: null,
    timings_ms: {},
    settings,
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
    process.stdout.write(`${hanging(`[${ms} ms] ${component.padEnd(7)} `, text)}\n`);
  }
}

/** Terminal width the demo's text output keeps to. */
export const COLUMNS = 80;

/**
 * Breaks `text` into lines of at most `width` characters, at the first space of a run of spaces
 * (so spaces inside quoted values stay visible); a word longer than `width` is cut.
 */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    let cut = -1;
    for (let i = width; i > 0; i--) {
      if (rest[i] === ' ' && rest[i - 1] !== ' ') {
        cut = i;
        break;
      }
    }
    if (cut <= 0) {
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    } else {
      lines.push(rest.slice(0, cut));
      rest = rest.slice(cut + 1);
    }
  }
  lines.push(rest);
  return lines;
}

/** `prefix` then `text` wrapped to the terminal, continuation lines indented under the text. */
export function hanging(prefix: string, text: string): string {
  const indent = ' '.repeat(prefix.length);
  return wrap(text, COLUMNS - prefix.length)
    .map((line, i) => (i === 0 ? prefix : indent) + line)
    .join('\n');
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

export const tally = { count };

const LABEL_WIDTH = 26;

/** `name=n, name=n, ...` in the order the counts were first made (no spaces: wraps between). */
function counts(record: Record<string, number>): string {
  const entries = Object.entries(record);
  return entries.length === 0 ? 'none' : entries.map(([name, n]) => `${name}=${n}`).join(', ');
}

function total(record: Record<string, number>): number {
  return Object.values(record).reduce((a, b) => a + b, 0);
}

export function formatSummary(s: DemoSummary): string {
  const lines: string[] = [];
  const row = (label: string, value: string | number) => lines.push(hanging(`  ${label.padEnd(LABEL_WIDTH)} `, String(value)));
  lines.push('', ...wrap(`Summary (backend ${s.backend}, role ${s.role}, session ${s.session_id})`, COLUMNS));
  row('events emitted', `${total(s.events_emitted)}: ${counts(s.events_emitted)}`);
  row('hook runs (succeeded)', `${total(s.hook_runs)}: ${counts(s.hook_runs)}`);
  row('hook attempts failed', `${total(s.hook_failures)}: ${counts(s.hook_failures)}`);
  if (s.rewritten) {
    row(`pipe rewrote ${s.rewritten.event}`, `from ${JSON.stringify(s.rewritten.before)}`);
    row('', `to   ${JSON.stringify(s.rewritten.after)}`);
  }
  if (s.stream.chunks_sent.length > 0) row('chunks sent', s.stream.chunks_sent.length);
  if (s.stream.window !== null) row('stream window', `${s.stream.window} (writes that waited for credit: ${s.stream.writes_waited_for_credit})`);
  if (s.stream.chunks_received.length > 0) row('chunks received (in order)', s.stream.chunks_received.length);
  if (s.answer !== null) row('answer', JSON.stringify(s.answer));
  if (s.role === 'all' || s.role === 'hooks') row('dead letters', s.dead_letters.length);
  for (const d of s.dead_letters) {
    const who = d.hook ? `hook "${d.hook}", group ${d.group}` : `group ${d.group}`;
    lines.push(hanging('    - ', `${d.event_type} (${who}): ${JSON.stringify(d.error)} after ${d.attempts} attempts`));
  }
  if (s.bus) {
    // A pub_sub message is handled once per group it reaches, so "handled" may exceed "published".
    row('bus messages', `${s.bus.published} published, ${s.bus.consumed} handled (once per group reached), ${s.bus.failed_attempts} failed attempts, ${s.bus.dead_lettered} dead-lettered`);
  }
  for (const [name, m] of Object.entries(s.members ?? {})) {
    row(`member ${name} (${m.backend})`, `${m.published} published, ${m.handled} handled; carried ${counts(m.events)}`);
  }
  const notes = timingNotes(s.settings);
  for (const [name, ms] of Object.entries(s.timings_ms)) {
    const note = notes[name];
    const value = `${ms.toFixed(1)} ms`;
    row(name.replaceAll('_', ' '), note ? `${value.padEnd(10)} ${note}` : value);
  }
  return lines.join('\n');
}

/** What each timing includes, so the numbers can be read (they mostly measure the demo's pacing). */
function timingNotes(settings: DemoSummary['settings']): Record<string, string> {
  const waits = settings.retry_waits_ms;
  return {
    question_to_first_chunk: 'agent events, pipe, stream setup',
    streaming: `paced: output reads a chunk per ${settings.reader_delay_ms} ms`,
    emit_to_log_hook_avg: 'bus delivery of an event to a hook',
    tool_result_to_dead_letter: `${settings.max_retries + 1} attempts, ${waits.length > 0 ? `${waits.join(' + ')} ms` : 'no'} retry waits`,
  };
}
