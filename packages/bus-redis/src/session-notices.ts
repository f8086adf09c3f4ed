/**
 * `deleteSessionQueue` across processes. The session's entries are deleted from the server first
 * (session-cleanup.ts), so no process reads them afterwards; but a process that already read some
 * of them holds them in its lanes (queued, waiting for a retry, running). This module tells every
 * bus of the prefix, over Redis pub/sub on `<prefix>:{<prefix>}:control`, and waits for them:
 *
 *   {"kind":"delete-session","id":<request>,"session":<session id>,"from":<consumer>}
 *   {"kind":"session-deleted","id":<request>,"by":<consumer>}
 *
 * A bus that hears `delete-session` drops what it holds of the session (its running attempt's
 * signal aborted with `SessionDeletedError`, outcome ignored; nothing of it acknowledged or retried
 * afterwards) and answers `session-deleted`. The caller's `deleteSessionQueue` resolves when every
 * other bus that received the notice (PUBLISH's count of subscribers) has answered, or after
 * `NOTICE_WAIT_MS` at most (a bus that is paused or cut off answers late or never: it then drops the
 * session when the notice reaches it, or never if it missed it while disconnected; a warning says
 * how many did not answer). On Redis Cluster the count of receivers is that of one node, so the wait
 * is for the answers that come within the bound.
 *
 * The subscriber connection (a connection in subscribe mode carries nothing else) is opened on
 * first use: when the bus first consumes or first deletes a session; one per bus.
 */
import { randomBytes } from 'node:crypto';
import type { BusLogger } from '@woodwork/bus-core';
import { connectClient, createClient, type RedisClient } from './connection.js';
import { controlChannel, type Layout } from './keys.js';
import type { ResolvedRedisBusOptions } from './options.js';

/** Longest wait for the other buses' answers. */
export const NOTICE_WAIT_MS = 2_000;

interface Waiting {
  expected: number;
  answered: number;
  done: () => void;
}

export class SessionNotices {
  private subscriber: Promise<RedisClient> | undefined;
  private readonly waiting = new Map<string, Waiting>();
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly options: ResolvedRedisBusOptions,
    private readonly layout: Layout,
    private readonly consumer: string,
    /** Drops what this bus holds of the session. */
    private readonly dropSession: (sessionId: string) => void,
    private readonly logger: BusLogger,
  ) {}

  /** Listens for notices (idempotent); resolves once subscribed. */
  listen(): Promise<RedisClient> {
    this.subscriber ??= this.subscribe().catch((error: unknown) => {
      this.subscriber = undefined;
      throw error;
    });
    return this.subscriber;
  }

  /** Tells every other bus of the prefix to drop the session, and waits for their answers (bounded). */
  async announce(sessionId: string): Promise<void> {
    await this.listen();
    const id = randomBytes(8).toString('hex');
    let done!: () => void;
    const answered = new Promise<void>((resolve) => (done = resolve));
    const waiting: Waiting = { expected: Number.POSITIVE_INFINITY, answered: 0, done };
    this.waiting.set(id, waiting);
    let timer: NodeJS.Timeout | undefined;
    try {
      const receivers = Number(await this.client.publish(controlChannel(this.layout), JSON.stringify({ kind: 'delete-session', id, session: sessionId, from: this.consumer })));
      // This bus is one of the receivers (it drops the session itself, before announcing).
      waiting.expected = Math.max(0, receivers - 1);
      if (waiting.answered >= waiting.expected) return;
      const inTime = await Promise.race([
        answered.then(() => true),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), NOTICE_WAIT_MS);
        }),
      ]);
      if (!inTime && !this.options.cluster) {
        this.logger.warn('deleteSessionQueue: some buses did not confirm dropping the session in time', {
          sessionId,
          expected: waiting.expected,
          answered: waiting.answered,
          waitedMs: NOTICE_WAIT_MS,
        });
      }
    } finally {
      clearTimeout(timer);
      this.waiting.delete(id);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.values()) w.done();
    const subscriber = await this.subscriber?.catch(() => undefined);
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  private async subscribe(): Promise<RedisClient> {
    const subscriber = createClient(this.options, `woodwork-notices ${this.layout.prefix} ${this.consumer}`);
    subscriber.on('error', () => undefined);
    subscriber.on('message', (_channel: string, text: string) => this.heard(text));
    await connectClient(subscriber, this.options);
    if (this.closed) {
      subscriber.disconnect();
      return subscriber;
    }
    await subscriber.subscribe(controlChannel(this.layout));
    return subscriber;
  }

  private heard(text: string): void {
    let notice: { kind?: unknown; id?: unknown; session?: unknown; from?: unknown; by?: unknown };
    try {
      notice = JSON.parse(text) as typeof notice;
    } catch {
      return;
    }
    if (typeof notice !== 'object' || notice === null || typeof notice.id !== 'string') return;
    if (notice.kind === 'delete-session' && typeof notice.session === 'string') {
      if (notice.from === this.consumer) return; // our own: already dropped before announcing
      this.dropSession(notice.session);
      void this.client.publish(controlChannel(this.layout), JSON.stringify({ kind: 'session-deleted', id: notice.id, by: this.consumer })).catch(() => undefined);
      return;
    }
    if (notice.kind === 'session-deleted') {
      const waiting = this.waiting.get(notice.id);
      if (!waiting) return;
      waiting.answered++;
      if (waiting.answered >= waiting.expected) waiting.done();
    }
  }
}
