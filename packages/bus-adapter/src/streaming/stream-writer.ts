/**
 * The producer's end of a stream. Writes go out one at a time in call order (so chunks are
 * published in order even when callers do not await each write), and each waits while `window`
 * chunks are written but not yet taken by the reader's iterator (its `stream.ack` messages give the
 * credit back). The window is the one asked for, lowered to what the reader granted in its
 * acceptance; chunks held before that go out only within the granted credit.
 *
 * The stream is bound to the first consumer instance that accepts it (`stream.accepted`), and
 * everything goes there; acks and cancels from any other instance are ignored (and the manager
 * hands the writer only messages carrying the stream's token, in its session: `owns`). Until then there is
 * nowhere to publish a chunk, so up to `window` written chunks are held here and published, in
 * order, once the stream is bound (the credit a reader would give). `end()` waits for the binding:
 * when it resolves, the whole stream is on the bus. The manager's ticker calls `checkLiveness`: a
 * bound writer that has sent nothing for a while sends a keepalive, and one that heard nothing from
 * its consumer for the idle timeout fails.
 */
import { Deque, type JsonValue } from '@woodwork/bus-core';
import { StreamCancelledError, StreamFailedError } from './stream-errors.js';
import { StreamEvent, sameToken, type ProducerMessage, type RemoteError } from './stream-protocol.js';

export type StreamWriterState = 'open' | 'completed' | 'failed' | 'cancelled';

/** What an acceptance did: bound the stream, repeated the one it is bound to, or came too late. */
export type Acceptance = 'bound' | 'repeated' | 'declined';

export interface StreamWriterInit {
  streamId: string;
  sessionId: string;
  target: string;
  window: number;
  /** The stream's token: a message of the consumer counts only when it carries it (the manager checks, see `owns`). */
  token: string;
  /** The manager's clock. */
  now(): number;
  /**
   * Publishes one protocol message to the consumer instance at `address` (the manager adds the
   * token); rejects when the bus did not accept it.
   */
  send(message: ProducerMessage, address: string): Promise<unknown>;
  /** Called once when the writer reaches a final state. */
  onFinished(): void;
}

interface HeldChunk {
  seq: number;
  data: JsonValue;
}

export class StreamWriter<T extends JsonValue = JsonValue> {
  readonly streamId: string;
  readonly sessionId: string;
  readonly target: string;
  /** Chunks that may be unread at once: the window asked for, lowered to what the reader granted once one accepted. */
  private windowValue: number;
  private stateValue: StreamWriterState = 'open';
  /** Chunks written: published, or held until the stream is bound. */
  private written = 0;
  /** Chunks the bus accepted (a keepalive's `written` must never name a chunk still on its way). */
  private published = 0;
  private taken = 0;
  /** Written, not yet published (before any reader accepted the stream), oldest first; at most `window`. */
  private readonly held = new Deque<HeldChunk>();
  private cancelError: StreamCancelledError | undefined;
  /** Set by `fail()`: later and waiting writes reject with it. */
  private failError: StreamFailedError | undefined;
  /** Every operation runs after the previous one: publish order is call order. */
  private chain: Promise<unknown> = Promise.resolve();
  private wakeWaiters: Array<() => void> = [];
  /** The consumer instance reading the stream, once one accepted it. */
  private readerAddressValue: string | undefined;
  /** The idle timeout runs once the bus accepted `stream.created`. */
  private announced = false;
  private lastSentAt: number;
  private lastHeardAt: number;
  /** Why a consumer instance was declined for speaking another protocol: said when the stream times out unbound. */
  private refusedPeer: string | undefined;

  constructor(private readonly init: StreamWriterInit) {
    this.streamId = init.streamId;
    this.sessionId = init.sessionId;
    this.target = init.target;
    this.windowValue = init.window;
    this.lastSentAt = this.lastHeardAt = init.now();
  }

  /** True when a message in `sessionId` carrying `token` belongs to this stream (anything else is dropped by the manager). */
  owns(sessionId: string, token: string | undefined): boolean {
    return sessionId === this.sessionId && sameToken(this.init.token, token);
  }

  /** A consumer instance speaking another protocol accepted the stream and was declined: said if the stream times out unbound. */
  refused(reason: string): void {
    this.refusedPeer ??= reason;
  }

  get state(): StreamWriterState {
    return this.stateValue;
  }

  /** Chunks that may be written and unread at once (the reader may have granted less than was asked). */
  get window(): number {
    return this.windowValue;
  }

