/** Counting what a server stored: the test side of "no entry stored twice". */
import { Redis } from 'ioredis';
import { eventsKey, layoutFor } from '../../src/keys.js';

/** Stored copies of each message id under `prefix`, over every partition. */
export async function storedCopies(url: string, prefix: string, partitions: number): Promise<Map<string, number>> {
  const redis = new Redis(url);
  const copies = new Map<string, number>();
  try {
    for (let n = 0; n < partitions; n++) {
      const entries = (await redis.xrange(eventsKey(layoutFor(prefix, partitions), n), '-', '+')) as Array<[string, string[]]>;
      for (const [, fields] of entries) {
        const id = (JSON.parse(fields[fields.indexOf('envelope') + 1]!) as { message_id: string }).message_id;
        copies.set(id, (copies.get(id) ?? 0) + 1);
      }
    }
  } finally {
    redis.disconnect();
  }
  return copies;
}
