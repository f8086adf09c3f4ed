/**
 * Typed readers of the stream commands' replies (ioredis types them as loose unions), and the one
 * place an entry's fields become text: `envelope` (the wire JSON) and `group` (set on a redriven
 * entry: only that group takes it).
 */

export interface StreamEntry {
  readonly id: string;
  /** The `envelope` field (the wire JSON), if the entry has one. */
  readonly envelope: string | undefined;
  /** The `group` field (a redriven entry: only that group takes it), if any. */
  readonly group: string | undefined;
  /** Every field, as the server sent them (name, value, ...); empty when deleted or trimmed. */
  readonly list: readonly unknown[];
  /** The entry was deleted or trimmed (its id still pending). */
  readonly deleted: boolean;
}

/** The field map of an entry (for the rare reader that needs every field: a dead letter's raw form). */
export function fieldsOf(entry: StreamEntry): Record<string, string> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < entry.list.length; i += 2) fields[String(entry.list[i])] = String(entry.list[i + 1]);
  return fields;
}

/** One entry of a reply; the two fields the bus reads are picked out once, without a field map. */
export function toEntry(raw: unknown): StreamEntry | undefined {
  if (!Array.isArray(raw) || raw.length < 1) return undefined;
  const id = String(raw[0]);
  const list = raw[1];
  if (!Array.isArray(list)) return { id, envelope: undefined, group: undefined, list: [], deleted: true };
  let envelope: string | undefined;
  let group: string | undefined;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i];
    if (name === 'envelope') envelope ??= String(list[i + 1]);
    else if (name === 'group') group ??= String(list[i + 1]);
  }
  return { id, envelope, group, list, deleted: list.length === 0 };
}

/** A reply's list of entries, the malformed ones left out (one pass, no intermediate arrays). */
function entriesOf(raw: unknown): StreamEntry[] {
  const entries: StreamEntry[] = [];
  if (!Array.isArray(raw)) return entries;
  for (const item of raw as unknown[]) {
    const entry = toEntry(item);
    if (entry !== undefined) entries.push(entry);
  }
  return entries;
}

/** XREADGROUP: per stream key, its entries. */
export function readGroupReply(reply: unknown): Array<{ key: string; entries: StreamEntry[] }> {
  if (!Array.isArray(reply)) return [];
  const out: Array<{ key: string; entries: StreamEntry[] }> = [];
  for (const item of reply) {
    if (!Array.isArray(item) || item.length < 2) continue;
    out.push({ key: String(item[0]), entries: entriesOf(item[1]) });
  }
  return out;
}

/** XAUTOCLAIM: next cursor, claimed entries, ids dropped from the pending list (deleted entries, Redis 7). */
export function autoClaimReply(reply: unknown): { cursor: string; entries: StreamEntry[]; deletedIds: string[] } {
  const r = Array.isArray(reply) ? reply : [];
  const entries = entriesOf(r[1]);
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
