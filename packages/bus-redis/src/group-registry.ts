/**
 * The registry of groups (`<prefix>:{<prefix>}:groups`, group key -> JSON spec) and the consumer
 * groups behind each (one per partition stream). Health, expiry and redrive read the registry;
 * nothing ever scans keys.
 *
 * Where a new group starts, per partition (the contract's rules):
 * - at the stream's end (`$`): a new group never replays broadcasts;
 * - a component's first group (no other group of that component registered) starts at the first
 *   entry waiting for it (`targets` hash) and skips, in the client, broadcasts up to `since`
 *   (the stream's last id when it was created);
 * - a consumer group lost with the server's data (NOGROUP) is recreated from the position this
 *   process still knows, or at the stream's start when the registry itself was lost (everything
 *   in a stream that restarted empty is new).
 */
import { InvalidConfigError, assertSameGroupSpec, type GroupSpec } from '@woodwork/bus-core';
import type { RedisClient } from './connection.js';
import { eventsKey, subscribedKey, targetsKey, type Layout } from './keys.js';
import type { Scripts } from './scripts.js';

export interface StoredGroup extends GroupSpec {
  /** The consumer-group name on every partition. */
  key: string;
  /** Per partition: broadcasts at or before this id predate the group. */
  since: string[];
}

export interface RegistryContext {
  client: RedisClient;
  scripts: Scripts;
  layout: Layout;
}

export function specOf(spec: GroupSpec): GroupSpec {
  const { group, eventPattern, componentId, sessionId, targetedOnly, observer, durable } = spec;
  return { group, eventPattern, componentId, sessionId, targetedOnly, observer, durable };
}

export function parseStoredGroup(text: string | null | undefined): StoredGroup | undefined {
  if (!text) return undefined;
  try {
    const d = JSON.parse(text) as Record<string, unknown>;
    if (d['woodwork'] !== 1) return undefined;
    return {
      key: String(d['key']),
      group: String(d['group']),
      eventPattern: String(d['eventPattern']),
      componentId: (d['componentId'] as string | null) ?? null,
      sessionId: (d['sessionId'] as string | null) ?? null,
      targetedOnly: d['targetedOnly'] === true,
      observer: d['observer'] === true,
      durable: d['durable'] === true,
      since: Array.isArray(d['since']) ? (d['since'] as unknown[]).map(String) : [],
    };
  } catch {
    return undefined;
  }
}

export async function listGroups(ctx: RegistryContext): Promise<StoredGroup[]> {
  const all = (await ctx.client.hgetall(ctx.layout.groups)) as Record<string, string>;
  const out: StoredGroup[] = [];
  for (const text of Object.values(all)) {
    const stored = parseStoredGroup(text);
    if (stored) out.push(stored);
  }
  return out;
}

export async function readGroup(ctx: RegistryContext, key: string): Promise<StoredGroup | undefined> {
  return parseStoredGroup(await ctx.client.hget(ctx.layout.groups, key));
}

/** Finds the group (checking it receives what `spec` asks) or creates it on every partition. */
export async function registerGroup(ctx: RegistryContext, spec: GroupSpec, key: string): Promise<StoredGroup> {
  const existing = await readGroup(ctx, key);
  if (existing) return checked(existing, spec);
  const takeWaiting =
    spec.componentId !== null && !spec.observer && !(await listGroups(ctx)).some((g) => g.componentId === spec.componentId && !g.observer);
  const component = spec.observer ? '' : (spec.componentId ?? '');
  const since: string[] = [];
  for (let n = 0; n < ctx.layout.partitions; n++) {
    const [, last] = await ctx.scripts.wwCreateGroup(eventsKey(ctx.layout, n), targetsKey(ctx.layout, n), subscribedKey(ctx.layout, n), key, component, takeWaiting, '');
    since.push(last);
  }
  const stored: StoredGroup = { ...specOf(spec), key, since };
  if (Number(await ctx.client.hsetnx(ctx.layout.groups, key, JSON.stringify({ woodwork: 1, ...stored }))) === 0) {
    // Another process registered it first: use theirs if it is the same group.
    const raced = await readGroup(ctx, key);
    if (raced) return checked(raced, spec);
  }
  return stored;
}

/**
 * After NOGROUP: recreates the group on partition `n` at `start` ('' = the stream's end), and its
 * registry entry when that is gone too (then at the stream's start: the server lost its data).
 */
export async function recreateGroup(ctx: RegistryContext, stored: StoredGroup, n: number, start: string | undefined): Promise<void> {
  const registered = await readGroup(ctx, stored.key);
  const from = start ?? (registered ? '' : '0');
  const component = stored.observer ? '' : (stored.componentId ?? '');
  await ctx.scripts.wwCreateGroup(eventsKey(ctx.layout, n), targetsKey(ctx.layout, n), subscribedKey(ctx.layout, n), stored.key, component, false, from);
  if (!registered) {
    const fresh = { ...stored, since: stored.since.map(() => '0-0') };
    await ctx.client.hsetnx(ctx.layout.groups, stored.key, JSON.stringify({ woodwork: 1, ...fresh }));
  }
}

/** Removes a group: its consumer groups, its registry entry, its membership and activity. */
export async function deleteGroup(ctx: RegistryContext, stored: StoredGroup, membersKey: string): Promise<void> {
  const { client, layout } = ctx;
  for (let n = 0; n < layout.partitions; n++) {
    await client.xgroup('DESTROY', eventsKey(layout, n), stored.key).catch(() => 0);
  }
  await client.hdel(layout.groups, stored.key);
  await client.zrem(layout.groupActive, stored.key);
  await client.del(membersKey);
  if (stored.componentId !== null && !stored.observer) {
    const others = (await listGroups(ctx)).some((g) => g.componentId === stored.componentId && !g.observer);
    if (!others) for (let n = 0; n < layout.partitions; n++) await client.srem(subscribedKey(layout, n), stored.componentId);
  }
}

function checked(stored: StoredGroup, spec: GroupSpec): StoredGroup {
  if (stored.group !== spec.group) throw new InvalidConfigError('group', `"${spec.group}" maps to the key of group "${stored.group}"`);
  assertSameGroupSpec(stored, spec);
  return stored;
}
