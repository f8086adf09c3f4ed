/**
 * The NATS layout of one woodwork bus (protocol version 2): every stream, consumer and subject name
 * it uses, built here and nowhere else. `<p>` is the bus's `streamPrefix` (1-64 of `[A-Za-z0-9_-]`),
 * always a whole token: subjects start with `<p>.`, stream and consumer names with `<p>~` (`~` and
 * `.` never occur in a prefix), so one prefix is one tenant that permissions can fence.
 *
 * Streams (a fixed set of three per prefix; storage, replicas and max age are options):
 *   `<p>~EVENTS`  subjects `<p>.m.>`    every published message, once (limits retention, so a
 *                                       message waits for targets that subscribe later; duplicate
 *                                       window = `dedupeWindowMs`). Its description is JSON
 *                                       `{"woodwork":2,"partitions":P}`: the partition count every
 *                                       process of the prefix uses (the first creator's choice).
 *   `<p>~DLQ`     subjects `<p>.dlq.>`  dead-letter records (max `deadLetterMaxSize`, oldest dropped).
 *   `<p>~STATE`   subjects `<p>.state.>` one message per subject: `<p>.state.g.<consumer>` is the
 *                                       partition assignment of one shared group (assignment.ts);
 *                                       `<p>.state.sd.<slot>` recent deleted sessions, for buses
 *                                       that were away when the notice went out (deletion-log.ts).
 * Control subjects `<p>.ctl.>` (core NATS, in no stream): `<p>.ctl.session-deleted` and
 * `<p>.ctl.session-dropped.<notice>` tell the prefix's buses a session was deleted (session-notices.ts).
 *
 * Message subjects: `<p>.m.<partition>.<session>.<to>.<event type tokens...>` where
 *   `<partition>`   `fnv1a32(utf8(session)) mod P` in decimal (`partitionOf`);
 *   `<to>`          `~` a broadcast (`pub_sub`, or `point_to_point` / `stream` without a target),
 *                   `<component>` a targeted message (`point_to_point` / `stream` with `componentTarget`),
 *                   `=<consumer>` a dead letter redriven to the one group whose consumer has that name.
 * Session ids, component names and event-type tokens pass core's rules (letters, digits, `_`, `-`;
 * event types dot-separated), so they are subject tokens as they are; anything else is rejected
 * here with `InvalidMessageError` before it reaches a subject. Dead letters: `<p>.dlq.<session>`.
 *
 * Consumers. A group's base name is `<p>~<group>` when the group is 1-64 of `[A-Za-z0-9_-]`, else
 * `<p>~<readable part>~<sha256, 26 base32 chars>` (default group names reach ~530 characters and
 * carry `~` and `@`). A plain name has no `~` after the prefix and a hashed one always does, so the
 * two forms never collide. A group that processes may share (a `componentId` or an explicit
 * `group`) is partitioned: one durable pull consumer per partition, `<base>~<partition>`, filter
 * `<p>.m.<partition>.<session|*>.*.<event type|>>`, each pulled by one process at a time under the
 * group's assignment. A private group (observer, no group and no component) is one consumer named
 * `<base>` with filter `<p>.m.*.<session|*>.*.<event type|>>`. A session-bound group has only its
 * session's partition. On servers before 2.10 (one filter per consumer) which `<to>` tokens a
 * group takes is decided in the client (`acceptsTarget`); 2.10+ gets exact `filter_subjects`. The
 * group's spec is kept as JSON in each consumer's `description`.
 */
import { createHash } from 'node:crypto';
import { InvalidMessageError, NAME_PATTERN, STREAM_PREFIX_PATTERN, validateEventType, type GroupSpec } from '@woodwork/bus-core';

export const BROADCAST_TOKEN = '~';
export const REDRIVE_MARK = '=';
/**
 * Partitions per prefix when the events stream is created by this process (option `partitions`).
 * 8, not more: on nats-server 2.9 each partition's consumer costs the server CPU per message (the
 * bench, README "Benchmark": 16 partitions cost it about 28 us a message more than 1).
 */
export const DEFAULT_PARTITIONS = 8;

export interface Layout {
  prefix: string;
  /** Partition count of the prefix (from the events stream's description). */
  partitions: number;
  eventsStream: string;
  dlqStream: string;
  stateStream: string;
  eventsSubjects: string;
  dlqSubjects: string;
  stateSubjects: string;
}

export function layoutFor(prefix: string, partitions = DEFAULT_PARTITIONS): Layout {
  if (!STREAM_PREFIX_PATTERN.test(prefix)) throw new InvalidMessageError('streamPrefix', 'must be 1-64 letters, digits, "_" or "-"');
  return {
    prefix,
    partitions,
    eventsStream: `${prefix}~EVENTS`,
    dlqStream: `${prefix}~DLQ`,
    stateStream: `${prefix}~STATE`,
    eventsSubjects: `${prefix}.m.>`,
    dlqSubjects: `${prefix}.dlq.>`,
    stateSubjects: `${prefix}.state.>`,
  };
}

function token(value: string, field: string): string {
  if (!NAME_PATTERN.test(value)) throw new InvalidMessageError(field, 'cannot be a subject token (1-128 letters, digits, "_" or "-")');
  return value;
}

