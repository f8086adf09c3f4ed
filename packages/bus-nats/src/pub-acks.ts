/**
 * JetStream publishes with their PubAcks on one reply subscription per bus. The client's
 * `js.publish` is a request: per call it makes a muxed request, a deferred, a timer and, for stack
 * traces, two or three `Error` objects (a fifth of this backend's CPU per message when measured).
 * Here a publish is one `HPUB <subject> <inbox>.<n>` with the `Nats-Msg-Id` header; the reply, on
 * the bus's one `<inbox>.*` subscription, settles the call: a PubAck (`{"stream","seq","duplicate"}`),
 * a JetStream API error (`JetStreamApiError`), or the server's 503 status (no responders: no stream
 * takes the subject). Calls with no reply by their deadline fail with `PubAckTimeoutError` (one
 * sweep timer for all of them); the caller resends with the same `Nats-Msg-Id`, so the stream
 * stores the message once. The inbox uses the connection's `inboxPrefix`, as the client's own
 * requests do, so permissions written for the client apply unchanged.
 */
import { JetStreamApiError, type ApiError, type PubAck } from '@nats-io/jetstream';
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { DictionaryTable } from '@woodwork/bus-core';

/** How often unanswered publishes are checked against their deadlines. */
const SWEEP_MS = 50;

/** No reply within the publish's try: it may be stored or not (resend with the same id to know). */
export class PubAckTimeoutError extends Error {
  override readonly name = 'PubAckTimeoutError';
  constructor(subject: string, ms: number) {
    super(`no PubAck for ${subject} within ${ms} ms`);
  }
}

/** The server answered 503: nothing takes the subject (its stream is missing). */
export class NoStreamRespondersError extends Error {
  override readonly name = 'NoRespondersError';
  constructor(subject: string) {
    super(`no responders: no stream takes ${subject} (503)`);
  }
}

interface Waiting {
  resolve(ack: PubAck): void;
  reject(error: Error): void;
  deadline: number;
  subject: string;
  ms: number;
}

export class PubAcks {
  private readonly inbox: string;
  private readonly subscription: Subscription;
  /** By reply subject; an entry per publish, so not a `Map` (core's dictionary-table.ts). */
  private readonly waiting = new DictionaryTable<Waiting>();
  private next = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly nc: NatsConnection) {
    this.inbox = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.subscription = nc.subscribe(`${this.inbox}.*`, { callback: (error, msg) => this.replied(error, msg) });
  }

  /** Publishes `body` to `subject` with `Nats-Msg-Id: msgID`; resolves with its PubAck. */
  publish(subject: string, body: string, msgID: string, timeoutMs: number): Promise<PubAck> {
    const token = (this.next = (this.next + 1) % Number.MAX_SAFE_INTEGER).toString(36);
    const reply = `${this.inbox}.${token}`;
    const h = headers();
    h.set('Nats-Msg-Id', msgID);
    return new Promise<PubAck>((resolve, reject) => {
      this.waiting.set(reply, { resolve, reject, deadline: Date.now() + timeoutMs, subject, ms: timeoutMs });
      try {
        this.nc.publish(subject, body, { reply, headers: h });
      } catch (error) {
        this.waiting.delete(reply);
        reject(error as Error);
        return;
      }
      this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
    });
  }

  /** Fails the waiting publishes to `subject` at once (the server denied publishing to it). */
  fail(subject: string, error: Error): void {
    for (const [reply, w] of this.waiting.entries()) {
      if (w.subject !== subject) continue;
      this.waiting.delete(reply);
      w.reject(error);
    }
  }

  /** Fails every waiting publish (the bus is closing) and ends the subscription. */
  close(error: Error): void {
    for (const w of this.waiting.values()) w.reject(error);
    this.waiting.clear();
    this.stopSweeping();
    this.subscription.unsubscribe();
  }

  private replied(error: Error | null, msg: Msg): void {
    if (error) return;
    const w = this.waiting.get(msg.subject);
    if (!w) return;
    this.waiting.delete(msg.subject);
    if (this.waiting.size === 0) this.stopSweeping();
    if (msg.data.length === 0) {
      const code = msg.headers?.code ?? 0;
      w.reject(code === 503 ? new NoStreamRespondersError(w.subject) : new Error(`publish to ${w.subject}: status ${code} ${msg.headers?.description ?? ''}`));
      return;
    }
    let answer: Partial<PubAck> & { error?: ApiError };
    try {
      answer = JSON.parse(msg.string()) as typeof answer;
    } catch (cause) {
      w.reject(new Error(`publish to ${w.subject}: unreadable PubAck`, { cause }));
      return;
    }
    if (answer.error) w.reject(new JetStreamApiError(answer.error));
    else if (typeof answer.stream !== 'string' || typeof answer.seq !== 'number') w.reject(new Error(`publish to ${w.subject}: invalid PubAck`));
    else w.resolve({ stream: answer.stream, seq: answer.seq, duplicate: answer.duplicate === true, domain: answer.domain ?? '' } as PubAck);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [reply, w] of this.waiting.entries()) {
      if (w.deadline > now) continue;
      this.waiting.delete(reply);
      w.reject(new PubAckTimeoutError(w.subject, w.ms));
    }
    if (this.waiting.size === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
