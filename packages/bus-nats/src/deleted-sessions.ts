/**
 * Sessions deleted (`deleteSessionQueue`) by this bus or, as a notice told it, by another bus of
 * the prefix (session-notices.ts), remembered for a while with the events stream's
 * last sequence after their purge. A message of such a session already on its way to this process
 * when the purge ran (pulled, not yet held, so `abortSession` could not see it) arrives after the
 * deletion: at or below that sequence it is acknowledged and dropped, never run. Later messages of
 * the session (published after the deletion) run as usual.
 */
const KEEP_MS = 5 * 60_000;
const MAX_SESSIONS = 10_000;

export class DeletedSessions {
  private readonly through = new Map<string, { seq: number; at: number }>();

  /** `sessionId` was purged; every message of it up to stream sequence `seq` is gone. */
  add(sessionId: string, seq: number): void {
    const earlier = this.through.get(sessionId);
    this.through.delete(sessionId);
    // Notices from two deleting processes may arrive in either order: the higher sequence holds.
    this.through.set(sessionId, { seq: Math.max(seq, earlier?.seq ?? 0), at: Date.now() });
    const now = Date.now();
    for (const [session, entry] of this.through) {
      if (this.through.size <= MAX_SESSIONS && now - entry.at < KEEP_MS) break;
      this.through.delete(session);
    }
  }

  /**
   * `sessionId` is deleted through exactly `seq` (the deleting bus, once its purge is done, replaces
   * the "everything" it marked while the purge was on its way).
   */
  set(sessionId: string, seq: number): void {
    this.through.delete(sessionId);
    this.through.set(sessionId, { seq, at: Date.now() });
  }

  /** Whether the message at `seq` of `sessionId` was deleted. */
  deleted(sessionId: string, seq: number): boolean {
    const entry = this.through.get(sessionId);
    return entry !== undefined && seq <= entry.seq && Date.now() - entry.at < KEEP_MS;
  }
}
