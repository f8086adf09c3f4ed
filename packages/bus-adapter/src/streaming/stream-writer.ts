/**
 * The producer's end of a stream. Writes go out one at a time in call order (so chunks are
 * published in order even when callers do not await each write), and each waits while `window`
 * chunks are written but not yet taken by the consumer's iterator: the consumer's `stream.ack`
 * messages give the credit back. The manager's ticker calls `checkLiveness`: a writer that has
 * sent nothing for a while sends a keepalive, and one that heard nothing from its consumer for the
 * idle timeout fails.
 */
import type { JsonValue } from '@woodwork/bus-core';
import { StreamCancelledError, StreamFailedError } from './stream-errors.js';
import { StreamEvent, type RemoteError, type StreamMessage } from './stream-protocol.js';

export type StreamWriterState = 'open' | 'completed' | 'failed' | 'cancelled';

export interface StreamWriterInit {
  streamId: string;
  sessionId: string;
  target: string;
  window: number;
  /** Publishes one protocol message to the consumer; rejects when the bus did not accept it. */
  send(message: StreamMessage): Promise<unknown>;
  /** Called once when the writer reaches a final state. */
  onFinished(): void;
}

export class StreamWriter<T extends JsonValue = JsonValue> {
  readonly streamId: string;
  readonly sessionId: string;
  readonly target: string;
  readonly window: number;
  private stateValue: StreamWriterState = 'open';
  private written = 0;
  private taken = 0;
  private cancelError: StreamCancelledError | undefined;
  /** Set by `fail()`: later and waiting writes reject with it. */
  private failError: StreamFailedError | undefined;
  /** Every operation runs after the previous one: publish order is call order. */
  private chain: Promise<unknown> = Promise.resolve();
  private wakeWaiters: Array<() => void> = [];
  /** Liveness starts once `stream.created` is accepted: a keepalive must never overtake it. */
  private announced = false;
  private lastSentAt = Date.now();
  private lastHeardAt = Date.now();

  constructor(private readonly init: StreamWriterInit) {
    this.streamId = init.streamId;
    this.sessionId = init.sessionId;
    this.target = init.target;
    this.window = init.window;
  }

  get state(): StreamWriterState {
    return this.stateValue;
  }

  /** Chunks published so far. */
  get chunksWritten(): number {
    return this.written;
  }

  /** Chunks the consumer has taken, as far as its acks have told. */
  get chunksTaken(): number {
    return this.taken;
  }

  /**
   * Sends one chunk. Resolves when the bus accepted it; first waits while `window` chunks are
   * unread. Rejects with `StreamCancelledError` once the consumer cancelled, with
   * `StreamFailedError` after `fail()`, and with the bus's error when the publish fails (the chunk
   * then does not count: the stream stays usable, nothing is missing on the consumer's side).
   */
  write(data: T): Promise<void> {
    return this.enqueue(async () => {
      this.assertWritable();
      while (this.written - this.taken >= this.window) {
        await new Promise<void>((resolve) => this.wakeWaiters.push(resolve));
        this.assertWritable();
      }
      const seq = this.written + 1;
      await this.sendInOrder({ event: StreamEvent.CHUNK, streamId: this.streamId, seq, data });
      // Counted only once accepted: a keepalive's `written` must never name a chunk still on its way.
      this.written = seq;
    });
  }

  /** Completes the stream after every earlier write. Rejects with `StreamCancelledError` if the consumer cancelled. */
  end(): Promise<void> {
    return this.enqueue(async () => {
      this.assertWritable();
      await this.sendInOrder({ event: StreamEvent.COMPLETED, streamId: this.streamId, chunks: this.written });
      this.finish('completed');
    });
  }

  /**
   * Fails the stream: the consumer's iterator throws `StreamFailedError` after the chunks already
   * sent. Writes waiting for credit reject at once. A no-op on a stream already cancelled, failed
   * or completed.
   */
  fail(error: unknown): Promise<void> {
    const remote = error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
    return this.failWith(new StreamFailedError(this.streamId, `failed by its producer: ${remote.message}`, remote), remote);
  }

  /** `stream.created` was accepted: from now on the writer keeps the stream alive and watches its consumer. */
  opened(): void {
    this.announced = true;
    this.lastSentAt = this.lastHeardAt = Date.now();
  }

  /**
   * Called by the manager's ticker: fails the stream when the consumer has been silent for
   * `idleTimeoutMs` (0: never), else sends a keepalive when nothing was sent for `keepaliveMs`.
   */
  checkLiveness(now: number, idleTimeoutMs: number, keepaliveMs: number): void {
    if (!this.announced || this.stateValue !== 'open' || this.failError) return;
    if (idleTimeoutMs > 0 && now - this.lastHeardAt >= idleTimeoutMs) {
      const reason = `no word from the consumer ${this.target} for ${idleTimeoutMs} ms`;
      void this.failWith(new StreamFailedError(this.streamId, reason), { name: 'StreamFailedError', message: reason }).catch(() => undefined);
      return;
    }
    if (keepaliveMs > 0 && now - this.lastSentAt >= keepaliveMs) {
      this.lastSentAt = now;
      // Outside the write chain on purpose: a write blocked on credit must not silence the stream.
      // A lost keepalive costs nothing; the next one follows.
      this.init.send({ event: StreamEvent.KEEPALIVE, streamId: this.streamId, written: this.written }).catch(() => undefined);
    }
  }

  /** The consumer cancelled (a `stream.cancelled` arrived, or the manager is closing). */
  cancelled(reason: string): void {
    if (this.stateValue !== 'open') return;
    this.cancelError = new StreamCancelledError(this.streamId, reason);
    this.finish('cancelled');
  }

  /** A `stream.ack` arrived: acks are cumulative, so a late or repeated one changes nothing. */
  acknowledged(taken: number): void {
    this.lastHeardAt = Date.now();
    if (taken <= this.taken) return;
    this.taken = Math.min(taken, this.written);
    this.wake();
  }

  private failWith(local: StreamFailedError, remote: RemoteError): Promise<void> {
    if (this.stateValue !== 'open' || this.failError) return this.chain.then(() => undefined, () => undefined);
    this.failError = local;
    this.wake();
    return this.enqueue(async () => {
      if (this.stateValue !== 'open') return;
      try {
        await this.sendInOrder({ event: StreamEvent.FAILED, streamId: this.streamId, chunks: this.written, error: remote });
      } finally {
        this.finish('failed');
      }
    });
  }

  private async sendInOrder(message: StreamMessage): Promise<void> {
    this.lastSentAt = Date.now();
    await this.init.send(message);
    this.lastSentAt = Date.now();
  }

  private assertWritable(): void {
    if (this.cancelError) throw this.cancelError;
    if (this.failError) throw this.failError;
    if (this.stateValue !== 'open') throw new StreamFailedError(this.streamId, `is already ${this.stateValue}`);
  }

  private enqueue(operation: () => Promise<void>): Promise<void> {
    const result = this.chain.then(operation);
    this.chain = result.catch(() => undefined);
    return result;
  }

  private finish(state: Exclude<StreamWriterState, 'open'>): void {
    if (this.stateValue !== 'open') return;
    this.stateValue = state;
    this.wake();
    this.init.onFinished();
  }

  private wake(): void {
    for (const resolve of this.wakeWaiters.splice(0)) resolve();
  }
}