  /** Chunks written so far (published, or held until a reader accepts the stream). */
  get chunksWritten(): number {
    return this.written;
  }

  /** Chunks the consumer has taken, as far as its acks have told. */
  get chunksTaken(): number {
    return this.taken;
  }

  /** The address of the consumer instance that reads the stream; undefined until one accepted it. */
  get readerAddress(): string | undefined {
    return this.readerAddressValue;
  }

  /**
   * Writes one chunk, after waiting while `window` chunks are unread. Resolves when the bus accepted
   * it, or, before any reader accepted the stream, once it is held for that reader. Rejects with
   * `StreamCancelledError` once the consumer cancelled, with `StreamFailedError` after `fail()`, and
   * with the bus's error when a publish fails (the chunk then does not count: the stream stays
   * usable, nothing is missing on the consumer's side).
   */
  write(data: T): Promise<void> {
    return this.enqueue(async () => {
      await this.waitUntil(() => this.written - this.taken < this.window);
      // Every chunk goes through `held`, so none overtakes one held before the stream was bound.
      const seq = this.written + 1;
      this.held.push({ seq, data });
      this.written = seq;
      if (this.readerAddressValue === undefined) return;
      try {
        await this.flushHeld();
      } catch (error) {
        // This write's chunk does not count (its caller gets the error); earlier held ones, whose
        // writes resolved, stay for the next operation to publish.
        this.held.retain((chunk) => chunk.seq !== seq);
        this.written = seq - 1;
        throw error;
      }
    });
  }

  /**
   * Completes the stream after every earlier write, once a reader accepted it: when this resolves,
   * every chunk and the completion are on the bus. Rejects with `StreamCancelledError` if the
   * consumer cancelled.
   */
  end(): Promise<void> {
    return this.enqueue(async () => {
      // Every held chunk out first: the reader may have granted less credit than there are held chunks.
      await this.waitUntil(() => this.readerAddressValue !== undefined && this.held.length === 0);
      await this.sendInOrder({ event: StreamEvent.COMPLETED, streamId: this.streamId, chunks: this.written });
      this.finish('completed');
    });
  }

  /**
   * Fails the stream: the consumer's iterator throws `StreamFailedError` after the chunks already
   * published (held ones are dropped). Writes waiting for credit reject at once. A stream no reader
   * has accepted yet just ends (a late acceptance is declined, so no reader ever shows it). A no-op
   * on a stream already cancelled, failed or completed.
   */
  fail(error: unknown): Promise<void> {
    const remote = error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
    return this.failWith(new StreamFailedError(this.streamId, `failed by its producer: ${remote.message}`, remote), remote);
  }

  /** The bus accepted `stream.created`: from now on the writer watches for its consumer. */
  opened(): void {
    this.announced = true;
    this.lastSentAt = this.lastHeardAt = this.init.now();
  }

  /**
   * Called by the manager's ticker: fails the stream when the consumer has been silent for
   * `idleTimeoutMs` (0: never; before any instance accepted the stream, silent means that none
   * did), else sends a keepalive to the bound reader when nothing was sent for `keepaliveMs`.
   */
  checkLiveness(now: number, idleTimeoutMs: number, keepaliveMs: number): void {
    if (!this.announced || this.stateValue !== 'open' || this.failError) return;
    if (idleTimeoutMs > 0 && now - this.lastHeardAt >= idleTimeoutMs) {
      const refused = this.readerAddressValue === undefined && this.refusedPeer !== undefined ? ` (${this.refusedPeer})` : '';
      const reason = `no word from the consumer ${this.target} for ${idleTimeoutMs} ms${refused}`;
      void this.failWith(new StreamFailedError(this.streamId, reason), { name: 'StreamFailedError', message: reason }).catch(() => undefined);
      return;
    }
    const reader = this.readerAddressValue;
    if (reader !== undefined && keepaliveMs > 0 && now - this.lastSentAt >= keepaliveMs) {
      this.lastSentAt = now;
      // Outside the write chain on purpose: a write blocked on credit must not silence the stream.
      // A lost keepalive costs nothing; the next one follows.
      this.init.send({ event: StreamEvent.KEEPALIVE, streamId: this.streamId, written: this.published }, reader).catch(() => undefined);
    }
  }

