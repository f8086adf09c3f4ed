/**
 * Publishing, pipelined with every other command of the bus on its connection. Each publish call gets its own
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
 * - `publishBufferSize` > 0: core's `PublishBuffer`: up to that many publishes wait in order, in
 *   memory, and are sent one after another (each with its token, so a resend is stored once) once
 *   the server is back; each rejects with `BackendUnavailableError` when its `publishTimeoutMs`
 *   deadline passes first, and a publish past the bound fails with `QueueFullError` at once.
 *   Publishes made while the buffer is not empty queue behind it.
 */
import { randomBytes } from 'node:crypto';
import { BackendUnavailableError, PublishBuffer, isTargeted, type MessageEnvelope } from '@woodwork/bus-core';
import { accessError } from './access-errors.js';
import { accessContext, isConnectionError, isReady, refusalOf, unavailable, type RedisClient } from './connection.js';
import { compareEntryIds, dedupeKey, eventsKey, partitionOf, subscribedKey, targetsKey, tokenKey, type Layout } from './keys.js';
import type { ResolvedRedisBusOptions } from './options.js';
import type { Scripts } from './scripts.js';
import { WriteCoalescer } from './write-coalescer.js';

export interface Stored {
  /** The entry id ('' for a duplicate). */
  id: string;
  duplicate: boolean;
  partition: number;
}

