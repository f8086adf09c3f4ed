/**
 * Dead letters across the members of a routed bus. Each member keeps its own records (its store,
 * its retention); the routed bus shows them as one list:
 * - a record's id is `<member>/<member's own id>` and its `member` field names the member, so an
 *   id taken from the list reaches the right member again (member names cannot contain `/`);
 * - listing merges the members' lists oldest first (by `lastFailedAt`; each member's own order is
 *   kept) and cuts at `limit`;
 * - redrive and purge send each record's part of the filter to its own member: a record is
 *   redriven by the member that dead-lettered it, into its own group there;
 * - a member that cannot answer (its server down) fails the call with a `MemberFailuresError`
 *   naming it: a list missing a member's records would look complete.
 */
import {
  validateDeadLetterFilter,
  validateDeadLetterLimit,
  type DeadLetterFilter,
  type DeadLetterRecord,
  type MessageBus,
  type PurgeResult,
  type RedriveResult,
} from '@woodwork/bus-core';
import { memberFailure, type MemberFailure } from './routed-errors.js';

/** A dead-letter record of a routed bus: the member's record, its id prefixed, and the member named. */
export interface RoutedDeadLetterRecord extends DeadLetterRecord {
  /** The member bus that holds the record. */
  member: string;
}

/** `<member>/<id>` of a member's record. */
export function routedRecordId(member: string, id: string): string {
  return `${member}/${id}`;
}

/** The member and its own id in a routed record id, or undefined when the id names no member. */
export function splitRecordId(id: string, members: ReadonlyMap<string, MessageBus>): { member: string; id: string } | undefined {
  const slash = id.indexOf('/');
  if (slash <= 0) return undefined;
  const member = id.slice(0, slash);
  return members.has(member) ? { member, id: id.slice(slash + 1) } : undefined;
}

/**
 * The filter each member gets: without `ids`, the same filter; with `ids`, only that member's ids
 * (unprefixed), and no entry for a member none of the ids names (nothing of it can match).
 */
function filtersByMember(members: ReadonlyMap<string, MessageBus>, filter: DeadLetterFilter | undefined): Map<string, DeadLetterFilter | undefined> {
  const out = new Map<string, DeadLetterFilter | undefined>();
  if (filter?.ids === undefined) {
    for (const name of members.keys()) out.set(name, filter);
    return out;
  }
  const ids = new Map<string, string[]>();
  for (const id of filter.ids) {
    const split = splitRecordId(id, members);
    if (!split) continue;
    let list = ids.get(split.member);
    if (!list) ids.set(split.member, (list = []));
    list.push(split.id);
  }
  for (const [name, list] of ids) out.set(name, { ...filter, ids: list });
  return out;
}

function tag(member: string, record: DeadLetterRecord): RoutedDeadLetterRecord {
  return { ...record, id: routedRecordId(member, record.id), member };
}

/** Merges lists that are each oldest first into one, oldest first; ties keep member order. */
function mergeOldestFirst(lists: RoutedDeadLetterRecord[][], limit: number): RoutedDeadLetterRecord[] {
  const at = lists.map(() => 0);
  const out: RoutedDeadLetterRecord[] = [];
  while (out.length < limit) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const candidate = lists[i]![at[i]!];
      if (candidate === undefined) continue;
      if (best < 0 || candidate.lastFailedAt < lists[best]![at[best]!]!.lastFailedAt) best = i;
    }
    if (best < 0) break;
    out.push(lists[best]![at[best]!++]!);
  }
  return out;
}

export async function listDeadLetters(
  members: ReadonlyMap<string, MessageBus>,
  limit: unknown,
  filter: unknown,
): Promise<RoutedDeadLetterRecord[]> {
  const max = limit === undefined ? 100 : validateDeadLetterLimit(limit);
  const checked = validateDeadLetterFilter(filter, false);
  return listChecked(members, max, checked);
}

async function listChecked(
  members: ReadonlyMap<string, MessageBus>,
  limit: number,
  filter: DeadLetterFilter | undefined,
): Promise<RoutedDeadLetterRecord[]> {
  if (limit === 0) return [];
  const lists = await onMembers('getDeadLetterMessages', [...filtersByMember(members, filter)], async (name, memberFilter) => {
    const records = await members.get(name)!.getDeadLetterMessages(limit, memberFilter);
    return records.map((record) => tag(name, record));
  });
  return mergeOldestFirst(lists, limit);
}

/**
 * With `limit`, the oldest matching records across all members are chosen first (as one list
 * would), then each member redrives or purges its own by id.
 */
async function byMember<R>(
  operation: string,
  members: ReadonlyMap<string, MessageBus>,
  filter: unknown,
  act: (bus: MessageBus, filter: DeadLetterFilter | undefined) => Promise<R>,
): Promise<Array<[string, R]>> {
  const checked = validateDeadLetterFilter(filter, true);
  let filters: Map<string, DeadLetterFilter | undefined>;
  if (checked?.limit !== undefined) {
    const { limit, ...rest } = checked;
    const chosen = await listChecked(members, limit, Object.keys(rest).length === 0 ? undefined : rest);
    filters = filtersByMember(members, { ids: chosen.map((record) => record.id) });
  } else {
    filters = filtersByMember(members, checked);
  }
  return onMembers(operation, [...filters], async (name, memberFilter) => [name, await act(members.get(name)!, memberFilter)] as [string, R]);
}

/**
 * Runs `call` for each member at once. A member that fails (its server down) fails the call with
 * its name on it (`MemberFailuresError`), after every member has answered: nothing is left running.
 */
async function onMembers<T>(
  operation: string,
  targets: Array<[string, DeadLetterFilter | undefined]>,
  call: (name: string, filter: DeadLetterFilter | undefined) => Promise<T>,
): Promise<T[]> {
  const results = await Promise.allSettled(targets.map(([name, filter]) => call(name, filter)));
  const failures: MemberFailure[] = [];
  results.forEach((result, i) => {
    if (result.status === 'rejected') failures.push({ member: targets[i]![0], error: result.reason });
  });
  const error = memberFailure(operation, failures, targets.length);
  if (error !== undefined) throw error;
  return results.map((result) => (result as PromiseFulfilledResult<T>).value);
}

export async function redriveDeadLetters(members: ReadonlyMap<string, MessageBus>, filter: unknown): Promise<RedriveResult> {
  const results = await byMember('redriveDeadLetters', members, filter, (bus, memberFilter) => bus.redriveDeadLetters(memberFilter));
  const out: RedriveResult = { redriven: [], skipped: [] };
  for (const [name, result] of results) {
    for (const id of result.redriven) out.redriven.push(routedRecordId(name, id));
    for (const skipped of result.skipped) out.skipped.push({ id: routedRecordId(name, skipped.id), reason: skipped.reason });
  }
  return out;
}

export async function purgeDeadLetters(members: ReadonlyMap<string, MessageBus>, filter: unknown): Promise<PurgeResult> {
  const results = await byMember('purgeDeadLetters', members, filter, (bus, memberFilter) => bus.purgeDeadLetters(memberFilter));
  return { purged: results.reduce((sum, [, result]) => sum + result.purged, 0) };
}
