/**
 * The consumer's end of a stream: an async iterator over the chunks, in order. Chunks wait in a
 * buffer that the credit this reader granted bounds (the window past its last ack): a chunk beyond
 * it fails the stream, whatever the producer does. Taking chunks from the iterator sends credit
 * back (`stream.ack`). A gap or a duplicate in the sequence numbers is caught here: duplicates
 * (at-least-once redelivery) are dropped, a gap fails the stream instead of yielding a hole.
 *
 * A reader starts unstarted: its manager accepted the stream (`stream.accepted`) and waits for the
 * producer to bind it here; the manager shows it to the app only once the producer's first message
 * arrives (`start()`), and drops it quietly if the producer declines it. The manager's ticker calls
 * `checkLiveness`: a reader that has sent nothing for a while repeats its ack (its acceptance while
 * unstarted; either heals a lost one), and one that heard nothing from its producer for the idle
 * timeout fails.
 */
import { Deque, type JsonObject, type JsonValue } from '@woodwork/bus-core';
import { StreamFailedError } from './stream-errors.js';
import { StreamEvent, sameToken, type ConsumerMessage, type RemoteError, type StreamMessage } from './stream-protocol.js';

export type StreamReaderState = 'open' | 'completed' | 'failed' | 'cancelled';

export interface StreamReaderInit {
  streamId: string;
  sessionId: string;
  /** The producer's component. */
  source: string;
  /** This reader's manager's address: the producer sends the stream there once it bound it. */
  address: string;
  /** The credit this reader grants: the producer's window, or less (the manager's `maxWindow`). */
  window: number;
  metadata: JsonObject;
  /** The stream's token (from `stream.created`): a message of the producer counts only when it carries it (see `owns`). */
  token: string;
  /** The manager's clock. */
  now(): number;
  /** Publishes one protocol message to the producer instance (the manager adds the token); rejects when the bus did not accept it. */
  send(message: ConsumerMessage): Promise<unknown>;
  /** Called once when the reader reaches a final state. */
  onFinished(): void;
}

export class StreamReader<T extends JsonValue = JsonValue> implements AsyncIterableIterator<T> {
  readonly streamId: string;
  readonly sessionId: string;
  readonly source: string;
  readonly metadata: JsonObject;
  private stateValue: StreamReaderState = 'open';
  /** The producer bound the stream here (the app may see it). */
  private startedValue = false;
  private readonly buffer = new Deque<T>();
  private nextSeq = 1;
  private taken = 0;
  private acked = 0;
  /** Ack at least every this many taken chunks, so the producer never waits on a window we already freed. */
  private readonly ackEvery: number;
  private failure: StreamFailedError | undefined;
  private failureThrown = false;
  private waiters: Array<() => void> = [];
  private lastSentAt: number;
  private lastHeardAt: number;
  /** Set when this side ended the stream while the producer may still be writing: what to tell it again. */
  private stopReasonValue: string | undefined;

  constructor(private readonly init: StreamReaderInit) {
    this.streamId = init.streamId;
    this.sessionId = init.sessionId;
    this.source = init.source;
    this.metadata = init.metadata;
    this.ackEvery = Math.max(1, Math.ceil(init.window / 2));
    this.lastSentAt = this.lastHeardAt = init.now();
  }

  /** True when a message in `sessionId` carrying `token` belongs to this stream (anything else is dropped by the manager). */
  owns(sessionId: string, token: string | undefined): boolean {
    return sessionId === this.sessionId && sameToken(this.init.token, token);
  }

  get state(): StreamReaderState {
    return this.stateValue;
  }

  /** Chunks received and not yet taken. */
  get buffered(): number {
    return this.buffer.length;
  }

  /**
   * Why this side stopped a stream its producer may still be writing (cancelled here, or chunks
   * lost); undefined otherwise. The manager repeats it if the producer's keepalives keep coming.
   */
  get stopReason(): string | undefined {
    return this.stopReasonValue;
  }

  /** Chunks the iterator has handed out. */
  get chunksTaken(): number {
    return this.taken;
  }

  /** True once the producer bound the stream to this reader. */
  get started(): boolean {
    return this.startedValue;
  }

  /** Tells the producer this manager takes the stream (`stream.accepted`); rejects when the bus did not accept it. */
  async accept(): Promise<void> {
    this.lastSentAt = this.init.now();
    await this.init.send({ event: StreamEvent.ACCEPTED, streamId: this.streamId, replyTo: this.init.address, window: this.init.window });
  }

  /** A message of the producer arrived: the stream is bound here. True the first time (show it to the app). */
  start(): boolean {
    if (this.startedValue || this.stateValue !== 'open') return false;
    this.startedValue = true;
    this.lastHeardAt = this.init.now();
    return true;
  }

