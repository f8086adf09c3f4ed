/**
 * Plays one side of a stream by hand on a real bus, to put exact protocol messages on the wire and
 * see exactly what comes back. Each peer has its own manager-like address (its own group) and
 * records every message targeted to it.
 * - `handPlayedProducer`: opens streams at `<consumer>--streams` with its address in `reply_to`,
 *   learns each reader's address from `stream.accepted`, and sends there.
 * - `handPlayedConsumer`: records what reaches `<consumer>--streams`, and answers as any number of
 *   consumer instances (`reply_to` chosen per message).
 */
import type { JsonObject, MessageBus, MessageEnvelope } from '@woodwork/bus-core';
import { expect } from 'vitest';
import { StreamEvent } from '../../src/index.js';
import { eventually } from './memory.js';

export interface HandPlayedProducer {
  /** Where the consumer answers (`reply_to` of its streams). */
  address: string;
  /** Everything that came back, in arrival order. */
  back: MessageEnvelope[];
  /** Events that came back of one type. */
  backOf(event: string): MessageEnvelope[];
  /** Publishes `stream.created` (window 4 unless given) to the consumer component. */
  open(streamId: string, payload?: JsonObject): Promise<void>;
  /** The address of the reader that accepted `streamId` (waits for its `stream.accepted`). */
  readerOf(streamId: string): Promise<string>;
  /** Sends a message of the stream `payload.stream_id` to the reader that accepted it. */
  send(eventType: string, payload: JsonObject): Promise<void>;
  /** Sends a message to any address. */
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
    open: (streamId, payload = {}) => sendTo(`${consumer}--streams`, StreamEvent.CREATED, { stream_id: streamId, window: 4, reply_to: address, ...payload }),
    readerOf,
    send: async (eventType, payload) => sendTo(await readerOf(String(payload['stream_id'])), eventType, payload),
    sendTo,
  };
}

export interface HandPlayedConsumer {
  /** What reached the consumer component (`stream.created`). */
  created: MessageEnvelope[];
  /** What reached each hand-played reader address, by address. */
  at(address: string): MessageEnvelope[];
  /** Answers the producer as the reader at `address` (`reply_to`). */
  reply(address: string, eventType: string, payload: JsonObject): Promise<void>;
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
      const producer = String(created.find((e) => e.payload['stream_id'] === payload['stream_id'])?.payload['reply_to']);
      await bus.publish({ eventType, payload: { ...payload, reply_to: address }, sessionId, componentSource: consumer, componentTarget: producer, pattern: 'stream' });
    },
  };
}
