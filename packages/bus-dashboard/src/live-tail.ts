/**
 * The live tail: an observer subscription (`observe: true` on the bus contract) per open page,
 * streamed as server-sent events. An observer consumes nothing (every message still goes to its
 * own groups, a target that has not subscribed yet still finds its messages waiting) and its
 * private group ends with `unsubscribe`, which runs as soon as the page goes away (the request's
 * `close` of its response), so a closed tab leaves no group behind.
 *
 * A slow page never holds the bus up: when more than `MAX_BUFFERED_BYTES` wait unsent, messages
 * are dropped and counted, and the page is told how many (`event: dropped`).
 */
import type { ServerResponse } from 'node:http';
import { redactSecrets, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import { SECURITY_HEADERS, sendError } from './http-io.js';

export interface TailFilter {
  sessionId?: string;
  eventType?: string;
}

/** One message as the tail shows it. */
export interface TailMessage {
  messageId: string;
  sessionId: string;
  eventType: string;
  pattern: string;
  source: string;
  target: string | null;
  /** Seconds since the epoch, from the envelope. */
  timestamp: number;
  /** The payload as JSON, cut to `PAYLOAD_PREVIEW` characters. */
  payload: string;
}

const MAX_BUFFERED_BYTES = 1 << 20;
const HEARTBEAT_MS = 15_000;
const PAYLOAD_PREVIEW = 400;

export class LiveTails {
  private readonly open = new Set<() => Promise<void>>();

  constructor(
    private readonly bus: MessageBus,
    private readonly maxTails: number,
  ) {}

  /** Tails open now (each one is an observer subscription). */
  get size(): number {
    return this.open.size;
  }

  async serve(response: ServerResponse, filter: TailFilter): Promise<void> {
    if (this.open.size >= this.maxTails) {
      sendError(response, 429, `${this.maxTails} live tails are open already; close one first`);
      return;
    }
    let closed = false;
    let subscriptionId: string | undefined;
    let dropped = 0;
    let heartbeat: NodeJS.Timeout | undefined;
    const end = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      this.open.delete(end);
      clearInterval(heartbeat);
      if (!response.writableEnded) response.end();
      if (subscriptionId !== undefined) await this.bus.unsubscribe(subscriptionId).catch(() => false);
    };
    this.open.add(end);
    // The response's `close` is the connection going away (the request's fires once its body is read).
    response.on('close', () => void end());
    response.on('error', () => void end());

    const write = (event: string, data: unknown): void => {
      if (closed) return;
      if (response.writableLength > MAX_BUFFERED_BYTES) {
        dropped++;
        return;
      }
      if (dropped > 0) {
        response.write(`event: dropped\ndata: ${dropped}\n\n`);
        dropped = 0;
      }
      response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };

    try {
      subscriptionId = await this.bus.subscribe(
        filter.eventType ?? '*',
        (envelope) => {
          // Never throw: a failing observer handler would be retried and dead-lettered in its group.
          try {
            write('message', toTailMessage(envelope));
          } catch {
            // The page went away mid-write; `close` ends the tail.
          }
        },
        { observe: true, ...(filter.sessionId === undefined ? {} : { sessionId: filter.sessionId }) },
      );
    } catch (error) {
      this.open.delete(end);
      closed = true;
      sendError(response, 500, `could not subscribe: ${redactSecrets(error instanceof Error ? error.message : String(error))}`);
      return;
    }
    if (closed) {
      // The page left while the subscription was being made.
      await this.bus.unsubscribe(subscriptionId).catch(() => false);
      return;
    }
    response.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Content-Security-Policy': "default-src 'none'",
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    write('ready', { backend: this.bus.backend, ...filter });
    heartbeat = setInterval(() => {
      if (!closed) response.write(': keep-alive\n\n');
    }, HEARTBEAT_MS);
    heartbeat.unref();
  }

  /** Ends every tail (the dashboard is closing) and removes their observer groups. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open].map((end) => end()));
  }
}

export function toTailMessage(envelope: MessageEnvelope): TailMessage {
  let payload: string;
  try {
    payload = JSON.stringify(envelope.payload) ?? 'null';
  } catch {
    payload = '(a payload that cannot be shown as JSON)';
  }
  if (payload.length > PAYLOAD_PREVIEW) payload = `${payload.slice(0, PAYLOAD_PREVIEW - 1)}…`;
  return {
    messageId: envelope.messageId,
    sessionId: envelope.sessionId,
    eventType: envelope.eventType,
    pattern: envelope.pattern,
    source: envelope.componentSource,
    target: envelope.componentTarget ?? null,
    timestamp: envelope.timestamp,
    payload,
  };
}
