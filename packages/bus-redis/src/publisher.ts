/**
 * Publishing, auto-pipelined with every other command of the bus. Each publish call gets its own
 * token (never the message id: an `at_least_once` message published twice is two messages), so a
 * resend of the same call after a lost reply stores nothing new and answers the first id:
 * - untargeted messages without dedupe: a plain `XADD` with the token as a field; a resend runs a
 *   script that looks for the token among the entries after the newest one this publisher had
 *   stored in the partition before the first try, and adds the entry only if it is not there;
 * - targeted and `exactly_once` messages, redrives, and the first publish to a partition: one
 *   script (token key, `exactly_once` dedupe, XADD, target mark).
 *
 * While the server is away:
 * - `publishBufferSize` 0 (the default): `publish` fails fast with `BackendUnavailableError`,
 *   after at most 1 s (or publishTimeoutMs) waiting for a reconnect; a reply lost with the
 *   connection is resent with the same token within that bound (stored once). Fail fast is
 *   the default because a caller that waits cannot tell a slow server from a dead one, and a
 *   process that dies with a buffer loses it;
 * - `publishBufferSize` > 0: up to that many publishes wait in order, in memory, and are sent one
 *   after another (in order, each with its token) once the server is back; each rejects when its
 *   `publishTimeoutMs` deadline passes first, and a publish past the bound fails with
 *   `QueueFullError` at once. Publishes made while the buffer is not empty queue behind it.
 */
import { randomBytes } from 'node:crypto';
import { BackendUnavailableError, QueueFullError, isTargeted, type MessageEnvelope } from '@woodwork/bus-core';
import { isConnectionError, isReady, unavailable, type RedisClient } from './connection.js';
import { compareEntryIds, dedupeKey, eventsKey, partitionOf, subscribedKey, targetsKey, tokenKey, type Layout } from './keys.js';
import type { ResolvedRedisBusOptions } from './options.js';
import type { Scripts } from './scripts.js';

export interface Stored {
  /** The entry id ('' for a duplicate). */
  id: string;
  duplicate: boolean;
  partition: number;
}

