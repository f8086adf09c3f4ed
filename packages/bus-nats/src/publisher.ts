/**
 * Publishing: one JetStream publish per message, resolved on its PubAck (pub-acks.ts). `Nats-Msg-Id` is the
 * envelope's `messageId` for `exactly_once` (a second publish within the duplicate window is stored
 * once and reported `duplicate: true`), and a fresh id per call otherwise, so only the client's own
 * resend of one call is deduplicated, never two calls with the same `messageId` (the contract).
 * While the connection is down a publish fails fast with `BackendUnavailableError`: after at most
 * 1 s (or `publishTimeoutMs` if shorter) waiting for a reconnect (`publishBufferSize` 0, the
 * default; JetStream publish is request-reply and cannot be buffered by the client), or waits in
 * core's bounded `PublishBuffer` (`publishBufferSize` > 0, as on the Redis backend). A publish already sent when the connection drops (or whose PubAck is lost) is
 * sent again with the same `Nats-Msg-Id` once the connection is back, until `publishTimeoutMs`
 * passes: the server stores it once, and the caller learns whether it was stored instead of a
 * rejection for a message that may be there. No responders (the stream is missing, e.g. deleted
 * from outside) recreates the prefix's streams once, then retries.
 */
import { JetStreamApiError, type PubAck } from '@nats-io/jetstream';
import { nuid } from '@nats-io/transport-node';
import {
  BackendUnavailableError,
  InvalidMessageError,
  MessageDeliveryMode,
  PermissionDeniedError,
  encodeCheckedWire,
  isTargeted,
  type JsonObject,
  type MessageEnvelope,
} from '@woodwork/bus-core';
import type { PubAcks } from './pub-acks.js';
import { messageSubject, type Layout } from './subjects.js';

/** How long a publish waits for a reconnect before failing (at most publishTimeoutMs). */
const MAX_DISCONNECTED_WAIT_MS = 1_000;

/** Room left in the server's max_payload for headers and protocol framing. */
const HEADER_ROOM = 1_024;

export interface PublisherHost {
  /** Publishes and their PubAcks on the bus's one reply subscription. */
  pubAcks: PubAcks;
  layout: Layout;
  maxPayload: () => number;
  connected: () => boolean;
  timeoutMs: number;
  /** Creates the prefix's streams again (they were deleted from outside). */
  recreateStreams: () => Promise<void>;
}

/**
 * Publishes a checked message. `checked` holds the plain copies of payload and metadata that
 * `prepareCheckedPublish` made while checking them: the wire text is made from them in one
 * `JSON.stringify`, so the bytes sent are those of what was checked.
 */
export async function publishEnvelope(
  host: PublisherHost,
  envelope: MessageEnvelope,
  checked: { payloadCopy: JsonObject; metadataCopy: JsonObject },
  send: (subject: string, body: string, msgID: string) => Promise<PubAck> = (subject, body, msgID) => publishRaw(host, subject, body, msgID),
): Promise<PubAck> {
  const subject = messageSubject(host.layout, envelope.sessionId, isTargeted(envelope) ? envelope.componentTarget : null, envelope.eventType);
  const body = encodeCheckedWire(envelope, checked);
  const size = Buffer.byteLength(body);
  if (size > host.maxPayload() - HEADER_ROOM) {
    throw new InvalidMessageError('payload', `must fit the server's max_payload (${host.maxPayload()} bytes with headers); the encoded message is ${size} bytes`);
  }
  const msgID = envelope.deliveryMode === MessageDeliveryMode.EXACTLY_ONCE ? envelope.messageId : `pub-${nuid.next()}`;
  return send(subject, body, msgID);
}

export async function publishRaw(host: PublisherHost, subject: string, body: string, msgID: string): Promise<PubAck> {
  const deadline = Date.now() + host.timeoutMs;
  if (!host.connected()) {
    // Fail fast, but not in the moment between the server's return and the client's reconnect.
    const waitUntil = Date.now() + Math.min(host.timeoutMs, MAX_DISCONNECTED_WAIT_MS);
    while (!host.connected() && Date.now() < waitUntil) await delay(20);
    if (!host.connected()) throw new BackendUnavailableError(`NATS is unreachable; ${subject} not published (publishBufferSize is 0: failing fast)`);
  }
  let recreated = false;
  for (;;) {
    try {
      // Short tries: a request lost with a dropped connection is resent instead of waited out.
      const tryMs = Math.max(100, Math.min(deadline - Date.now(), Math.max(500, Math.floor(host.timeoutMs / 5))));
      return await host.pubAcks.publish(subject, body, msgID, tryMs);
    } catch (error) {
      if (error instanceof PermissionDeniedError) throw error;
      if (!retryable(error) || Date.now() >= deadline) {
        throw new BackendUnavailableError(`NATS did not acknowledge the publish to ${subject}: ${String((error as Error)?.message ?? error)}`, { cause: error });
      }
      if (isNoResponders(error) && host.connected() && !recreated) {
        recreated = true;
        await host.recreateStreams().catch(() => undefined);
      }
      while (!host.connected() && Date.now() < deadline) await delay(25);
      await delay(10);
    }
  }
}

/** JetStream API errors (limits, wrong subject) are answers; anything else may be a lost request. */
function retryable(error: unknown): boolean {
  return !(error instanceof JetStreamApiError) || error.status === 503;
}

function isNoResponders(error: unknown): boolean {
  const text = `${(error as Error)?.name} ${(error as Error)?.message} ${String((error as { cause?: unknown })?.cause ?? '')}`;
  return /no.?responders|503/i.test(text);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
