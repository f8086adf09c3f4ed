/**
 * Dead letters in the `<p>~DLQ` stream: one message per record on `<p>.dlq.<session>`, its body the
 * core wire form (`deadLetterToWire`). A record's id is its stream sequence. Written with a
 * `Nats-Msg-Id` made from the source message and group, so a record written twice (a retry after a
 * lost PubAck) is stored once. Listing walks the stream with direct gets (`next_by_subj`), oldest
 * first, stopping at the limit.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import {
  BackendUnavailableError,
  deadLetterFromWire,
  deadLetterToWire,
  matchesDeadLetterFilter,
  type DeadLetterFilter,
  type DeadLetterRecord,
} from '@woodwork/bus-core';
import { isNotFound, nextBySubject } from './consumers.js';
import { deadLetterSubject, type Layout } from './subjects.js';

export interface StoredDeadLetter {
  seq: number;
  record: DeadLetterRecord;
}

export class DeadLetterStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
    private readonly timeoutMs: number,
  ) {}

  /** Stores a record (its `id` is replaced by the stream sequence when read back). */
  async add(record: Omit<DeadLetterRecord, 'id'>, writeId: string): Promise<number> {
    const wire = deadLetterToWire({ ...record, id: writeId });
    try {
      const ack = await this.js.publish(deadLetterSubject(this.layout, record.envelope.sessionId), JSON.stringify(wire), {
        msgID: writeId,
        timeout: this.timeoutMs,
      });
      return ack.seq;
    } catch (error) {
      throw new BackendUnavailableError(`cannot write a dead letter to ${this.layout.dlqStream}: ${String((error as Error)?.message ?? error)}`, { cause: error });
    }
  }

  async size(): Promise<number> {
    return (await this.jsm.streams.info(this.layout.dlqStream)).state.messages;
  }

  /** Records matching `filter`, oldest first, at most `limit`. */
  async list(filter: DeadLetterFilter | undefined, limit: number): Promise<StoredDeadLetter[]> {
    const out: StoredDeadLetter[] = [];
    if (limit <= 0) return out;
    if (filter?.ids) {
      const seqs = filter.ids.map(Number).filter((n) => Number.isSafeInteger(n) && n > 0).sort((a, b) => a - b);
      for (const seq of seqs) {
        const found = await this.get(seq);
        if (found && matchesDeadLetterFilter(found.record, filter)) out.push(found);
        if (out.length >= limit) break;
      }
      return out;
    }
    const subject = filter?.sessionId !== undefined ? deadLetterSubject(this.layout, filter.sessionId) : `${this.layout.prefix}.dlq.>`;
    let seq = 1;
    for (;;) {
      const found = await this.next(seq, subject);
      if (!found) return out;
      if (matchesDeadLetterFilter(found.record, filter)) out.push(found);
      if (out.length >= limit) return out;
      seq = found.seq + 1;
    }
  }

  async remove(seq: number): Promise<boolean> {
    try {
      return await this.jsm.streams.deleteMessage(this.layout.dlqStream, seq, false);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async removeSession(sessionId: string): Promise<number> {
    const result = await this.jsm.streams.purge(this.layout.dlqStream, { filter: deadLetterSubject(this.layout, sessionId) });
    return result.purged;
  }

  private async get(seq: number): Promise<StoredDeadLetter | undefined> {
    try {
      const msg = await this.jsm.streams.getMessage(this.layout.dlqStream, { seq });
      return msg ? this.decode(msg.seq, msg.string()) : undefined;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async next(seq: number, subject: string): Promise<StoredDeadLetter | undefined> {
    for (let from = seq; ; ) {
      let msg;
      try {
        msg = await this.jsm.streams.getMessage(this.layout.dlqStream, nextBySubject(from, subject));
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw error;
      }
      if (!msg) return undefined;
      const decoded = this.decode(msg.seq, msg.string());
      if (decoded) return decoded;
      from = msg.seq + 1;
    }
  }

  /** A record another writer broke is skipped, not fatal to listing. */
  private decode(seq: number, text: string): StoredDeadLetter | undefined {
    try {
      const record = deadLetterFromWire(JSON.parse(text), String(seq));
      return { seq, record: { ...record, id: String(seq) } };
    } catch {
      return undefined;
    }
  }
}
