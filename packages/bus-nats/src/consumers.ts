/**
 * A group's durable consumers (one per partition, or one for a private group; subjects.ts): found
 * (their spec read back from the description) or created, with the start position the contract
 * asks for:
 * - a new group never replays broadcasts: it starts after the stream's last message (`since`);
 * - a component's new group also takes the targeted messages waiting for it, when no other group
 *   of that component exists yet: it starts at the first of them, and broadcasts before `since`
 *   are skipped in the client;
 * - a consumer deleted from outside is recreated from the position the process still knows
 *   (`recreateFrom`, right after the last acknowledged message), never from the stream's start;
 *   unless the stream itself is another one now (deleted and recreated, or a server that lost its
 *   data): its sequences started again at 1, so everything in it is new and the consumer starts at
 *   its first message. The stream's creation time tells (sequences alone do not, once the new
 *   stream has grown past the old position).
 * A group's partitions all start where its first consumer started (`basis`), so a partition whose
 * consumer is created later (a crash between creations) still gets the group's messages.
 */
import { AckPolicy, DeliverPolicy, JetStreamApiError, type ConsumerConfig, type ConsumerInfo, type JetStreamManager, type MsgRequest } from '@nats-io/jetstream';
import { InvalidConfigError, assertSameGroupSpec, type GroupSpec } from '@woodwork/bus-core';
import { msToNanos, type ResolvedNatsBusOptions } from './options.js';
import type { ServerFeatures } from './server.js';
import { groupFilter, groupFilters, targetSubjects, type Layout } from './subjects.js';

/** The description's version: 2 is the partitioned layout. */
const DESCRIPTION_VERSION = 2;

/** What the consumer's description holds (JSON, versioned by `woodwork`). */
export interface StoredGroup extends GroupSpec {
  /** Broadcasts before this stream sequence are not the group's (published before it existed). */
  since: number;
  /** The partition this consumer reads; null: every partition (a private group). */
  partition: number | null;
}

/** Where a group's consumers start (its first consumer's choice). */
export interface StartBasis {
  start: number;
  since: number;
}

/** Where a consumer deleted from outside starts again, and the stream it was made on. */
export interface RecreateFrom extends StartBasis {
  /** The events stream's creation time (`StreamInfo.created`) when the consumer was made. */
  streamCreated: string | undefined;
}

/** Private groups left by a crashed process are removed by the server after this long unused. */
const PRIVATE_INACTIVE_MS = 120_000;

export function isNotFound(error: unknown): boolean {
  if (error instanceof JetStreamApiError && (error.code === 10014 || error.code === 10059 || error.code === 10037 || error.status === 404)) return true;
  return /not found|no message found/i.test(String((error as Error)?.message ?? error));
}

export function readStoredGroup(info: Pick<ConsumerInfo, 'config'>): StoredGroup | undefined {
  const text = info.config.description;
  if (!text) return undefined;
  try {
    const d = JSON.parse(text) as Record<string, unknown>;
    if (d['woodwork'] !== DESCRIPTION_VERSION) return undefined;
    return {
      group: String(d['group']),
      eventPattern: String(d['eventPattern']),
      componentId: (d['componentId'] as string | null) ?? null,
      sessionId: (d['sessionId'] as string | null) ?? null,
      targetedOnly: d['targetedOnly'] === true,
      observer: d['observer'] === true,
      durable: d['durable'] === true,
      since: Number(d['since'] ?? 0),
      partition: Number.isSafeInteger(d['partition']) ? (d['partition'] as number) : null,
    };
  } catch {
    return undefined;
  }
}

function specOf(spec: GroupSpec): GroupSpec {
  const { group, eventPattern, componentId, sessionId, targetedOnly, observer, durable } = spec;
  return { group, eventPattern, componentId, sessionId, targetedOnly, observer, durable };
}

export interface ConsumerContext {
  jsm: JetStreamManager;
  layout: Layout;
  options: ResolvedNatsBusOptions;
  features: ServerFeatures;
}

export interface ListedGroup {
  stored: StoredGroup;
  /** Every consumer of the group (its partitions), in partition order. */
  infos: ConsumerInfo[];
}

/** Every woodwork group of the prefix, with its stored spec and its consumers. */
export async function listGroups(ctx: ConsumerContext): Promise<ListedGroup[]> {
  const byGroup = new Map<string, ListedGroup>();
  for await (const info of ctx.jsm.consumers.list(ctx.layout.eventsStream)) {
    const stored = readStoredGroup(info);
    if (!stored) continue;
    const listed = byGroup.get(stored.group);
    if (listed) listed.infos.push(info);
    else byGroup.set(stored.group, { stored, infos: [info] });
  }
  for (const listed of byGroup.values()) listed.infos.sort((a, b) => (readStoredGroup(a)?.partition ?? -1) - (readStoredGroup(b)?.partition ?? -1));
  return [...byGroup.values()];
}

/** Where an existing consumer started: the basis of the group's other partitions. */
export function basisOf(info: ConsumerInfo, stored: StoredGroup): StartBasis {
  return { start: info.config.opt_start_seq ?? stored.since, since: stored.since };
}

