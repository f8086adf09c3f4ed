/**
 * The payload and metadata of a message, kept on each of its deliveries. Memory has no wire, so each
 * attempt (and each dead-letter record) gets objects of its own, as a handler on Redis or NATS would:
 * a handler changing its payload changes nothing for another group, a later attempt or the dead
 * letter, and a publisher changing its objects after publish changes nothing.
 *
 * What is kept is the plain copy `publish` made while validating (core's `encodeJsonCopy`: fresh
 * objects, equal to decoding the JSON text, that no caller holds), never handed out itself: every
 * attempt and record gets a copy of it (`cloneJson`), its objects and arrays new, its strings
 * shared (a string cannot be changed). Decoding the text again instead would copy every string:
 * a 1 KiB payload fanned out to 1,000 groups made 1 MB of fresh strings per publish (issue 11).
 */
import type { JsonObject, MessageEnvelope } from '@woodwork/bus-core';

export interface MessageBody {
  /** The checked plain copies, handed to nobody: each reader gets `cloneJson` of them. */
  readonly payload: JsonObject;
  readonly metadata: JsonObject;
}

/** The body of an envelope whose checked copy was not kept (a redriven dead letter's): decoded from its JSON. */
export function bodyOf(envelope: MessageEnvelope): MessageBody {
  return { payload: JSON.parse(JSON.stringify(envelope.payload)) as JsonObject, metadata: JSON.parse(JSON.stringify(envelope.metadata)) as JsonObject };
}

/** A copy of `envelope` with its own payload and metadata (copied from `body`), and the given `retryCount`. */
export function freshEnvelope(envelope: MessageEnvelope, body: MessageBody, retryCount: number): MessageEnvelope {
  return { ...envelope, retryCount, payload: cloneJson(body.payload), metadata: cloneJson(body.metadata) };
}

/**
 * A copy of plain JSON data (what `encodeJsonCopy` or `JSON.parse` make: plain objects, arrays,
 * strings, finite numbers, booleans, null): every object and array new, in the same key order,
 * own `__proto__` keys kept as keys; strings, numbers and the rest shared. Recursive: the data
 * nests at most `MAX_JSON_DEPTH` (256) levels, checked at publish.
 */
export function cloneJson<T extends JsonObject>(value: T): T {
  return cloneValue(value) as T;
}

function cloneValue(value: object): object {
  if (Array.isArray(value)) {
    const out: unknown[] = value.slice();
    for (let i = 0; i < out.length; i++) {
      const item = out[i];
      if (typeof item === 'object' && item !== null) out[i] = cloneValue(item);
    }
    return out;
  }
  // Own enumerable keys as data properties (an own `__proto__` key stays a key, as JSON.parse makes it).
  const out: Record<string, unknown> = { ...value };
  const keys = Object.keys(out);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = out[key];
    if (typeof item !== 'object' || item === null) continue;
    if (key === '__proto__') Object.defineProperty(out, key, { value: cloneValue(item), enumerable: true, writable: true, configurable: true });
    else out[key] = cloneValue(item);
  }
  return out;
}