  /**
   * The producer declined this reader's acceptance (another replica reads the stream, or it ended
   * before anyone accepted it). Unstarted, the reader just goes; started, the producer no longer
   * knows the stream, so it fails.
   */
  declined(reason: string): void {
    if (this.stateValue !== 'open') return;
    if (this.startedValue) this.failLocally(`the producer no longer has the stream: ${reason}`, false);
    else this.finish('cancelled');
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * The next chunk, in order. Waits while none is buffered; done after `stream.completed`; throws
   * `StreamFailedError` (once, after the chunks sent before the failure) when the producer failed
   * the stream or chunks were lost.
   */
  async next(): Promise<IteratorResult<T, undefined>> {
    for (;;) {
      if (this.buffer.length > 0) {
        const value = this.buffer.shift() as T;
        this.taken++;
        if (this.taken - this.acked >= this.ackEvery) this.sendAck();
        return { value, done: false };
      }
      if (this.stateValue === 'failed' && this.failure && !this.failureThrown) {
        this.failureThrown = true;
        throw this.failure;
      }
      if (this.stateValue !== 'open') return { value: undefined, done: true };
      // About to wait: give back all credit first, or a producer blocked on its window never writes again.
      if (this.taken > this.acked) this.sendAck();
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Stops reading (a `for await` that breaks calls this): cancels the stream if it is still open. */
  async return(): Promise<IteratorResult<T, undefined>> {
    await this.cancel('the consumer stopped reading');
    return { value: undefined, done: true };
  }

  /**
   * Cancels the stream: drops what is buffered, tells the producer (its next write rejects with
   * `StreamCancelledError`), and ends the iterator. A no-op once the stream has ended.
   */
  async cancel(reason = 'cancelled by the consumer'): Promise<void> {
    if (this.stateValue !== 'open') return;
    this.buffer.drain();
    this.stopReasonValue = reason;
    this.finish('cancelled');
    await this.init.send({ event: StreamEvent.CANCELLED, streamId: this.streamId, reason, replyTo: this.init.address });
  }

  /** Feeds a protocol message from the producer (the manager calls this in publish order). */
  receive(message: StreamMessage): void {
    if (this.stateValue !== 'open') return;
    this.lastHeardAt = this.init.now();
    switch (message.event) {
      case StreamEvent.KEEPALIVE:
        // `written` counts only chunks the bus accepted before this keepalive, so within the
        // session's order every one of them has arrived by now, unless it was lost.
        if (message.written > this.nextSeq - 1) {
          this.failLocally(`chunk ${this.nextSeq} never arrived (the producer wrote ${message.written})`, true);
        }
        return;
      case StreamEvent.CHUNK:
        if (message.seq < this.nextSeq) return; // a redelivered duplicate
        if (message.seq > this.nextSeq) {
          this.failLocally(`chunk ${this.nextSeq} never arrived (got chunk ${message.seq})`, true);
          return;
        }
        // The credit this reader granted: its window past the last ack it sent (the producer may
        // know of less, never of more). A chunk beyond it is a producer ignoring backpressure;
        // buffering it would let one stream take any amount of memory.
        if (message.seq > this.acked + this.init.window) {
          this.failLocally(`chunk ${message.seq} is beyond the credit this reader granted (window ${this.init.window}, ${this.acked} acknowledged)`, true);
          return;
        }
        this.nextSeq++;
        this.buffer.push(message.data as T);
        break;
      case StreamEvent.COMPLETED:
        if (message.chunks !== this.nextSeq - 1) {
          this.failLocally(`completed after ${message.chunks} chunks, but ${this.nextSeq - 1} arrived`, false);
          return;
        }
        this.finish('completed');
        break;
      case StreamEvent.FAILED:
        this.fail(message.error);
        break;
      default:
        return;
    }
    this.wakeReader();
  }

  private fail(remote: RemoteError): void {
    this.failure = new StreamFailedError(this.streamId, `failed by its producer: ${remote.message}`, remote);
    this.finish('failed');
  }

  /** Chunks were lost: fail here, and tell a producer that is still writing to stop. */
  private failLocally(reason: string, producerStillWriting: boolean): void {
    this.failure = new StreamFailedError(this.streamId, reason);
    if (producerStillWriting) this.stopReasonValue = reason;
    this.finish('failed');
    this.wakeReader();
    if (producerStillWriting) {
      void this.init.send({ event: StreamEvent.CANCELLED, streamId: this.streamId, reason, replyTo: this.init.address }).catch(() => undefined);
    }
  }

  /**
   * Called by the manager's ticker: fails the stream when the producer has been silent for
   * `idleTimeoutMs` (0: never), else repeats the ack (the acceptance while unstarted) when nothing
   * was sent for `keepaliveMs`.
   */
  checkLiveness(now: number, idleTimeoutMs: number, keepaliveMs: number): void {
    if (this.stateValue !== 'open') return;
    if (idleTimeoutMs > 0 && now - this.lastHeardAt >= idleTimeoutMs) {
      this.failLocally(`no word from the producer ${this.source} for ${idleTimeoutMs} ms`, true);
      return;
    }
    if (keepaliveMs > 0 && now - this.lastSentAt >= keepaliveMs) {
      if (this.startedValue) this.sendAck(true);
      else this.accept().catch(() => undefined); // lost: the next one follows
    }
  }

  /** Sends the cumulative ack. `repeat`: a keepalive; losing it costs nothing, the next one follows. */
  private sendAck(repeat = false): void {
    this.acked = this.taken;
    this.lastSentAt = this.init.now();
    const taken = this.taken;
    this.init.send({ event: StreamEvent.ACK, streamId: this.streamId, taken, replyTo: this.init.address }).catch((error: unknown) => {
      // Without this ack the producer may wait forever: end the stream visibly instead.
      if (repeat || this.stateValue !== 'open') return;
      this.failure = new StreamFailedError(this.streamId, `could not send credit to the producer: ${String(error)}`);
      this.finish('failed');
      this.wakeReader();
    });
  }

  private finish(state: Exclude<StreamReaderState, 'open'>): void {
    if (this.stateValue !== 'open') return;
    this.stateValue = state;
    this.wakeReader();
    this.init.onFinished();
  }

  private wakeReader(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}
