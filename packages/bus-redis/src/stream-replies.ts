/**
 * Typed readers of the stream commands' replies (ioredis types them as loose unions), and the one
 * place an entry's fields become text: `envelope` (the wire JSON) and `group` (set on a redriven
 * entry: only that group takes it).
 */

export interface StreamEntry {
  readonly id: string;
  /** Field map of the entry; empty when the entry was deleted or trimmed (its id still pending). */
  readonly fields: Record<string, string>;
  readonly deleted: boolean;
}

export function toEntry(raw: unknown): StreamEntry | undefined {
  if (!Array.isArray(raw) || raw.length < 1) return undefined;
  const id = String(raw[0]);
  const list = raw[1];
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  if (!Array.isArray(list)) return { id, fields, deleted: true };
  for (let i = 0; i + 1 < list.length; i += 2) fields[String(list[i])] = String(list[i + 1]);
  return { id, fields, deleted: list.length === 0 };
}

/** XREADGROUP: per stream key, its entries. */
export function readGroupReply(reply: unknown): Array<{ key: string; entries: StreamEntry[] }> {
  if (!Array.isArray(reply)) return [];
  const out: Array<{ key: string; entries: StreamEntry[] }> = [];
  for (const item of reply) {
    if (!Array.isArray(item) || item.length < 2) continue;
    const entries = Array.isArray(item[1]) ? (item[1] as unknown[]).map(toEntry).filter((e): e is StreamEntry => e !== undefined) : [];
    out.push({ key: String(item[0]), entries });
  }
  return out;
}

/** XAUTOCLAIM: next cursor, claimed entries, ids dropped from the pending list (deleted entries, Redis 7). */
export function autoClaimReply(reply: unknown): { cursor: string; entries: StreamEntry[]; deletedIds: string[] } {
  const r = Array.isArray(reply) ? reply : [];
  const entries = Array.isArray(r[1]) ? (r[1] as unknown[]).map(toEntry).filter((e): e is StreamEntry => e !== undefined) : [];
  const deletedIds = Array.isArray(r[2]) ? (r[2] as unknown[]).map(String) : [];
  return { cursor: String(r[0] ?? '0-0'), entries, deletedIds };
}

/** XPENDING key group start end count [consumer]: id -> times delivered. */
export function pendingCounts(reply: unknown): Map<string, number> {
  const out = new Map<string, number>();
  if (!Array.isArray(reply)) return out;
  for (const row of reply) {
    if (Array.isArray(row) && row.length >= 4) out.set(String(row[0]), Number(row[3]));
  }
  return out;
}

/** XINFO GROUPS: name -> pending, lag (null when the server cannot tell), last delivered id. */
export function groupsInfoReply(reply: unknown): Map<string, { pending: number; lag: number | null; lastDelivered: string }> {
  const out = new Map<string, { pending: number; lag: number | null; lastDelivered: string }>();
  if (!Array.isArray(reply)) return out;
  for (const g of reply) {
    if (!Array.isArray(g)) continue;
    const f: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (let i = 0; i + 1 < g.length; i += 2) f[String(g[i])] = g[i + 1];
    out.set(String(f['name']), {
      pending: Number(f['pending'] ?? 0),
      lag: f['lag'] === null || f['lag'] === undefined ? null : Number(f['lag']),
      lastDelivered: String(f['last-delivered-id'] ?? '0-0'),
    });
  }
  return out;
}

export function isNoGroup(error: unknown): boolean {
  return /NOGROUP/.test(String((error as Error)?.message ?? error));
}