const DEFAULT_DEADLINE_MS = 10_000;
/** Publishes are coalesced into one write per turn only with this many commands unanswered. */
const PUBLISH_HOLD_MIN_UNANSWERED = 16;
/** How long a fail-fast publish waits for a reconnect (at most publishTimeoutMs). */
const MAX_DISCONNECTED_WAIT_MS = 1_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class Publisher {
  /** The bounded buffer while the server is away (`publishBufferSize` > 0). */
  private readonly buffer: PublishBuffer | undefined;
  /** Tokens: random per publisher, then a counter (unique per publish call, cheap). */
  private readonly tokenBase = `${randomBytes(9).toString('base64url')}.`;
  private tokens = 0;
  /** Per partition, the newest entry id this publisher stored: the lower bound of a resend's search. */
  private readonly lastStored: Array<string | undefined> = [];
  /** This turn's publishes in one socket write, while the server is behind (write-coalescer.ts). */
  private readonly writes: WriteCoalescer;

  constructor(
    private readonly client: RedisClient,
    private readonly scripts: Scripts,
    private readonly layout: Layout,
    private readonly options: ResolvedRedisBusOptions,
  ) {
    this.writes = new WriteCoalescer(client, PUBLISH_HOLD_MIN_UNANSWERED);
    if (options.publishBufferSize > 0) {
      const buffer = new PublishBuffer({
        size: options.publishBufferSize,
        deadlineMs: options.publishTimeoutMs > 0 ? options.publishTimeoutMs : DEFAULT_DEADLINE_MS,
        server: 'Redis',
        connected: () => isReady(client),
        // A connection that gave up after refused logins will not come back: fail, typed, at once.
        retryable: (error) => isConnectionError(error) && refusalOf(client, options) === undefined && accessError(error, accessContext(options)) === undefined,
        failure: (error) => unavailable(options, error, client),
      });
      client.on('ready', () => void buffer.flush());
      this.buffer = buffer;
    }
  }

  /** Publishes waiting in the buffer for the server. */
  get buffered(): number {
    return this.buffer?.buffered ?? 0;
  }

  /** Stores `text` (the envelope's wire JSON) in the session's partition. `onlyGroup`: a redrive to one group. */
  publish(envelope: MessageEnvelope, text: string, onlyGroup = ''): Promise<Stored> {
    const { layout, options } = this;
    const n = partitionOf(envelope.sessionId, layout.partitions);
    const token = `${this.tokenBase}${(++this.tokens).toString(36)}`;
    const deadlineMs = options.publishTimeoutMs > 0 ? options.publishTimeoutMs : DEFAULT_DEADLINE_MS;
    const exactlyOnce = envelope.deliveryMode === 'exactly_once' && options.dedupeWindowMs > 0 && onlyGroup === '';
    const target = onlyGroup === '' && isTargeted(envelope) ? (envelope.componentTarget ?? '') : '';
    // The common case (untargeted, no dedupe) is a plain XADD carrying the token; a resend after a
    // lost reply looks for the token among the entries after the last one this publisher stored in
    // the partition before the first try (so it needs one: the first publish to a partition takes
    // the script path).
    const lowerBound = this.lastStored[n];
    const plain = target === '' && !exactlyOnce && onlyGroup === '' && lowerBound !== undefined;
    if (plain && !this.buffer && isReady(this.client)) return this.publishPlain(n, token, text, lowerBound, deadlineMs);
    const viaScript = (): Promise<string> =>
      this.scripts.wwPublish(
        [eventsKey(layout, n), tokenKey(layout, n, token), dedupeKey(layout, n, envelope.messageId), targetsKey(layout, n), subscribedKey(layout, n)],
        [text, deadlineMs + 30_000, exactlyOnce ? options.dedupeWindowMs : 0, target, onlyGroup],
      );
    let tries = 0;
    const send = async (): Promise<string> => {
      this.writes.hold();
      if (!plain) return viaScript();
      if (tries++ === 0) return String(await this.client.xadd(eventsKey(layout, n), '*', 'envelope', text, 'token', token));
      return this.scripts.wwResend(eventsKey(layout, n), lowerBound, token, text);
    };
    return this.sendOrBuffer(send, deadlineMs).then((id) => this.stored(n, id));
  }

  /**
   * The common case while connected, with no async frame and no closure kept per publish: one XADD;
   * only a failure goes the long way (a lost reply is sent again as the resend script, same token).
   */
  private publishPlain(n: number, token: string, text: string, lowerBound: string, deadlineMs: number): Promise<Stored> {
    const startedAt = Date.now();
    this.writes.hold();
    return this.client.xadd(eventsKey(this.layout, n), '*', 'envelope', text, 'token', token).then(
      (id) => this.stored(n, String(id)),
      (error: unknown) => {
        if (!isConnectionError(error) || Date.now() >= startedAt + Math.max(deadlineMs, MAX_DISCONNECTED_WAIT_MS)) throw unavailable(this.options, error, this.client);
        const resend = (): Promise<string> => {
          this.writes.hold();
          return this.scripts.wwResend(eventsKey(this.layout, n), lowerBound, token, text);
        };
        return delay(20)
          .then(() => this.sendFailingFast(resend, deadlineMs, startedAt))
          .then((id) => this.stored(n, id));
      },
    );
  }

  /** What a publish stored (`'dup'`: an exactly_once duplicate); the partition's newest id noted. */
  private stored(n: number, id: string): Stored {
    if (id === 'dup') return { id: '', duplicate: true, partition: n };
    const last = this.lastStored[n];
    if (last === undefined || compareEntryIds(id, last) > 0) this.lastStored[n] = id;
    return { id, duplicate: false, partition: n };
  }

  private sendOrBuffer(send: () => Promise<string>, deadlineMs: number): Promise<string> {
    return this.buffer ? this.buffer.send(send) : this.sendFailingFast(send, deadlineMs);
  }

  /**
   * Fail fast, but not in the moment between the server's return and the client's reconnect: wait
   * at most 1 s (or publishTimeoutMs if shorter) for the connection; a reply lost with the
   * connection is resent (same token, so stored once) after waiting for the reconnect again, until
   * the publish's deadline. Between tries it always waits a timer: a command refused at once while
   * the client still says "ready" (its socket already closed) must not loop on microtasks, which
   * would keep the client from ever seeing the close.
   */
  private async sendFailingFast(send: () => Promise<string>, deadlineMs: number, startedAt = Date.now()): Promise<string> {
    const windowMs = Math.min(deadlineMs, MAX_DISCONNECTED_WAIT_MS);
    const giveUpAt = startedAt + Math.max(deadlineMs, windowMs);
    let waitUntil = Math.min(giveUpAt, Date.now() + windowMs);
    for (;;) {
      while (!isReady(this.client) && Date.now() < waitUntil) await delay(20);
      if (!isReady(this.client)) {
        throw (
          refusalOf(this.client, this.options) ??
          new BackendUnavailableError(`Redis at ${this.options.server} is unavailable (connection ${this.client.status}); publishBufferSize is 0: failing fast`)
        );
      }
      try {
        return await send();
      } catch (error) {
        if (!isConnectionError(error) || Date.now() >= giveUpAt) throw unavailable(this.options, error, this.client);
        await delay(20);
        waitUntil = Math.min(giveUpAt, Date.now() + windowMs);
      }
    }
  }

  /** Rejects everything still buffered (close). */
  failAll(error: unknown): void {
    this.buffer?.failAll(error);
  }
}
