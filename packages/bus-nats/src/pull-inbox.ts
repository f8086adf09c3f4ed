/**
 * The subscription through which one consumer's pull requests are answered while this process runs
 * its partition: one long-lived inbox per running partition, not one per pull (the client's
 * `fetch()` opens and closes one each time). Each pull request is a core publish to
 * `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with the reply subject `<inbox>.<request>`; the
 * server sends the messages it hands to that request with their own stream subjects and their ack
 * subjects as reply, and ends a request with a status message on its reply subject (408 expired,
 * 409 refused or its consumer deleted, 503 no such consumer). Closing the inbox withdraws the
 * interest, so the server drops the requests still waiting instead of filling them: a partition
 * this process stops running gets no more messages here, at once, and may be handed over.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { PulledMessage, ackTokens } from './pulled-message.js';

export interface InboxReader {
  received(msg: PulledMessage): void;
  /** A status message for one of its requests. */
  status(request: string, code: number, description: string): void;
}

export class PullInbox {
  private readonly prefix: string;
  private readonly subscription: Subscription;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly consumer: string,
    private readonly reader: InboxReader,
  ) {
    this.prefix = createInbox((nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    this.subscription = nc.subscribe(`${this.prefix}.*`, {
      callback: (error, msg) => {
        if (!error) this.arrived(msg);
      },
    });
  }

  /** Sends one pull request for up to `batch` messages, waiting at most `expiresMs` on the server. */
  request(request: string, batch: number, expiresMs: number): void {
    this.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.consumer}`, JSON.stringify({ batch, expires: expiresMs * 1_000_000 }), {
      reply: `${this.prefix}.${request}`,
    });
  }

  get closed(): boolean {
    return this.subscription.isClosed();
  }

  close(): void {
    if (!this.subscription.isClosed()) this.subscription.unsubscribe();
  }

  private arrived(msg: Msg): void {
    if (this.subscription.isClosed()) return;
    const ack = ackTokens(msg.reply);
    if (ack) {
      if (ack.stream === this.stream && ack.consumer === this.consumer) this.reader.received(new PulledMessage(this.nc, msg, msg.reply!, ack.tokens));
      return;
    }
    const headers = msg.headers;
    this.reader.status(msg.subject.slice(this.prefix.length + 1), headers?.code ?? 0, headers?.description ?? '');
  }
}
