/**
 * Plays one side of a stream by hand on a real bus, to put exact protocol messages on the wire and
 * see exactly what comes back. Each peer has its own manager-like address (its own group) and
 * records every message targeted to it.
 * - `handPlayedProducer`: opens streams at `<consumer>--streams` with its address in `reply_to`
 *   (protocol 2, a fresh token per stream id), learns each reader's address from `stream.accepted`,
 *   and sends there with the stream's token.
 * - `handPlayedConsumer`: records what reaches `<consumer>--streams`, and answers as any number of
 *   consumer instances (`reply_to` chosen per message, the stream's token unless the payload names one).
 * A payload that sets `token` (even to undefined, which leaves it out) overrides the stream's: that
 * is how a test forges a message or plays a version 1 peer.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject, MessageBus, MessageEnvelope } from '@woodwork/bus-core';
import { expect } from 'vitest';
import { StreamEvent } from '../../src/index.js';

type Payload = Record<string, JsonObject[string] | undefined>;

/** The payload with the stream's token added, unless it names its own (undefined: none). */
function withToken(payload: Payload, token: string | undefined): JsonObject {
  const out: Payload = 'token' in payload ? { ...payload } : { ...payload, token };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out as JsonObject;
}
import { eventually } from './memory.js';

export interface HandPlayedProducer {
  /** Where the consumer answers (`reply_to` of its streams). */
  address: string;
  /** Everything that came back, in arrival order. */
  back: MessageEnvelope[];
  /** Events that came back of one type. */
  backOf(event: string): MessageEnvelope[];
  /** Publishes `stream.created` (window 4, protocol 2 and a fresh token unless given) to the consumer component. */
  open(streamId: string, payload?: Payload): Promise<void>;
  /** The token `open` sent for `streamId`. */
  tokenOf(streamId: string): string;
  /** The address of the reader that accepted `streamId` (waits for its `stream.accepted`). */
  readerOf(streamId: string): Promise<string>;
  /** Sends a message of the stream `payload.stream_id` to the reader that accepted it, with the stream's token. */
  send(eventType: string, payload: Payload): Promise<void>;
  /** Sends a message to any address, as it is. */
  sendTo(address: string, eventType: string, payload: JsonObject): Promise<void>;
}

export async function handPlayedProducer(bus: MessageBus, consumer = 'output', sessionId = 's'): Promise<HandPlayedProducer> {
  const address = 'agent--streams-byhand';
  const back: MessageEnvelope[] = [];
  await bus.subscribe('*', (e) => void back.push(e), { componentId: address, targetedOnly: true, group: address });
  const sendTo = async (target: string, eventType: string, payload: JsonObject): Promise<void> => {
    await bus.publish({ eventType, payload, sessionId, componentSource: 'agent', componentTarget: target, pattern: 'stream' });
  };
  const backOf = (event: string) => back.filter((e) => e.eventType === event);
  const tokens = new Map<string, string>();
  const readerOf = async (streamId: string): Promise<string> => {
    const accepted = await eventually(() => {
      const found = backOf(StreamEvent.ACCEPTED).find((e) => e.payload['stream_id'] === streamId);
      expect(found).toBeDefined();
      return found as MessageEnvelope;
    });
    return String(accepted.payload['reply_to']);
  };
  return {
    address,
    back,
    backOf,
    open: (streamId, payload = {}) => {
      // A second open of one stream id is a redelivery: the same message, the same token.
      const token = tokens.get(streamId) ?? randomBytes(32).toString('base64url');
      tokens.set(streamId, token);
      return sendTo(`${consumer}--streams`, StreamEvent.CREATED, withToken({ stream_id: streamId, window: 4, reply_to: address, protocol: 2, ...payload }, token));
    },
    tokenOf: (streamId) => tokens.get(streamId) ?? '',
    readerOf,
    send: async (eventType, payload) => {
      const streamId = String(payload['stream_id']);
      await sendTo(await readerOf(streamId), eventType, withToken(payload, tokens.get(streamId)));
    },
    sendTo,
  };
}

export interface HandPlayedConsumer {
  /** What reached the consumer component (`stream.created`). */
  created: MessageEnvelope[];
  /** What reached each hand-played reader address, by address. */
  at(address: string): MessageEnvelope[];
  /** Answers the producer as the reader at `address` (`reply_to`), with the stream's token unless the payload names one. */
  reply(address: string, eventType: string, payload: Payload): Promise<void>;
}

export async function handPlayedConsumer(bus: MessageBus, readers: string[], consumer = 'output', sessionId = 's'): Promise<HandPlayedConsumer> {
  const created: MessageEnvelope[] = [];
  const byAddress = new Map<string, MessageEnvelope[]>(readers.map((a) => [a, []]));
  const component = `${consumer}--streams`;
  await bus.subscribe('*', (e) => void created.push(e), { componentId: component, targetedOnly: true, group: component });
  for (const address of readers) {
    await bus.subscribe('*', (e) => void byAddress.get(address)?.push(e), { componentId: address, targetedOnly: true, group: address });
  }
  return {
    created,
    at: (address) => byAddress.get(address) ?? [],
    reply: async (address, eventType, payload) => {
      const opened = created.find((e) => e.payload['stream_id'] === payload['stream_id'])?.payload;
      const token = opened?.['token'];
      await bus.publish({
        eventType,
        payload: withToken({ ...payload, reply_to: address }, typeof token === 'string' ? token : undefined),
        sessionId,
        componentSource: consumer,
        componentTarget: String(opened?.['reply_to']),
        pattern: 'stream',
      });
    },
  };
}