  /**
   * A `stream.accepted` from the consumer instance at `address`. The first one binds the stream
   * (the writer tells that reader `stream.started` and publishes what it held); a repeat from the
   * bound reader gets `stream.started` again (the first may have been lost); any other is declined
   * by the manager.
   */
  accepted(address: string, granted?: number): Acceptance {
    const first = this.readerAddressValue === undefined;
    if (!first && this.readerAddressValue !== address) return 'declined';
    // A stream that ended (or is failing) before any reader accepted it has nothing to read.
    if (first && (this.stateValue !== 'open' || this.failError)) return 'declined';
    this.readerAddressValue = address;
    if (first && granted !== undefined && granted < this.windowValue) this.windowValue = granted;
    this.lastHeardAt = this.lastSentAt = this.init.now();
    // Outside the write chain: any message of the stream starts the reader, so order does not
    // matter, and a lost one is healed by the reader repeating its acceptance.
    this.init.send({ event: StreamEvent.STARTED, streamId: this.streamId }, address).catch(() => undefined);
    if (!first) return 'repeated';
    // An operation waiting in the chain publishes the held chunks when woken; with none waiting,
    // this one does (in the chain, so in order). A failed publish leaves them held for the next
    // operation, which tries again.
    this.wake();
    if (this.held.length > 0) this.enqueue(() => this.flushHeld()).catch(() => undefined);
    return 'bound';
  }

  /**
   * A `stream.cancelled` from `address` (or the manager is closing: no address). Taken from the
   * bound reader, or before any reader accepted (the consumer component refused the stream).
   */
  cancelled(reason: string, address?: string): void {
    if (this.stateValue !== 'open') return;
    if (address !== undefined && this.readerAddressValue !== undefined && address !== this.readerAddressValue) return;
    this.cancelError = new StreamCancelledError(this.streamId, reason);
    this.finish('cancelled');
  }

  /** A `stream.ack` from `address`: acks are cumulative, so a late or repeated one changes nothing. */
  acknowledged(taken: number, address: string): void {
    if (address !== this.readerAddressValue) return;
    this.lastHeardAt = this.init.now();
    if (taken <= this.taken) return;
    this.taken = Math.min(taken, this.published);
    this.wake();
  }

  private failWith(local: StreamFailedError, remote: RemoteError): Promise<void> {
    if (this.stateValue !== 'open' || this.failError) return this.chain.then(() => undefined, () => undefined);
    this.failError = local;
    this.held.drain();
    this.wake();
    return this.enqueue(async () => {
      if (this.stateValue !== 'open') return;
      try {
        // Unbound: no reader has anything of the stream, so there is nobody to tell.
        if (this.readerAddressValue !== undefined) {
          await this.sendInOrder({ event: StreamEvent.FAILED, streamId: this.streamId, chunks: this.published, error: remote });
        }
      } finally {
        this.finish('failed');
      }
    });
  }

  /**
   * Waits (inside the chain) until `ready` holds, publishing held chunks as soon as the stream is
   * bound, and checks the stream can still be written each time it wakes.
   */
  private async waitUntil(ready: () => boolean): Promise<void> {
    for (;;) {
      this.assertWritable();
      await this.flushHeld();
      if (ready()) return;
      // Bound while this operation was not waiting yet (its wake is spent): publish first.
      if (this.mayPublishHeld()) continue;
      await new Promise<void>((resolve) => this.wakeWaiters.push(resolve));
    }
  }

  /** Publishes the held chunks, in order, once the stream is bound (only ever inside the chain). */
  private async flushHeld(): Promise<void> {
    for (let next = this.held.peek(); next !== undefined && this.mayPublishHeld(); next = this.held.peek()) {
      if (this.failError || this.stateValue !== 'open') return;
      await this.sendInOrder({ event: StreamEvent.CHUNK, streamId: this.streamId, seq: next.seq, data: next.data });
      this.held.shift();
      this.published = next.seq;
    }
  }

  /**
   * The next held chunk may go out: the stream is bound, and the chunk is within the credit the
   * reader granted (chunks held before binding may exceed a window the reader lowered).
   */
  private mayPublishHeld(): boolean {
    const next = this.held.peek();
    return next !== undefined && this.readerAddressValue !== undefined && next.seq <= this.taken + this.windowValue;
  }

  /** Sends to the bound reader (callers wait for binding first). */
  private async sendInOrder(message: ProducerMessage): Promise<void> {
    this.lastSentAt = this.init.now();
    await this.init.send(message, this.readerAddressValue as string);
    this.lastSentAt = this.init.now();
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
    this.held.drain();
    this.wake();
    this.init.onFinished();
  }

  private wake(): void {
    for (const resolve of this.wakeWaiters.splice(0)) resolve();
  }
}
