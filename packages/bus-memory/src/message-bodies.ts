/**
 * The JSON text of a message's payload and metadata, kept on each of its deliveries. Memory has no
 * wire, so each attempt (and each dead-letter record) gets fresh objects decoded from this text, as
 * a handler on Redis or NATS would: a handler changing its payload changes nothing for another
 * group, a later attempt or the dead letter, and a publisher changing its objects after publish
 * changes nothing.
 */
import type { JsonObject, MessageEnvelope } from '@woodwork/bus-core';

export interface MessageBody {
  readonly payloadJson: string;
  readonly metadataJson: string;
}

/** The body of an envelope whose JSON was not kept (a redriven dead letter's). */
export function bodyOf(envelope: MessageEnvelope): MessageBody {
  return { payloadJson: JSON.stringify(envelope.payload), metadataJson: JSON.stringify(envelope.metadata) };
}

/** A copy of `envelope` with its own payload and metadata decoded from `body`, and the given `retryCount`. */
export function freshEnvelope(envelope: MessageEnvelope, body: MessageBody, retryCount: number): MessageEnvelope {
  return { ...envelope, retryCount, payload: decode(body.payloadJson), metadata: decode(body.metadataJson) };
}

function decode(json: string): JsonObject {
  return json === '{}' ? {} : (JSON.parse(json) as JsonObject);
}
