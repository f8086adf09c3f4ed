/**
 * The recent `deleteSessionQueue` calls of a prefix, kept in `<p>~STATE` for the buses that were
 * disconnected when the notice went out (session-notices.ts is core NATS: a bus away at that moment
 * never hears it). On reconnect a bus looks up the sessions it holds here and drops what it holds
 * of a deleted one, as if it had heard the notice.
 *
 *   `<p>.state.sd.<slot>`  slot = fnv1a32(session) mod 256 (subjects.ts `deletionSlotSubject`); one
 *                          message per subject (the stream's `max_msgs_per_subject` 1), JSON
 *                          `{"woodwork":2,"deleted":[{"session":..,"through":<seq>,"at":<ms>}]}`,
 *                          replaced by compare-and-set (`Nats-Expected-Last-Subject-Sequence`).
 *
 * `through` is the events stream's last sequence after the purge, as in the notice: a held message
 * of the session at or below it was purged. Bounded: a slot keeps its newest 64 entries of the last
 * hour (16,384 deletions over the 256 slots), so a bus away longer, or through more deletions than
 * that, can still miss one.
 */
import { JetStreamApiError, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import type { BusLogger } from '@woodwork/bus-core';
import { isNotFound } from './consumers.js';
import { withDeadline } from './deadline.js';
import { deletionSlotSubject, partitionOf, type Layout } from './subjects.js';

export const DELETION_SLOTS = 256;
const KEEP_MS = 60 * 60_000;
const MAX_PER_SLOT = 64;
const WRONG_LAST_SEQUENCE = 10071;
/** Writers racing on one slot: each refused write reads the slot again. */
const MAX_WRITE_TRIES = 16;
/** Longest a reconnected bus waits for the log before its held messages run again. */
const MISSED_DELETIONS_WAIT_MS = 5_000;

interface Entry {
  session: string;
  through: number;
  at: number;
}

export class DeletionLog {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
  ) {}

  /** Records that `sessionId` was purged through events-stream sequence `through`. */
  async record(sessionId: string, through: number): Promise<void> {
    const subject = this.subjectOf(sessionId);
    for (let attempt = 1; ; attempt++) {
      const { seq, entries } = await this.read(subject);
      const now = Date.now();
      const kept = entries.filter((e) => e.session !== sessionId && now - e.at < KEEP_MS);
      kept.push({ session: sessionId, through: Math.max(through, entries.find((e) => e.session === sessionId)?.through ?? 0), at: now });
      const body = JSON.stringify({ woodwork: 2, deleted: kept.slice(-MAX_PER_SLOT) });
      try {
        await this.js.publish(subject, body, { expect: { lastSubjectSequence: seq } });
        return;
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE) || attempt >= MAX_WRITE_TRIES) throw error;
      }
    }
  }

  /** The sessions among `sessionIds` that were deleted, with the sequence they were deleted through. */
  async deletedAmong(sessionIds: Iterable<string>): Promise<Map<string, number>> {
    const bySlot = new Map<string, Set<string>>();
    for (const session of sessionIds) {
      const subject = this.subjectOf(session);
      let sessions = bySlot.get(subject);
      if (!sessions) bySlot.set(subject, (sessions = new Set()));
      sessions.add(session);
    }
    const found = new Map<string, number>();
    for (const [subject, sessions] of bySlot) {
      for (const entry of (await this.read(subject)).entries) if (sessions.has(entry.session)) found.set(entry.session, entry.through);
    }
    return found;
  }

  private subjectOf(sessionId: string): string {
    return deletionSlotSubject(this.layout, partitionOf(sessionId, DELETION_SLOTS));
  }

  private async read(subject: string): Promise<{ seq: number; entries: Entry[] }> {
    try {
      const msg = await this.jsm.streams.getMessage(this.layout.stateStream, { last_by_subj: subject });
      return msg ? { seq: msg.seq, entries: parseEntries(msg.string()) } : { seq: 0, entries: [] };
    } catch (error) {
      if (isNotFound(error)) return { seq: 0, entries: [] };
      throw error;
    }
  }
}

/**
 * Back from a disconnect: drops what the bus's groups hold of sessions another bus deleted
 * meanwhile (their notices were missed), as the notice would have. Bounded in time; a failure is
 * logged, and the held messages then run as they would have without the log. The bus's pullers
 * pull nothing new until this is done, so what is held is all from before the disconnect.
 */
export async function dropMissedDeletions(
  log: DeletionLog,
  groups: Iterable<{ heldDeliveries(): Iterable<{ seq: number; envelope: { sessionId: string } }> }>,
  dropSession: (sessionId: string, through: number) => number,
  logger: BusLogger,
): Promise<void> {
  const held = new Map<string, number>();
  // Each held session with the lowest stream sequence held of it.
  for (const group of groups) {
    for (const { seq, envelope } of group.heldDeliveries()) held.set(envelope.sessionId, Math.min(seq, held.get(envelope.sessionId) ?? seq));
  }
  if (held.size === 0) return;
  try {
    const deleted = await withDeadline(log.deletedAmong(held.keys()), MISSED_DELETIONS_WAIT_MS);
    if (!deleted) throw new Error(`no answer within ${MISSED_DELETIONS_WAIT_MS} ms`);
    for (const [session, through] of deleted) {
      // Deleted before this bus took its oldest held message of the session in: nothing held was purged.
      if (held.get(session)! > through) continue;
      const dropped = dropSession(session, through);
      logger.info('session deleted by another process while disconnected; dropped what was held of it', { sessionId: session, dropped });
    }
  } catch (error) {
    logger.warn('could not read the deletions missed while disconnected', { error: String((error as Error)?.message ?? error) });
  }
}

/** The entries of a stored slot; anything unreadable counts as none. */
export function parseEntries(text: string): Entry[] {
  try {
    const parsed = JSON.parse(text) as { woodwork?: unknown; deleted?: unknown };
    if (parsed.woodwork !== 2 || !Array.isArray(parsed.deleted)) return [];
    return parsed.deleted.filter(
      (e): e is Entry => typeof e === 'object' && e !== null && typeof e.session === 'string' && Number.isSafeInteger(e.through) && Number.isFinite(e.at),
    );
  } catch {
    return [];
  }
}
