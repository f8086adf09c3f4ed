/**
 * The dead-letter stream `<prefix>:{<prefix>}:dlq`: one entry per record, its fields core's wire
 * form of a dead letter (`original_stream`, `original_message_id`, `envelope` as JSON text,
 * `error`, `error_type`, `error_code`, `error_cause` as JSON text, `attempts`, `first_failed_at`,
 * `failed_at`, `group`, `raw_entry`), the record id being the entry id. Bounded to
 * `deadLetterMaxSize` records (exact MAXLEN: the oldest go first).
 */
import {
  deadLetterFromWire,
  deadLetterToWire,
  matchesDeadLetterFilter,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type NewDeadLetterRecord,
} from '@woodwork/bus-core';
import type { RedisClient } from './connection.js';

const PAGE = 500;

export class DeadLetterStore {
  constructor(
    private readonly client: RedisClient,
    private readonly key: string,
    private readonly maxSize: number,
  ) {}

  async add(record: NewDeadLetterRecord): Promise<string> {
    const wire = deadLetterToWire({ ...record, id: '' }) as unknown as Record<string, unknown>;
    const args: string[] = [];
    for (const [name, value] of Object.entries(wire)) {
      if (name === 'dead_letter_id' || value === null || value === undefined) continue;
      args.push(name, typeof value === 'object' ? JSON.stringify(value) : String(value));
    }
    return String(await this.client.xadd(this.key, 'MAXLEN', String(this.maxSize), '*', ...args));
  }

  /** Records matching `filter`, oldest first, at most `limit`. Unreadable entries are skipped. */
  async list(filter: DeadLetterFilter | undefined, limit: number): Promise<DeadLetterRecord[]> {
    const out: DeadLetterRecord[] = [];
    if (limit <= 0) return out;
    let start = '-';
    for (;;) {
      const page = (await this.client.xrange(this.key, start, '+', 'COUNT', PAGE)) as Array<[string, string[]]>;
      for (const [id, fields] of page) {
        const record = readRecord(id, fields);
        if (record && matchesDeadLetterFilter(record, filter)) {
          out.push(record);
          if (out.length >= limit) return out;
        }
      }
      if (page.length < PAGE) return out;
      start = `(${page[page.length - 1]![0]}`;
    }
  }

  /** Removes a record; true only for the caller that removed it (concurrent redrives count once). */
  async remove(id: string): Promise<boolean> {
    return Number(await this.client.xdel(this.key, id)) === 1;
  }

  async size(): Promise<number> {
    return Number(await this.client.xlen(this.key));
  }

  /** Puts a record back after a failed redrive (a new id, at the end). */
  async restore(record: DeadLetterRecord): Promise<void> {
    const { id: _id, ...rest } = record;
    await this.add(rest);
  }
}

function readRecord(id: string, list: string[]): DeadLetterRecord | undefined {
  const data: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (let i = 0; i + 1 < list.length; i += 2) data[list[i]!] = list[i + 1];
  for (const key of ['attempts', 'first_failed_at', 'failed_at']) if (typeof data[key] === 'string') data[key] = Number(data[key]);
  if (typeof data['error_cause'] === 'string') {
    try {
      data['error_cause'] = JSON.parse(data['error_cause']);
    } catch {
      delete data['error_cause'];
    }
  }
  try {
    return deadLetterFromWire(data, id);
  } catch {
    return undefined;
  }
}
