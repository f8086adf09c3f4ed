/**
 * The JSON text of every accepted message's payload and metadata. Memory has no wire, so each
 * attempt (and each dead-letter record) gets fresh objects decoded from this text, as a handler on
 * Redis or NATS would: a handler changing its payload changes nothing for another group, a later
 * attempt or the dead letter, and a publisher changing its objects after publish changes nothing.
 */
import type { JsonObject, MessageEnvelope } from '@woodwork/bus-core';

interface Body {
  readonly payloadJson: string;
  readonly metadataJson: string;
}

const bodies = new WeakMap<MessageEnvelope, Body>();

/** Remembers the JSON made while validating `envelope` at publish. */
export function rememberBody(envelope: MessageEnvelope, payloadJson: string, metadataJson: string): void {
  bodies.set(envelope, { payloadJson, metadataJson });
}

/** A copy of `envelope` with its own payload and metadata, and the given `retryCount`. */
export function freshEnvelope(envelope: MessageEnvelope, retryCount: number): MessageEnvelope {
  let body = bodies.get(envelope);
  if (!body) {
    body = { payloadJson: JSON.stringify(envelope.payload), metadataJson: JSON.stringify(envelope.metadata) };
    bodies.set(envelope, body);
  }
  return { ...envelope, retryCount, payload: decode(body.payloadJson), metadata: decode(body.metadataJson) };
}

function decode(json: string): JsonObject {
  return json === '{}' ? {} : (JSON.parse(json) as JsonObject);
}
