/**
 * How a stream ends badly, as seen by each side: the producer learns that the consumer cancelled
 * (`StreamCancelledError` from `write` / `end`), the consumer learns that the producer failed, or
 * that chunks went missing (`StreamFailedError` thrown by its iterator).
 */
import { BusError, BusErrorCode } from '@woodwork/bus-core';

export const StreamErrorCode = {
  STREAM_CANCELLED: BusErrorCode.STREAM_CANCELLED,
  STREAM_FAILED: BusErrorCode.STREAM_FAILED,
} as const;
export type StreamErrorCode = (typeof StreamErrorCode)[keyof typeof StreamErrorCode];

/** A `BusError`, so one `instanceof BusError` / `code` check covers stream failures too. */
export class StreamError extends BusError {
  override readonly name: string = 'StreamError';
  constructor(
    override readonly code: StreamErrorCode,
    readonly streamId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The consumer cancelled the stream (or the producer's manager closed it); nothing more is delivered. */
export class StreamCancelledError extends StreamError {
  override readonly name: string = 'StreamCancelledError';
  constructor(
    streamId: string,
    readonly reason: string,
  ) {
    super(StreamErrorCode.STREAM_CANCELLED, streamId, `stream ${streamId} was cancelled: ${reason}`);
  }
}

/** The stream cannot complete: the producer failed it, or chunks were lost on the way. */
export class StreamFailedError extends StreamError {
  override readonly name: string = 'StreamFailedError';
  constructor(
    streamId: string,
    readonly reason: string,
    /** The producer's error, when the producer failed the stream. */
    readonly remoteError?: { name: string; message: string },
  ) {
    super(StreamErrorCode.STREAM_FAILED, streamId, `stream ${streamId} failed: ${reason}`);
  }
}
