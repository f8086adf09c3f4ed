/**
 * Which process pulls which partition of a shared group: the rules on the group's assignment record
 * (`<p>.state.g.<consumer>` in `<p>~STATE`, one message, replaced by compare-and-set). Pure: the
 * lease module reads and writes the record, this one says what the next record is.
 *
 * The record is JSON `{"woodwork":2,"members":{"<member>":<beat>},"owners":{"<partition>":"<member>"}}`.
 * Each live member raises its own `beat` on every heartbeat write. A member another process has seen
 * keep the same beat for a whole lease period (by its own clock) is dead: it is dropped and its
 * partitions freed. Partitions are shared out evenly: with members sorted by id and R relevant
 * partitions, member i may own `floor(R/N)` plus one when `i < R mod N`. A member owning more than
 * that stops pulling the extras and frees each once it holds nothing of it (the draining set); one
 * owning fewer claims free partitions, preferring those at its own index round robin (`p mod N`),
 * so the assignment is the same whatever order members come in. A partition is never taken from a
 * live owner: it is freed by the owner when drained, or by anyone once the owner is dead.
 */

export interface AssignmentRecord {
  woodwork: 2;
  members: Record<string, number>;
  owners: Record<string, string>;
}

export function emptyRecord(): AssignmentRecord {
  return { woodwork: 2, members: Object.create(null) as Record<string, number>, owners: Object.create(null) as Record<string, string> };
}

/** Parses a stored record; anything else (another version, garbage) counts as empty. */
export function parseRecord(text: string | undefined): AssignmentRecord {
  const record = emptyRecord();
  if (!text) return record;
  try {
    const parsed = JSON.parse(text) as { woodwork?: unknown; members?: unknown; owners?: unknown };
    if (parsed.woodwork !== 2 || typeof parsed.members !== 'object' || typeof parsed.owners !== 'object' || !parsed.members || !parsed.owners) return record;
    for (const [member, beat] of Object.entries(parsed.members)) if (Number.isSafeInteger(beat)) record.members[member] = beat as number;
    for (const [partition, owner] of Object.entries(parsed.owners)) if (typeof owner === 'string') record.owners[partition] = owner;
  } catch {
    // counts as empty
  }
  return record;
}

export interface AssignmentStep {
  /** This member. */
  me: string;
  /** The group's partitions (all of them, or the one of a session-bound group). */
  partitions: readonly number[];
  /** Members observed dead (same beat for a whole lease period). */
  dead: ReadonlySet<string>;
  /** Raise this member's beat (a heartbeat write). */
  beat: boolean;
  /** This member leaves: it frees every partition it may free and drops out. */
  leaving: boolean;
  /** Whether this member holds nothing of `partition` any more (it may be freed now). */
  drained(partition: number): boolean;
}

export interface AssignmentResult {
  record: AssignmentRecord;
  /** Partitions this member owns in `record`. */
  owned: number[];
  /** Owned partitions this member must stop pulling and free once drained. */
  draining: number[];
}

/** The record after one step of `me`; `changed` tells whether it differs from `current`. */
export function nextAssignment(current: AssignmentRecord, step: AssignmentStep): AssignmentResult & { changed: boolean } {
  const { me } = step;
  const record = emptyRecord();
  for (const [member, beat] of Object.entries(current.members)) if (!step.dead.has(member) || member === me) record.members[member] = beat;
  if (step.leaving) delete record.members[me];
  else record.members[me] = (current.members[me] ?? 0) + (step.beat || current.members[me] === undefined ? 1 : 0);
  for (const [partition, owner] of Object.entries(current.owners)) if (owner in record.members || owner === me) record.owners[partition] = owner;

  const members = Object.keys(record.members).sort();
  const index = members.indexOf(me);
  const relevant = step.partitions.length;
  const quota = index < 0 ? 0 : Math.floor(relevant / members.length) + (index < relevant % members.length ? 1 : 0);
  const mine = step.partitions.filter((p) => record.owners[p] === me);
  const draining: number[] = [];
  if (mine.length > quota) {
    // Free the extras furthest from this member's round-robin share first.
    const extras = [...mine].sort((a, b) => preference(b, index, members.length) - preference(a, index, members.length)).slice(0, mine.length - quota);
    for (const p of extras) {
      if (step.drained(p)) delete record.owners[p];
      else draining.push(p);
    }
  } else if (mine.length < quota) {
    const free = step.partitions.filter((p) => record.owners[p] === undefined);
    free.sort((a, b) => preference(a, index, members.length) - preference(b, index, members.length) || a - b);
    for (const p of free.slice(0, quota - mine.length)) record.owners[p] = me;
  }
  const owned = step.partitions.filter((p) => record.owners[p] === me);
  return { record, owned, draining: draining.sort((a, b) => a - b), changed: !sameRecord(current, record) };
}

/** 0 for a partition in this member's round-robin share, 1 otherwise. */
function preference(partition: number, index: number, members: number): number {
  return partition % members === index ? 0 : 1;
}

function sameRecord(a: AssignmentRecord, b: AssignmentRecord): boolean {
  return JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(record: AssignmentRecord): unknown {
  const order = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return { members: order(record.members), owners: order(record.owners) };
}

/** Serialized form (keys sorted, so equal records are equal text). */
export function formatRecord(record: AssignmentRecord): string {
  return JSON.stringify({ woodwork: 2, ...(sorted(record) as object) });
}