interface Waiting {
  send: () => Promise<string>;
  deadline: number;
  resolve: (id: string) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_DEADLINE_MS = 10_000;
/** How long a fail-fast publish waits for a reconnect (at most publishTimeoutMs). */
const MAX_DISCONNECTED_WAIT_MS = 1_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Publisher {
  private readonly buffer: Waiting[] = [];
  /** Tokens: random per publisher, then a counter (unique per publish call, cheap). */
  private readonly tokenBase = `${randomBytes(9).toString('base64url')}.`;
  private tokens = 0;
  /** Per partition, the newest entry id this publisher stored: the lower bound of a resend's search. */
  private readonly lastStored: Array<string | undefined> = [];
  private flushing = false;

  constructor(
    private readonly client: RedisClient,
    private readonly scripts: Scripts,
    private readonly layout: Layout,
    private readonly options: ResolvedRedisBusOptions,
  ) {
    client.on('ready', () => void this.flush());
  }

  /** Publishes waiting in the buffer for the server. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Stores `text` (the envelope's wire JSON) in the session's partition. `onlyGroup`: a redrive to one group. */
  async publish(envelope: MessageEnvelope, text: string, onlyGroup = ''): Promise<Stored> {
    const { layout, options } = this;
    const n = partitionOf(envelope.sessionId, layout.partitions);
    const token = `${this.tokenBase}${(++this.tokens).toString(36)}`;
    const deadlineMs = options.publishTimeoutMs > 0 ? options.publishTimeoutMs : DEFAULT_DEADLINE_MS;
    const exactlyOnce = envelope.deliveryMode === 'exactly_once' && options.dedupeWindowMs > 0 && onlyGroup === '';
    const target = onlyGroup === '' && isTargeted(envelope) ? (envelope.componentTarget ?? '') : '';
    const viaScript = (): Promise<string> =>
      this.scripts.wwPublish(
        [eventsKey(layout, n), tokenKey(layout, n, token), dedupeKey(layout, n, envelope.messageId), targetsKey(layout, n), subscribedKey(layout, n)],
        [text, deadlineMs + 30_000, exactlyOnce ? options.dedupeWindowMs : 0, target, onlyGroup],
      );
    // The common case (untargeted, no dedupe) is a plain XADD carrying the token; a resend after a
    // lost reply looks for the token among the entries after the last one this publisher stored in
    // the partition before the first try (so it needs one: the first publish to a partition takes
    // the script path).
    const plain = target === '' && !exactlyOnce && onlyGroup === '';
    let first: { lowerBound: string | undefined } | undefined;
    const send = async (): Promise<string> => {
      if (!first) {
        first = { lowerBound: this.lastStored[n] };
        if (!plain || first.lowerBound === undefined) return viaScript();
        return String(await this.client.xadd(eventsKey(layout, n), '*', 'envelope', text, 'token', token));
      }
      if (!plain || first.lowerBound === undefined) return viaScript();
      return this.scripts.wwResend(eventsKey(layout, n), first.lowerBound, token, text);
    };
    const id = await this.sendOrBuffer(send, deadlineMs);
    if (id !== 'dup') {
      const last = this.lastStored[n];
      if (last === undefined || compareEntryIds(id, last) > 0) this.lastStored[n] = id;
    }
    return id === 'dup' ? { id: '', duplicate: true, partition: n } : { id, duplicate: false, partition: n };
  }

  private async sendOrBuffer(send: () => Promise<string>, deadlineMs: number): Promise<string> {
    const size = this.options.publishBufferSize;
    if (size === 0) return this.sendFailingFast(send, deadlineMs);
    if (isReady(this.client) && this.buffer.length === 0) {
      try {
        return await send();
      } catch (error) {
        if (!isConnectionError(error)) throw unavailable(this.options, error);
        // The reply was lost with the connection: resend (same token) once the server is back.
      }
    }
    if (this.buffer.length >= size) throw new QueueFullError('publish buffer', size, `the publish buffer is full (${size} publishes wait for Redis)`);
    return new Promise<string>((resolve, reject) => {
      const waiting: Waiting = {
        send,
        deadline: Date.now() + deadlineMs,
        resolve,
        reject,
        timer: setTimeout(() => {
          const at = this.buffer.indexOf(waiting);
          if (at >= 0) this.buffer.splice(at, 1);
          reject(new BackendUnavailableError(`Redis did not come back within publishTimeoutMs (${deadlineMs} ms)`));
        }, deadlineMs),
      };
      this.buffer.push(waiting);
      void this.flush();
    });
  }

  /**
   * Fail fast, but not in the moment between the server's return and the client's reconnect: wait
   * at most 1 s (or publishTimeoutMs if shorter) for the connection; a reply lost with the
   * connection is resent (same token, so stored once) within the same bound.
   */
  private async sendFailingFast(send: () => Promise<string>, deadlineMs: number): Promise<string> {
    const windowMs = Math.min(deadlineMs, MAX_DISCONNECTED_WAIT_MS);
    let waitUntil = Date.now() + windowMs;
    for (;;) {
      while (!isReady(this.client) && Date.now() < waitUntil) await delay(20);
      if (!isReady(this.client)) {
        throw new BackendUnavailableError(`Redis is unavailable (connection ${this.client.status}); publishBufferSize is 0: failing fast`);
      }
      try {
        return await send();
      } catch (error) {
        if (!isConnectionError(error) || Date.now() >= waitUntil + windowMs) throw unavailable(this.options, error);
        waitUntil = Date.now() + windowMs;
      }
    }
  }

  /** Sends the buffer in order, one after another, while the server answers. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.buffer.length > 0 && isReady(this.client)) {
        const head = this.buffer[0]!;
        const done = (): void => {
          const at = this.buffer.indexOf(head);
          if (at >= 0) this.buffer.splice(at, 1);
          clearTimeout(head.timer);
        };
        try {
          const id = await head.send();
          done();
          head.resolve(id);
        } catch (error) {
          if (isConnectionError(error)) break;
          done();
          head.reject(unavailable(this.options, error));
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Rejects everything still buffered (close). */
  failAll(error: unknown): void {
    for (const waiting of this.buffer.splice(0)) {
      clearTimeout(waiting.timer);
      waiting.reject(error);
    }
  }
}
