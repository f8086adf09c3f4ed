/**
 * The bounded publish buffer (`publishBufferSize` > 0), as the Redis backend has it: while the
 * server is away, up to that many publishes wait in order, in memory, and are sent one after
 * another (each with its own `Nats-Msg-Id`, so a resend is stored once) once the connection is
 * back; each rejects with `BackendUnavailableError` when its `publishTimeoutMs` (10 s when 0)
 * passes first, and one past the bound fails at once with `QueueFullError`. A publish made while
 * the buffer holds anything queues behind it, so order is kept. A process that dies loses what it
 * buffered: the default stays 0 (fail fast).
 */
import type { PubAck } from '@nats-io/jetstream';
import { BackendUnavailableError, QueueFullError } from '@woodwork/bus-core';
import { publishRaw, type PublisherHost } from './publisher.js';

interface Waiting {
  subject: string;
  body: string;
  msgID: string;
  resolve: (ack: PubAck) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
}

const DEFAULT_DEADLINE_MS = 10_000;

export class PublishBuffer {
  private readonly waiting: Waiting[] = [];
  private flushing = false;

  constructor(
    private readonly host: PublisherHost,
    private readonly size: number,
    private readonly deadlineMs: number,
  ) {}

  /** Publishes waiting for the server. */
  get buffered(): number {
    return this.waiting.length;
  }

  send(subject: string, body: string, msgID: string): Promise<PubAck> {
    if (this.host.connected() && this.waiting.length === 0) return publishRaw(this.host, subject, body, msgID);
    if (this.waiting.length >= this.size) {
      return Promise.reject(new QueueFullError('publish buffer', this.size, `the publish buffer is full (${this.size} publishes wait for NATS)`));
    }
    const deadlineMs = this.deadlineMs > 0 ? this.deadlineMs : DEFAULT_DEADLINE_MS;
    return new Promise<PubAck>((resolve, reject) => {
      const entry: Waiting = {
        subject,
        body,
        msgID,
        resolve,
        reject,
        timer: setTimeout(() => {
          const at = this.waiting.indexOf(entry);
          if (at >= 0) this.waiting.splice(at, 1);
          reject(new BackendUnavailableError(`NATS did not come back within publishTimeoutMs (${deadlineMs} ms); ${subject} not published`));
        }, deadlineMs),
      };
      this.waiting.push(entry);
      void this.flush();
    });
  }

  /** Sends what waits, in order, while the connection is up (called on reconnect too). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.waiting.length > 0 && this.host.connected()) {
        const head = this.waiting[0]!;
        try {
          const ack = await publishRaw(this.host, head.subject, head.body, head.msgID);
          this.remove(head);
          head.resolve(ack);
        } catch (error) {
          // Gone again: it stays at the head until the next reconnect or its deadline.
          if (!this.host.connected() && this.waiting.includes(head)) break;
          this.remove(head);
          head.reject(error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Rejects everything still waiting (close). */
  failAll(error: unknown): void {
    for (const entry of this.waiting.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }

  private remove(entry: Waiting): void {
    clearTimeout(entry.timer);
    const at = this.waiting.indexOf(entry);
    if (at >= 0) this.waiting.splice(at, 1);
  }
}