/** 32-bit FNV-1a of the session id's UTF-8 bytes, mod `partitions` (PROTOCOL.md gives it in Python). */
export function partitionOf(sessionId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) {
    // Session ids are ASCII (core's name rule), so a char code is its UTF-8 byte.
    hash ^= sessionId.charCodeAt(i) & 0xff;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** Subject of a published message. */
export function messageSubject(layout: Layout, sessionId: string, target: string | null, eventType: string): string {
  validateEventType(eventType);
  const to = target === null ? BROADCAST_TOKEN : token(target, 'componentTarget');
  const session = token(sessionId, 'sessionId');
  return `${layout.prefix}.m.${partitionOf(session, layout.partitions)}.${session}.${to}.${eventType}`;
}

/** Subject of a dead letter redriven to one group (its base consumer name). */
export function redriveSubject(layout: Layout, sessionId: string, consumer: string, eventType: string): string {
  validateEventType(eventType);
  const session = token(sessionId, 'sessionId');
  return `${layout.prefix}.m.${partitionOf(session, layout.partitions)}.${session}.${REDRIVE_MARK}${consumer}.${eventType}`;
}

/** Every message subject of one session (purge on deleteSessionQueue). */
export function sessionSubjects(layout: Layout, sessionId: string): string {
  const session = token(sessionId, 'sessionId');
  return `${layout.prefix}.m.${partitionOf(session, layout.partitions)}.${session}.>`;
}

export function deadLetterSubject(layout: Layout, sessionId: string): string {
  return `${layout.prefix}.dlq.${token(sessionId, 'sessionId')}`;
}

/** The subject of a shared group's partition assignment in the state stream. */
export function assignmentSubject(layout: Layout, consumer: string): string {
  return `${layout.prefix}.state.g.${consumer}`;
}

/** One slot (0-255, by the session's fnv1a32) of the recent deleted sessions in `<p>~STATE`. */
export function deletionSlotSubject(layout: Layout, slot: number): string {
  return `${layout.prefix}.state.sd.${slot}`;
}

/** Where a bus announces a deleted session to the prefix's other buses (core NATS, no stream). */
export function sessionDeletedSubject(layout: Layout): string {
  return `${layout.prefix}.ctl.session-deleted`;
}

/** Where a bus answers one such notice (`notice`: its id, a nuid). */
export function sessionDroppedSubject(layout: Layout, notice: string): string {
  return `${layout.prefix}.ctl.session-dropped.${notice}`;
}

/** Messages waiting for a target (optionally one session, one event type). */
export function targetSubjects(layout: Layout, target: string, sessionId: string | null, eventPattern: string): string {
  const partition = sessionId === null ? '*' : String(partitionOf(sessionId, layout.partitions));
  return `${layout.prefix}.m.${partition}.${sessionId ?? '*'}.${token(target, 'componentTarget')}.${eventPattern === '*' ? '>' : eventPattern}`;
}

export interface ParsedSubject {
  partition: number;
  sessionId: string;
  /** `~`, a component, or `=<consumer>`. */
  to: string;
  eventType: string;
}

/** Splits a message subject; undefined for anything that is not one of ours. */
export function parseMessageSubject(layout: Layout, subject: string): ParsedSubject | undefined {
  const head = `${layout.prefix}.m.`;
  if (!subject.startsWith(head)) return undefined;
  const parts = subject.slice(head.length).split('.');
  if (parts.length < 4) return undefined;
  const partition = Number(parts[0]);
  if (!Number.isSafeInteger(partition) || partition < 0) return undefined;
  return { partition, sessionId: parts[1]!, to: parts[2]!, eventType: parts.slice(3).join('.') };
}

/** The partitions a group reads: its session's one for a session-bound group, else all of them. */
export function groupPartitions(layout: Layout, spec: Pick<GroupSpec, 'sessionId'>): number[] {
  if (spec.sessionId !== null) return [partitionOf(spec.sessionId, layout.partitions)];
  return Array.from({ length: layout.partitions }, (_, i) => i);
}

/** The one filter subject of a group's consumer for `partition` (null: every partition). */
export function groupFilter(layout: Layout, spec: Pick<GroupSpec, 'sessionId' | 'eventPattern'>, partition: number | null): string {
  return `${layout.prefix}.m.${partition ?? '*'}.${spec.sessionId ?? '*'}.*.${spec.eventPattern === '*' ? '>' : spec.eventPattern}`;
}

/** Exact filters for servers with `filter_subjects` (2.10+). */
export function groupFilters(layout: Layout, spec: GroupSpec, consumer: string, partition: number | null): string[] {
  const tail = spec.eventPattern === '*' ? '>' : spec.eventPattern;
  const at = (to: string): string => `${layout.prefix}.m.${partition ?? '*'}.${spec.sessionId ?? '*'}.${to}.${tail}`;
  if (spec.observer) return [at('*')];
  const out: string[] = [at(`${REDRIVE_MARK}${consumer}`)];
  if (!spec.targetedOnly) out.push(at(BROADCAST_TOKEN));
  if (spec.componentId !== null) out.push(at(spec.componentId));
  return out;
}

/**
 * Whether a group takes a message sent to `to` (the contract's routing rule on the subject token).
 * Observers see broadcasts and targeted messages, never another group's redrives.
 */
export function acceptsTarget(spec: GroupSpec, consumer: string, to: string): boolean {
  if (to.startsWith(REDRIVE_MARK)) return to.slice(1) === consumer;
  if (spec.observer) return true;
  if (to === BROADCAST_TOKEN) return !spec.targetedOnly;
  return spec.componentId === to;
}

const PLAIN_GROUP = /^[A-Za-z0-9_-]{1,64}$/;

/** The base consumer name of a group (see the layout above). */
export function consumerName(layout: Layout, group: string): string {
  if (PLAIN_GROUP.test(group)) return `${layout.prefix}~${group}`;
  const readable = group.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  const hash = base32(createHash('sha256').update(group).digest()).slice(0, 26);
  return `${layout.prefix}~${readable}~${hash}`;
}

/** The durable consumer of one partition of a shared group. */
export function partitionConsumerName(base: string, partition: number): string {
  return `${base}~${partition}`;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
