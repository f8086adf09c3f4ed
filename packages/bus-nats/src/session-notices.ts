/**
 * `deleteSessionQueue` across processes. The bus that deletes a session purges its messages from
 * the events stream first, so nobody pulls them afterwards; but another process may already hold
 * some (queued in its lanes, waiting for a retry, running) or have some on their way to it (pulled,
 * not yet arrived). This module tells every bus of the prefix, over core NATS (no stream keeps
 * these subjects):
 *
 *   `<p>.ctl.session-deleted`          {"id":<notice>,"session":<session id>,"through":<seq>,"from":<member>}
 *   `<p>.ctl.session-dropped.<notice>` {"id":<notice>,"by":<member>,"dropped":<count>}
 *
 * A bus that hears a notice from another drops what it holds of the session (a running attempt's
 * signal aborts with `SessionDeletedError`, its outcome ignored; queued and retrying messages are
 * acknowledged away), remembers the session through stream sequence `through` (the events stream's
 * last sequence after the purge) so a message of it still on its way is dropped when it arrives,
 * and answers. Core NATS does not say how many subscribers a message reached, so the caller waits
 * for answers until none came for `QUIET_MS` (at most `NOTICE_WAIT_MS`): every bus that is up
 * answers within a round trip and its event-loop delay. A bus that hears the notice later (paused,
 * starved) still drops the session then; one that was disconnected when it was sent never hears it,
 * and reads the deletion from the log in `<p>~STATE` when it is back (deletion-log.ts).
 *
 * One subscription per bus (`<p>.ctl.>`), whatever the groups and sessions.
 */
import { nuid, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import type { BusLogger } from '@woodwork/bus-core';
import { sessionDeletedSubject, sessionDroppedSubject, type Layout } from './subjects.js';

/** The caller stops waiting when no answer came for this long... */
export const QUIET_MS = 150;
/** ...and after this long at most. */
export const NOTICE_WAIT_MS = 2_000;

interface Waiting {
  answers: number;
  dropped: number;
  last: number;
}

interface Notice {
  id?: unknown;
  session?: unknown;
  through?: unknown;
  from?: unknown;
  by?: unknown;
  dropped?: unknown;
}

export class SessionNotices {
  private readonly subscription: Subscription;
  private readonly waiting = new Map<string, Waiting>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly layout: Layout,
    private readonly member: string,
    /** Drops what this bus holds of the session and remembers it through `through`; returns how many messages it dropped. */
    private readonly dropSession: (sessionId: string, through: number) => number,
    private readonly logger: BusLogger,
  ) {
    this.subscription = nc.subscribe(`${layout.prefix}.ctl.>`, {
      callback: (error, msg) => {
        if (!error) this.heard(msg.subject, msg.string());
      },
    });
  }

  /**
   * Tells the other buses of the prefix that `sessionId` was deleted through stream sequence
   * `through`, and waits for their answers (bounded). Resolves with how many answered.
   */
  async announce(sessionId: string, through: number): Promise<{ answers: number; dropped: number }> {
    const id = nuid.next();
    const waiting: Waiting = { answers: 0, dropped: 0, last: performance.now() };
    this.waiting.set(id, waiting);
    try {
      this.nc.publish(sessionDeletedSubject(this.layout), JSON.stringify({ id, session: sessionId, through, from: this.member }));
      // The server has the notice once the flush's PONG is back; answers are counted from then.
      await this.nc.flush();
      waiting.last = performance.now();
      const started = performance.now();
      for (;;) {
        const now = performance.now();
        if (now - waiting.last >= QUIET_MS || now - started >= NOTICE_WAIT_MS) break;
        await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.min(QUIET_MS - (now - waiting.last), NOTICE_WAIT_MS - (now - started)))));
      }
      return { answers: waiting.answers, dropped: waiting.dropped };
    } finally {
      this.waiting.delete(id);
    }
  }

  close(): void {
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
  }

  private heard(subject: string, text: string): void {
    let notice: Notice;
    try {
      notice = JSON.parse(text) as Notice;
    } catch {
      return;
    }
    if (typeof notice !== 'object' || notice === null || typeof notice.id !== 'string') return;
    if (subject === sessionDeletedSubject(this.layout)) {
      if (notice.from === this.member || typeof notice.session !== 'string' || typeof notice.through !== 'number') return;
      const dropped = this.dropSession(notice.session, notice.through);
      if (dropped > 0) this.logger.info('session deleted by another process; dropped what was held of it', { sessionId: notice.session, dropped });
      if (!this.nc.isClosed()) this.nc.publish(sessionDroppedSubject(this.layout, notice.id), JSON.stringify({ id: notice.id, by: this.member, dropped }));
      return;
    }
    const waiting = this.waiting.get(notice.id);
    if (!waiting || subject !== sessionDroppedSubject(this.layout, notice.id)) return;
    waiting.answers++;
    if (typeof notice.dropped === 'number') waiting.dropped += notice.dropped;
    waiting.last = performance.now();
  }
}
