/**
 * What health and expiry read from the server: each registered group's pending (delivered, not
 * acknowledged) and lag (not yet read) summed over the partitions (XINFO GROUPS: one call per
 * partition for every group), the last time a replica was attached anywhere, and whether any
 * process is a live member.
 *
 * The oldest held entry of a group (for `oldestPendingAgeMs`) is read only where the group holds
 * something: the smallest id of its pending list (XPENDING summary) and its first unread entry
 * (XRANGE after last-delivered-id, COUNT 1). An entry id's time is when the server stored it.
 */
import type { GroupHealth } from '@woodwork/bus-core';
import type { RedisClient } from './connection.js';
import { eventsKey, membersKey, type Layout } from './keys.js';
import type { StoredGroup } from './group-registry.js';
import { groupsInfoReply } from './stream-replies.js';

const LAG_COUNT_CAP = 100_000;

export interface GroupNumbers {
  pending: number;
  lag: number;
  /** Server time (ms) of the oldest entry the group holds, pending or unread; undefined when none. */
  oldestMs?: number;
}

/** Pending and lag of every group key, over all partitions. */
export async function groupNumbers(client: RedisClient, layout: Layout): Promise<Map<string, GroupNumbers>> {
  const out = new Map<string, GroupNumbers>();
  const infos = await Promise.all(
    Array.from({ length: layout.partitions }, async (_, n) => {
      const key = eventsKey(layout, n);
      try {
        return { key, groups: groupsInfoReply(await client.xinfo('GROUPS', key)) };
      } catch {
        return { key, groups: new Map<string, { pending: number; lag: number | null; lastDelivered: string }>() };
      }
    }),
  );
  for (const { key, groups } of infos) {
    for (const [name, info] of groups) {
      // The server cannot tell the lag after deletions inside the unread range: count it.
      const lag = info.lag ?? ((await client.xrange(key, `(${info.lastDelivered}`, '+', 'COUNT', LAG_COUNT_CAP)) as unknown[]).length;
      const sum: GroupNumbers = out.get(name) ?? { pending: 0, lag: 0 };
      sum.pending += info.pending;
      sum.lag += lag;
      const oldest = await oldestHeldMs(client, key, name, info.pending, lag, info.lastDelivered);
      if (oldest !== undefined && (sum.oldestMs === undefined || oldest < sum.oldestMs)) sum.oldestMs = oldest;
      out.set(name, sum);
    }
  }
  return out;
}

/** Server time (ms) of the oldest entry the group holds in one partition (nothing asked when it holds none). */
async function oldestHeldMs(client: RedisClient, key: string, group: string, pending: number, lag: number, lastDelivered: string): Promise<number | undefined> {
  const [summary, unread] = await Promise.all([
    pending > 0 ? client.xpending(key, group).catch(() => undefined) : undefined,
    lag > 0 ? client.xrange(key, `(${lastDelivered}`, '+', 'COUNT', 1).catch(() => undefined) : undefined,
  ]);
  const ids = [(summary as unknown[] | undefined)?.[1], ((unread as unknown[][] | undefined)?.[0] as unknown[] | undefined)?.[0]];
  let oldest: number | undefined;
  for (const id of ids) {
    const ms = typeof id === 'string' ? Number(id.split('-')[0]) : Number.NaN;
    if (Number.isFinite(ms) && (oldest === undefined || ms < oldest)) oldest = ms;
  }
  return oldest;
}

/** Seconds since the epoch a replica of each group was last attached (server time). */
export async function lastActive(client: RedisClient, layout: Layout): Promise<Map<string, number>> {
  const flat = (await client.zrange(layout.groupActive, 0, -1, 'WITHSCORES')) as string[];
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < flat.length; i += 2) out.set(flat[i]!, Number(flat[i + 1]) / 1000);
  return out;
}

/** Processes whose membership of the group has not lapsed. */
export async function liveMembers(client: RedisClient, layout: Layout, groupKey: string, nowMs: number): Promise<number> {
  return Number(await client.zcount(membersKey(layout, groupKey), `(${nowMs}`, '+inf'));
}

export async function serverNowMs(client: RedisClient): Promise<number> {
  const [s, us] = (await client.time()) as [string | number, string | number];
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/**
 * One group's health. With `nowMs` (server time) the numbers came from the server and the oldest
 * held entry's age is reported (`null`: it holds none); without it, it is left out.
 */
export function groupHealth(stored: StoredGroup, numbers: GroupNumbers | undefined, consumers: number, activeAt: number | undefined, nowMs?: number): GroupHealth {
  const oldestMs = numbers?.oldestMs;
  return {
    group: stored.group,
    eventPattern: stored.eventPattern,
    componentId: stored.componentId,
    sessionId: stored.sessionId,
    durable: stored.durable,
    consumers,
    pending: numbers?.pending ?? 0,
    lag: numbers?.lag ?? 0,
    lastActiveAt: activeAt ?? 0,
    ...(nowMs === undefined ? {} : { oldestPendingAgeMs: oldestMs === undefined ? null : Math.max(0, nowMs - oldestMs) }),
  };
}
