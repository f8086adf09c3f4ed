/**
 * A message a pull request delivered, read straight from the core message: its stream subject, its
 * body, and the ack subject the server gave it (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream
 * seq>.<consumer seq>.<ms>.<pending>`, or the 2.10+ form with `<domain>.<account hash>` after
 * `$JS.ACK` and a random token at the end), from which the stream sequence and the delivery count
 * come. Settling is one core publish to that subject (`+ACK`, `-NAK`, `+TERM`, `+WPI`), as the
 * client's own JsMsg does; only the first of ack, nak and term is sent. Headers are parsed only
 * when asked for.
 */
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';

const ACK = new TextEncoder().encode('+ACK');
const NAK = new TextEncoder().encode('-NAK');
const TERM = new TextEncoder().encode('+TERM');
const WORKING = new TextEncoder().encode('+WPI');

export class PulledMessage {
  readonly seq: number;
  /** 1 on the first delivery, raised by every redelivery. */
  readonly deliveryCount: number;
  private done = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly raw: Msg,
    /** The ack subject (`raw.reply`); parsed by `ackTokens`. */
    readonly reply: string,
    tokens: readonly string[],
  ) {
    const at = tokens.length === 9 ? 4 : 6;
    this.deliveryCount = Number(tokens[at]);
    this.seq = Number(tokens[at + 1]);
  }

  /** The stream subject the message was published to. */
  get subject(): string {
    return this.raw.subject;
  }

  get headers(): MsgHdrs | undefined {
    return this.raw.headers;
  }

  string(): string {
    return this.raw.string();
  }

  ack(): void {
    this.settle(ACK);
  }

  nak(): void {
    this.settle(NAK);
  }

  term(): void {
    this.settle(TERM);
  }

  /** Resets the server's ack_wait for this delivery. */
  working(): void {
    if (!this.done) this.send(WORKING);
  }

  private settle(body: Uint8Array): void {
    if (this.done) return;
    this.done = true;
    this.send(body);
  }

  private send(body: Uint8Array): void {
    // A closed connection drops it: the server redelivers after ack_wait, as for a lost ack.
    if (!this.nc.isClosed()) this.nc.publish(this.reply, body);
  }
}

/**
 * The tokens of a JetStream ack subject and the consumer they name; undefined when `reply` is not
 * one (a status message of a pull request has no reply).
 */
export function ackTokens(reply: string | undefined): { tokens: string[]; stream: string; consumer: string } | undefined {
  if (!reply || !reply.startsWith('$JS.ACK.')) return undefined;
  const tokens = reply.split('.');
  if (tokens.length === 9) return { tokens, stream: tokens[2]!, consumer: tokens[3]! };
  if (tokens.length >= 11) return { tokens, stream: tokens[4]!, consumer: tokens[5]! };
  return undefined;
}
