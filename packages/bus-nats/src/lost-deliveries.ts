/**
 * Handing back deliveries this process does not hold. The server counts a delivery pending until it
 * is acknowledged or ack_wait passes; meanwhile later messages of its session would run first.
 * That happens when the connection drops (messages sent to a pull request never arrive), when a
 * pull request is stopped with messages on their way, and when this process takes over a partition
 * from a process that died holding messages. Before pulling such a consumer again, the walk goes
 * over the consumer's messages between its ack floor and its last delivery (`next_by_subj` on its
 * filter, so only the consumer's own messages cost a request) and naks, in stream order, each one
 * this process neither holds nor settled: the server redelivers them (in nak order) before anything
 * newer. A nak of a message that is no longer pending (acknowledged out of order) is ignored by the
 * server, and two naks of one message redeliver it once (both checked on 2.9). On close the same
 * walk hands back what the group held too, in the same stream order.
 */
import type { ConsumerInfo, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isNotFound, nextBySubject } from './consumers.js';

/** Larger gaps are left to ack_wait: each message in the gap costs a request. */
const MAX_CHECKED = 10_000;

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
  /** The consumer's filter (one subject; on 2.10+ the wider one that covers its filters). */
  filter: string;
  /** Sequences this process holds or settled above the server's ack floor. */
  known(seq: number): boolean;
  /** Hands back a message this process holds (nak on its own handle); false when it holds none. */
  handBackHeld?(seq: number): boolean;
}

/**
 * Naks what the consumer has pending that this process does not hold; returns their sequences and
 * the consumer's info read before the walk.
 */
export async function handBackLostDeliveries(check: GapCheck): Promise<{ lost: number[]; info: ConsumerInfo }> {
  const info = await check.jsm.consumers.info(check.stream, check.consumer);
  const from = info.ack_floor.stream_seq + 1;
  const to = info.delivered.stream_seq;
  if (info.num_ack_pending === 0 || to < from) return { lost: [], info };
  const lost: number[] = [];
  let checked = 0;
  for (let seq = from; seq <= to && checked < MAX_CHECKED; checked++) {
    let found: number | undefined;
    try {
      found = (await check.jsm.streams.getMessage(check.stream, nextBySubject(seq, check.filter)))?.seq;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    if (found === undefined || found > to) break;
    seq = found + 1;
    if (check.known(found)) continue;
    if (check.handBackHeld?.(found)) continue;
    lost.push(found);
    // The server finds the delivery in its pending list by the stream sequence of the ack subject
    // ($JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>); the
    // consumer sequence only has to lie above its ack floor and at most its last delivery.
    check.nc.publish(`$JS.ACK.${check.stream}.${check.consumer}.1.${found}.${info.delivered.consumer_seq}.0.0`, '-NAK');
  }
  if (lost.length > 0) await check.nc.flush();
  return { lost, info };
}
