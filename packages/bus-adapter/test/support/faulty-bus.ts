/**
 * A real bus whose publish loses, repeats or refuses chosen messages: what a backend's
 * at-least-once redelivery (a message twice), a lost message or an unavailable server looks like to
 * the layers above it. Everything else is the real bus.
 */
import { BackendUnavailableError, type EnvelopeInit, type MessageBus, type MessageEnvelope, type PublishResult } from '@woodwork/bus-core';

export type Fault = 'pass' | 'drop' | 'twice' | 'reject';

export function faultyBus(bus: MessageBus, fault: (message: MessageEnvelope | EnvelopeInit) => Fault): MessageBus {
  const publish = async (message: MessageEnvelope | EnvelopeInit): Promise<PublishResult> => {
    const what = fault(message);
    // A dropped message is accepted and then lost, as a crash between accept and storage would.
    if (what === 'drop') return { messageId: message.messageId ?? 'msg-dropped', duplicate: false };
    if (what === 'reject') throw new BackendUnavailableError('the test refused this publish');
    const result = await bus.publish(message);
    if (what === 'twice') await bus.publish(message);
    return result;
  };
  return new Proxy(bus, {
    get(target, property) {
      if (property === 'publish') return publish;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Matches stream messages by event (and optionally a payload field). */
export function isStream(message: MessageEnvelope | EnvelopeInit, event: string, field?: [string, unknown]): boolean {
  if (message.eventType !== event) return false;
  return field === undefined || message.payload?.[field[0]] === field[1];
}