/**
 * Finds or creates the consumer `name` (of `partition`, null for a private group) for `spec`;
 * returns what it stores. `basis`: start where the group's first consumer did; `recreateFrom`: a
 * consumer deleted from outside, recreated after what this process settled.
 */
export async function ensureConsumer(
  ctx: ConsumerContext,
  spec: GroupSpec,
  name: string,
  partition: number | null,
  from: { basis?: StartBasis; recreateFrom?: RecreateFrom } = {},
): Promise<{ stored: StoredGroup; basis: StartBasis; streamCreated?: string }> {
  const { jsm, layout } = ctx;
  const { basis, recreateFrom } = from;
  const existing = await infoOrUndefined(ctx, name);
  if (existing) {
    const stored = checked(existing, spec);
    return { stored, basis: basisOf(existing, stored) };
  }
  if (basis && !recreateFrom) return createConsumer(ctx, spec, name, partition, basis.start, basis.since);
  const info = await jsm.streams.info(layout.eventsStream);
  const state = info.state;
  const next = state.last_seq + 1;
  // Another stream than the one this process saw (recreated, or went back below what it saw: a
  // server restarted empty): everything in it now is new, so a recreated consumer starts at its beginning.
  const otherStream = recreateFrom?.streamCreated !== undefined && info.created !== recreateFrom.streamCreated;
  const reset = recreateFrom !== undefined && (otherStream || recreateFrom.start > next);
  let start = reset ? Math.max(1, state.first_seq) : (recreateFrom?.start ?? next);
  const since = reset ? 0 : (recreateFrom?.since ?? next);
  if (!recreateFrom && spec.componentId !== null && !spec.observer) {
    const others = (await listGroups(ctx)).some((g) => g.stored.componentId === spec.componentId && !g.stored.observer);
    if (!others) {
      const first = await firstMessage(ctx, targetSubjects(layout, spec.componentId, spec.sessionId, spec.eventPattern));
      if (first !== undefined) start = Math.min(start, first);
    }
  }
  return { ...(await createConsumer(ctx, spec, name, partition, start, since)), streamCreated: info.created };
}

async function createConsumer(
  ctx: ConsumerContext,
  spec: GroupSpec,
  name: string,
  partition: number | null,
  start: number,
  since: number,
): Promise<{ stored: StoredGroup; basis: StartBasis }> {
  const { jsm, layout } = ctx;
  const stored: StoredGroup = { ...specOf(spec), since, partition };
  const base = partition === null ? name : name.slice(0, name.lastIndexOf('~'));
  const config: Partial<ConsumerConfig> & { durable_name: string } = {
    durable_name: name,
    description: JSON.stringify({ woodwork: DESCRIPTION_VERSION, ...stored }),
    ack_policy: AckPolicy.Explicit,
    ack_wait: msToNanos(ctx.options.ackWaitMs),
    // Unlimited: this backend dead-letters itself after the last attempt, then terminates the
    // message; a server-side max_deliver would drop it silently. No `backoff`: it would override ack_wait.
    max_deliver: -1,
    max_ack_pending: ctx.options.maxAckPending,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, start),
    max_waiting: 512,
    ...(spec.durable ? {} : { inactive_threshold: msToNanos(PRIVATE_INACTIVE_MS) }),
    ...(ctx.features.filterSubjects ? { filter_subjects: groupFilters(layout, spec, base, partition) } : { filter_subject: groupFilter(layout, spec, partition) }),
  };
  try {
    await jsm.consumers.add(layout.eventsStream, config);
    return { stored, basis: { start: config.opt_start_seq as number, since } };
  } catch (error) {
    // Another process created it first: use theirs if it is the same group.
    const raced = await infoOrUndefined(ctx, name);
    if (raced) {
      const theirs = checked(raced, spec);
      return { stored: theirs, basis: basisOf(raced, theirs) };
    }
    throw error;
  }
}

function checked(info: ConsumerInfo, spec: GroupSpec): StoredGroup {
  const stored = readStoredGroup(info);
  if (!stored) throw new InvalidConfigError('group', `"${spec.group}" maps to consumer ${info.name}, which exists but was not made by this bus`);
  assertSameGroupSpec(stored, spec);
  return stored;
}

export async function infoOrUndefined(ctx: ConsumerContext, name: string): Promise<ConsumerInfo | undefined> {
  try {
    return await ctx.jsm.consumers.info(ctx.layout.eventsStream, name);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

async function firstMessage(ctx: ConsumerContext, subject: string): Promise<number | undefined> {
  try {
    const found = await ctx.jsm.streams.getMessage(ctx.layout.eventsStream, nextBySubject(1, subject));
    return found?.seq;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export async function deleteConsumer(ctx: ConsumerContext, name: string): Promise<void> {
  try {
    await ctx.jsm.consumers.delete(ctx.layout.eventsStream, name);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

/**
 * The first message at or after `seq` on `subject`. The server's STREAM.MSG.GET takes `next_by_subj`
 * since 2.9 (the client's typings list it for direct gets only, which need `allow_direct`).
 */
export function nextBySubject(seq: number, subject: string): MsgRequest {
  return { seq, next_by_subj: subject } as unknown as MsgRequest;
}
