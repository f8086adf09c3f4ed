/**
 * The bounded publish buffer of a backend whose server can be away (`publishBufferSize` > 0, config
 * `publish_buffer_size`): while the server is unreachable, up to `size` publishes wait in memory, in
 * call order, and are sent one after another once it is back. The rules, the same on every backend:
 *
 * - **Order**: a publish made while anything waits queues behind it, even if the server is back
 *   (the buffer is sent first, oldest first, one at a time).
 * - **The bound**: past `size` waiting publishes, `send` rejects at once with `QueueFullError`
 *   (nothing piles up unseen: no unbounded client-side queue).
 * - **The deadline**: each waiting publish rejects with `BackendUnavailableError` when `deadlineMs`
 *   (the bus's `publishTimeoutMs`; 10 s when that is 0) passes before it was sent; it is then taken
 *   out of the buffer and never sent.
 * - **Resends**: a send that fails because the server went away (`retryable`) stays at the head and
 *   is sent again (by the same `attempt`, so a backend that gives each publish call an idempotency
 *   token or message id stores it once) on the next `flush`: the backend calls `flush` when it
 *   reconnects, and the buffer tries again by itself every `retryMs` while it holds anything and the
 *   connection says it is up. Any other failure rejects that publish only (through `failure`).
 * - **Close**: `failAll` rejects every waiting publish.
 *
 * A process that dies loses what it buffered; that is why a backend's default size is 0 (fail fast
 * with `BackendUnavailableError`) and this buffer is an option.
 */
import { BackendUnavailableError, QueueFullError } from './errors.js';

export interface PublishBufferOptions {
  /** Most publishes that may wait (> 0). */
  size: number;
  /** How long one may wait before it rejects (`publishTimeoutMs`); 0 or less: 10 s. */
  deadlineMs: number;
  /** The server's name in messages (`Redis`, `NATS`). */
  server: string;
  /** The connection is up (sending may be tried). */
  connected(): boolean;
  /** A failed send that is worth sending again once the server is back (the connection dropped). */
  retryable(error: unknown): boolean;
  /** What a publish rejects with when its send failed for good (default: the error itself). */
  failure?(error: unknown): unknown;
  /** Pause between tries while the connection says it is up but sends still fail retryably (default 200 ms). */
  retryMs?: number;
}

interface Waiting {
  attempt: () => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  timer: NodeJS.Timeout;
  /** Being sent now: its deadline, if it passes meanwhile, waits for the outcome. */
  sending: boolean;
  /** Its deadline passed while it was being sent. */
  expired: boolean;
}

const DEFAULT_DEADLINE_MS = 10_000;
const DEFAULT_RETRY_MS = 200;

export class PublishBuffer {
  private readonly waiting: Waiting[] = [];
  private flushing = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly deadlineMs: number;

  constructor(private readonly options: PublishBufferOptions) {
    if (!Number.isInteger(options.size) || options.size <= 0) throw new RangeError(`PublishBuffer size must be a positive integer; got ${options.size}`);
    this.deadlineMs = options.deadlineMs > 0 ? options.deadlineMs : DEFAULT_DEADLINE_MS;
  }

  /** Publishes waiting for the server. */
  get buffered(): number {
    return this.waiting.length;
  }

  /**
   * Sends at once when the server is up and nothing waits; otherwise (or when that send fails
   * retryably) waits in the buffer. Resolves with what `attempt` resolved with.
   */
  async send<T>(attempt: () => Promise<T>): Promise<T> {
    if (this.options.connected() && this.waiting.length === 0) {
      try {
        return await attempt();
      } catch (error) {
        if (!this.options.retryable(error)) throw this.failure(error);
        // Lost with the connection: it waits (at the head, since nothing else did) and is sent again.
      }
    }
    if (this.waiting.length >= this.options.size) {
      throw new QueueFullError('publish buffer', this.options.size, `the publish buffer is full (${this.options.size} publishes wait for ${this.options.server})`);
    }
    return new Promise<T>((resolve, reject) => {
      const entry: Waiting = {
        attempt,
        resolve: resolve as (value: unknown) => void,
        reject,
        sending: false,
        expired: false,
        timer: setTimeout(() => {
          // Being sent: whether it was stored is not known yet; its outcome decides.
          if (entry.sending) entry.expired = true;
          else this.expire(entry);
        }, this.deadlineMs),
      };
      this.waiting.push(entry);
      void this.flush();
    });
  }

  /** Sends what waits, in order, one at a time, while the connection is up (call it on reconnect). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.waiting.length > 0 && this.options.connected()) {
        const head = this.waiting[0]!;
        let value: unknown;
        head.sending = true;
        try {
          value = await head.attempt();
        } catch (error) {
          head.sending = false;
          if (this.options.retryable(error)) {
            // Gone again: it stays at the head, unless its deadline passed meanwhile.
            if (!head.expired) break;
            this.expire(head);
            continue;
          }
          this.remove(head);
          head.reject(this.failure(error));
          continue;
        }
        // Stored: it resolves, even if its deadline passed while it was being sent.
        this.remove(head);
        head.resolve(value);
      }
    } finally {
      this.flushing = false;
    }
    if (this.waiting.length > 0 && this.retryTimer === undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.flush();
      }, this.options.retryMs ?? DEFAULT_RETRY_MS);
      this.retryTimer.unref();
    }
  }

  /** Rejects every waiting publish (close). */
  failAll(error: unknown): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    for (const entry of this.waiting.splice(0)) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }

  private expire(entry: Waiting): void {
    this.remove(entry);
    entry.reject(new BackendUnavailableError(`${this.options.server} did not come back within publishTimeoutMs (${this.deadlineMs} ms); not published`));
  }

  private failure(error: unknown): unknown {
    return this.options.failure ? this.options.failure(error) : error;
  }

  private remove(entry: Waiting): void {
    clearTimeout(entry.timer);
    const at = this.waiting.indexOf(entry);
    if (at >= 0) this.waiting.splice(at, 1);
  }
}
