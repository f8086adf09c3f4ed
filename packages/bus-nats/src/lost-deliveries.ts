/**
 * Deliveries lost in flight. When the connection drops, messages the server already sent to a pull
 * request may never arrive; the server counts them pending until ack_wait passes, and meanwhile
 * later messages of their sessions would run first. After a reconnect, before pulling again, a
 * group compares the consumer's pending range (ack floor .. last delivered) with what it holds or
 * settled itself; a message of its filter that it never saw was lost, and is handed back at once
 * with a nak on its ack subject, so the server redelivers it before anything newer. The check is
 * exact when one process pulls the consumer; with several, it can hand back another process's
 * message early (a duplicate, never a loss). On close the same walk hands back, in stream order,
 * both what the group held and what was still on its way, so the next replica starts with them.
 */
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isNotFound } from './consumers.js';

/** Larger gaps are left to ack_wait: checking them would cost a request per sequence. */
const MAX_CHECKED = 5_000;

export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

export interface GapCheck {
  nc: NatsConnection;
  jsm: JetStreamManager;
  stream: string;
  consumer: string;
  filters: string[];
  /** Sequences this process holds or settled above the server's ack floor. */
  known(seq: number): boolean;
  /** Hands back a message this process holds (nak on its own handle); false when it holds none. */
  handBackHeld?(seq: number): boolean;
}

/** Naks what the consumer has pending but this process never received; returns their sequences. */
export async function handBackLostDeliveries(check: GapCheck): Promise<number[]> {
  const info = await check.jsm.consumers.info(check.stream, check.consumer);
  const from = info.ack_floor.stream_seq + 1;
  const to = info.delivered.stream_seq;
  if (info.num_ack_pending === 0 || to < from || to - from > MAX_CHECKED) return [];
  const lost: number[] = [];
  for (let seq = from; seq <= to; seq++) {
    if (check.known(seq)) continue;
    if (check.handBackHeld?.(seq)) continue;
    let subject: string | undefined;
    try {
      subject = (await check.jsm.streams.getMessage(check.stream, { seq }))?.subject;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (subject === undefined || !check.filters.some((f) => subjectMatches(f, subject))) continue;
    lost.push(seq);
    // The server finds the delivery in its pending list by the stream sequence of the ack subject
    // ($JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>); the
    // consumer sequence only has to lie above its ack floor and at most its last delivery.
    check.nc.publish(`$JS.ACK.${check.stream}.${check.consumer}.1.${seq}.${info.delivered.consumer_seq}.0.0`, '-NAK');
  }
  if (lost.length > 0) await check.nc.flush();
  return lost;
}
