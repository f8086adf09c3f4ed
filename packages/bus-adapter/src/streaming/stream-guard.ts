/**
 * What a StreamManager turns away, counted and logged: messages of its streams that fail the token
 * or session check (forged, or from a confused peer), and streams it refuses (another protocol
 * version, or too many streams already waiting for their producer). None of them is delivered or
 * dead-lettered; the counts (`StreamManager.stats`) are how an operator sees them, and the log says
 * it once per stream (once per flood for refusals), so a forger cannot flood the log either.
 * The logger is the app's: a throwing one is ignored, it never changes what the manager does.
 */
import type { BusLogger, MessageEnvelope } from '@woodwork/bus-core';

export interface StreamManagerStats {
  /**
   * Messages of a stream open here dropped because their token or session did not match the
   * stream's (a forgery, or a peer that is not the stream's): never delivered, never dead-lettered.
   */
  rejectedMessages: number;
  /** Streams refused, or acceptances declined, because the peer speaks another stream protocol version. */
  refusedProtocol: number;
  /** `stream.created` refused because `maxPendingStreams` accepted streams were already waiting for their producer. */
  refusedOverCap: number;
  /** Streams accepted here and waiting for their producer to start them, now (at most `maxPendingStreams`). */
  pendingStreams: number;
}

export class StreamGuard {
  private rejected = 0;
  private refusedProtocol = 0;
  private refusedOverCap = 0;
  /** Streams whose first rejected message was logged; forgotten with the stream. */
  private readonly logged = new Set<string>();
  /** True while refusals over the cap are being counted without a log line; reset once below the cap. */
  private capLogged = false;
  private protocolLogged = false;

  constructor(
    private readonly logger: BusLogger,
    private readonly componentId: string,
  ) {}

  stats(pendingStreams: number): StreamManagerStats {
    return { rejectedMessages: this.rejected, refusedProtocol: this.refusedProtocol, refusedOverCap: this.refusedOverCap, pendingStreams };
  }

  /** A message of stream `streamId` whose token or session is not the stream's: dropped. */
  reject(streamId: string, envelope: MessageEnvelope): void {
    this.rejected++;
    if (this.logged.has(streamId)) return;
    this.logged.add(streamId);
    this.log('warn', `stream ${streamId}: dropped a ${envelope.eventType} whose token or session is not the stream's (further ones are only counted, in stats.rejectedMessages)`, {
      streamId,
      eventType: envelope.eventType,
      messageId: envelope.messageId,
      sessionId: envelope.sessionId,
      componentSource: envelope.componentSource,
    });
  }

  /** A peer speaking another protocol version was turned away with `reason`. */
  refuseProtocol(streamId: string, reason: string, envelope: MessageEnvelope): void {
    this.refusedProtocol++;
    if (this.protocolLogged) return;
    this.protocolLogged = true;
    this.log('warn', `stream ${streamId}: ${reason} (further ones are only counted, in stats.refusedProtocol)`, {
      streamId,
      eventType: envelope.eventType,
      componentSource: envelope.componentSource,
    });
  }

  /** A `stream.created` refused over the cap. */
  refuseOverCap(streamId: string, cap: number, envelope: MessageEnvelope): void {
    this.refusedOverCap++;
    if (this.capLogged) return;
    this.capLogged = true;
    this.log('warn', `${this.componentId}: refusing new streams, ${cap} accepted streams already wait for their producer (maxPendingStreams; further refusals are only counted, in stats.refusedOverCap)`, {
      streamId,
      componentSource: envelope.componentSource,
      sessionId: envelope.sessionId,
    });
  }

  /** Room again below the cap: the next refusal is logged. */
  belowCap(): void {
    this.capLogged = false;
  }

  forget(streamId: string): void {
    this.logged.delete(streamId);
  }

  private log(level: 'warn', message: string, context: Record<string, unknown>): void {
    try {
      this.logger[level](message, context);
    } catch {
      // A logger that throws must not change what happens to the stream.
    }
  }
}
