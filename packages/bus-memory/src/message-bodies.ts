/**
 * The JSON text of a message's payload and metadata, kept on each of its deliveries. Memory has no
 * wire, so each attempt (and each dead-letter record) gets objects of its own, as a handler on
 * Redis or NATS would: a handler changing its payload changes nothing for another group, a later
 * attempt or the dead letter, and a publisher changing its objects after publish changes nothing.
 *
 * The first attempt to ask (of any group) takes the plain copies `publish` made while validating
 * (core's `encodeJsonCopy`: fresh objects nobody else holds, equal to decoding the text); every
 * other attempt and record decodes its own from the text. A message reaching one group is then
 * never decoded at all.
 */
import type { JsonObject, MessageEnvelope } from '@woodwork/bus-core';

export interface MessageBody {
  readonly payloadJson: string;
  readonly metadataJson: string;
  /** The copies made at publish until one attempt takes them (then undefined). */
  payloadCopy: JsonObject | undefined;
  metadataCopy: JsonObject | undefined;
}

/** The body of an envelope whose JSON was not kept (a redriven dead letter's). */
export function bodyOf(envelope: MessageEnvelope): MessageBody {
  return { payloadJson: JSON.stringify(envelope.payload), metadataJson: JSON.stringify(envelope.metadata), payloadCopy: undefined, metadataCopy: undefined };
}

/** A copy of `envelope` with its own payload and metadata (taken or decoded from `body`), and the given `retryCount`. */
export function freshEnvelope(envelope: MessageEnvelope, body: MessageBody, retryCount: number): MessageEnvelope {
  const payload = body.payloadCopy;
  const metadata = body.metadataCopy;
  if (payload !== undefined && metadata !== undefined) {
    body.payloadCopy = undefined;
    body.metadataCopy = undefined;
    return { ...envelope, retryCount, payload, metadata };
  }
  return { ...envelope, retryCount, payload: decode(body.payloadJson), metadata: decode(body.metadataJson) };
}

function decode(json: string): JsonObject {
  return json === '{}' ? {} : (JSON.parse(json) as JsonObject);
}
