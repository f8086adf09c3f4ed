/**
 * A pulled JetStream message as this backend holds it, and the reading of one: whether it is the
 * group's at all (the `<to>` token of its subject, the group's `since`), its envelope decoded with
 * core's wire checks, and the attempts already made from the server's delivery count.
 */
import { MessageDeliveryMode, decodeEnvelope, type GroupSpec, type LaneDelivery, type MessageEnvelope } from '@woodwork/bus-core';
import type { PulledMessage } from './pulled-message.js';
import { BROADCAST_TOKEN, acceptsTarget, parseMessageSubject, type Layout } from './subjects.js';

export interface NatsDelivery extends LaneDelivery {
  readonly seq: number;
  readonly deliveryId: string;
  readonly partition: number | null;
  readonly subject: string;
  readonly body: string;
  msg: PulledMessage;
  /** Acknowledged, terminated, handed back or dropped: no more calls on `msg`. */
  settled: boolean;
  /** The decoded envelope was given to a handler already; later attempts decode their own. */
  used: boolean;
}

export type ReadResult =
  /** Routed to another group (or a broadcast published before the group existed). */
  | { kind: 'foreign' }
  /** Not a valid wire envelope: dead-letter it at once. */
  | { kind: 'undecodable'; body: string; error: unknown }
  | { kind: 'delivery'; delivery: NatsDelivery };

export function readDelivery(
  msg: PulledMessage,
  partition: number | null,
  group: { layout: Layout; spec: GroupSpec; consumer: string; since: number; streamCreated?: string | undefined },
): ReadResult {
  const seq = msg.seq;
  const parsed = parseMessageSubject(group.layout, msg.subject);
  if (!parsed || !acceptsTarget(group.spec, group.consumer, parsed.to) || (parsed.to === BROADCAST_TOKEN && seq < group.since)) return { kind: 'foreign' };
  const body = msg.string();
  let envelope: MessageEnvelope;
  try {
    // The wire checks of publish (core's decodeEnvelope validates as it decodes).
    envelope = decodeEnvelope(body);
  } catch (error) {
    return { kind: 'undecodable', body, error };
  }
  return {
    kind: 'delivery',
    delivery: { envelope, attemptsMade: attemptsFrom(envelope, msg), seq, deliveryId: deliveryIdOf(seq, group.streamCreated), partition, subject: msg.subject, body, msg, settled: false, used: false },
  };
}

/**
 * The lanes' id of a delivery: its stream sequence, and the stream's creation time, since a stream
 * deleted and recreated numbers its messages from 1 again (a message of the old one still held
 * here must not swallow the new one with the same sequence).
 */
export function deliveryIdOf(seq: number, streamCreated: string | undefined): string {
  return streamCreated === undefined ? String(seq) : `${seq}@${streamCreated}`;
}

/**
 * Attempts already made, from the server's delivery count: a redelivery (crash, ack_wait, a
 * taken-over partition) counts as an attempt, but the last one always runs here.
 */
export function attemptsFrom(envelope: MessageEnvelope, msg: PulledMessage): number {
  const allowed = envelope.deliveryMode === MessageDeliveryMode.AT_MOST_ONCE ? 1 : envelope.maxRetries + 1;
  return Math.max(0, Math.min(msg.deliveryCount - 1, allowed - 1));
}
