/**
 * `deleteSessionQueue` on the server: the session's entries are removed from its partition stream
 * (every group then finds nothing of it waiting) and acknowledged for every group (so no pending
 * list keeps their ids). An admin operation: it reads the one partition the session hashes to, in
 * pages, never the other partitions and never on a message's path.
 */
import type { RedisClient } from './connection.js';
import { eventsKey, partitionOf, type Layout } from './keys.js';

const PAGE = 1_000;

export async function deleteSessionEntries(client: RedisClient, layout: Layout, sessionId: string, groupKeys: readonly string[]): Promise<number> {
  const key = eventsKey(layout, partitionOf(sessionId, layout.partitions));
  const needle = `"session_id":${JSON.stringify(sessionId)}`;
  let start = '-';
  let removed = 0;
  for (;;) {
    const page = (await client.xrange(key, start, '+', 'COUNT', PAGE)) as Array<[string, string[]]>;
    const ids: string[] = [];
    for (const [id, fields] of page) {
      const at = fields.indexOf('envelope');
      const text = at >= 0 ? fields[at + 1] : undefined;
      if (text !== undefined && text.includes(needle) && sessionOf(text) === sessionId) ids.push(id);
    }
    if (ids.length > 0) {
      await client.xdel(key, ...ids);
      for (const group of groupKeys) await client.xack(key, group, ...ids).catch(() => 0);
      removed += ids.length;
    }
    if (page.length < PAGE) return removed;
    start = `(${page[page.length - 1]![0]}`;
  }
}

function sessionOf(text: string): string | undefined {
  try {
    const value = (JSON.parse(text) as Record<string, unknown>)['session_id'];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
