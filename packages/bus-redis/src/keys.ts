/**
 * Every Redis key of the bus, built here and nowhere else. The layout (also in PROTOCOL.md):
 *
 *   <prefix>:{<prefix>}:meta                      HASH    version (1), partitions (P)
 *   <prefix>:{<prefix>}:groups                    HASH    group key -> JSON spec of the group (registry)
 *   <prefix>:{<prefix>}:group-active              ZSET    group key -> last ms a replica was attached somewhere
 *   <prefix>:{<prefix>}:members:<group key>       ZSET    member -> ms its membership expires (processes consuming)
 *   <prefix>:{<prefix>}:dlq                       STREAM  dead-letter records (fields of core's WireDeadLetter)
 *   <prefix>:{<prefix>/<n>}:events                STREAM  partition n (0..P-1) of every message: field `envelope`
 *   <prefix>:{<prefix>/<n>}:lease:<group key>     STRING  member owning partition n for the group, PX lease
 *   <prefix>:{<prefix>/<n>}:token:<token>         STRING  entry id a publish call stored (idempotent resend), PX
 *   <prefix>:{<prefix>/<n>}:dedupe:<message id>   STRING  `exactly_once` id seen (dedupe window), PX
 *   <prefix>:{<prefix>/<n>}:targets               HASH    component -> first entry id waiting for it (no group yet)
 *   <prefix>:{<prefix>/<n>}:subscribed            SET     components that have a group (their messages never wait)
 *   <prefix>:{<prefix>}:control                   CHANNEL pub/sub notices between buses (deleteSessionQueue)
 *
 * A message's partition is `fnv1a32(session id) mod P`, so one session lives in one stream. Every
 * consumer group of the bus is a Redis consumer group named by its group key on each partition.
 *
 * Every key starts with the literal `<prefix>:` (one prefix = one tenant that an ACL key pattern
 * `~<prefix>:*` fences). The hash tag after it puts what one command or script touches together in
 * one Cluster slot: the registries and the dead letters in `{<prefix>}`, each partition with its
 * leases, tokens, dedupe ids and target marks in `{<prefix>/<n>}`.
 *
 * Group keys are the group's name when it is short; default group names can be long (a component
 * id, a pattern and a session: about 530 characters), so a name over 100 characters becomes its
 * first 64 characters, `~`, and 24 hex digits of its SHA-256: bounded keys, readable prefix kept.
 */
import { createHash } from 'node:crypto';

export const LAYOUT_VERSION = 1;
const MAX_GROUP_KEY = 100;

export interface Layout {
  readonly prefix: string;
  readonly partitions: number;
  readonly meta: string;
  readonly groups: string;
  readonly groupActive: string;
  readonly dlq: string;
}

export function layoutFor(prefix: string, partitions: number): Layout {
  const base = `${prefix}:{${prefix}}`;
  return { prefix, partitions, meta: `${base}:meta`, groups: `${base}:groups`, groupActive: `${base}:group-active`, dlq: `${base}:dlq` };
}

/** The pub/sub channel of notices between the buses of a prefix (session-notices.ts). */
export function controlChannel(layout: Layout): string {
  return `${layout.prefix}:{${layout.prefix}}:control`;
}

/** The tag of partition n: what all of its keys share. */
function partitionBase(layout: Layout, n: number): string {
  return `${layout.prefix}:{${layout.prefix}/${n}}`;
}

const eventsKeys = new WeakMap<Layout, string[]>();

export function eventsKey(layout: Layout, n: number): string {
  let keys = eventsKeys.get(layout);
  if (!keys) eventsKeys.set(layout, (keys = Array.from({ length: layout.partitions }, (_, i) => `${partitionBase(layout, i)}:events`)));
  return keys[n] ?? `${partitionBase(layout, n)}:events`;
}

export function leaseKey(layout: Layout, n: number, groupKey: string): string {
  return `${partitionBase(layout, n)}:lease:${groupKey}`;
}

export function tokenKey(layout: Layout, n: number, token: string): string {
  return `${partitionBase(layout, n)}:token:${token}`;
}

export function dedupeKey(layout: Layout, n: number, messageId: string): string {
  return `${partitionBase(layout, n)}:dedupe:${messageId}`;
}

export function targetsKey(layout: Layout, n: number): string {
  return `${partitionBase(layout, n)}:targets`;
}

export function subscribedKey(layout: Layout, n: number): string {
  return `${partitionBase(layout, n)}:subscribed`;
}

export function membersKey(layout: Layout, groupKey: string): string {
  return `${layout.prefix}:{${layout.prefix}}:members:${groupKey}`;
}

/** The partition number of an events key, or undefined when it is not one of this layout's. */
export function partitionOfKey(layout: Layout, key: string): number | undefined {
  const head = `${layout.prefix}:{${layout.prefix}/`;
  if (!key.startsWith(head) || !key.endsWith('}:events')) return undefined;
  const n = Number(key.slice(head.length, -'}:events'.length));
  return Number.isInteger(n) && n >= 0 && n < layout.partitions ? n : undefined;
}

/** The consumer-group name and key part of a group: its name, or a bounded form of a long one. */
export function groupKeyOf(group: string): string {
  if (group.length <= MAX_GROUP_KEY) return group;
  const digest = createHash('sha256').update(group).digest('hex').slice(0, 24);
  return `${group.slice(0, 64)}~${digest}`;
}

/** FNV-1a (32 bit) of the UTF-8 bytes of a session id, mod `partitions`: the session's partition. */
export function partitionOf(sessionId: string, partitions: number): number {
  let hash = 0x811c9dc5;
  // ASCII (the usual session id) is its own UTF-8: no buffer per message.
  let ascii = true;
  for (let i = 0; i < sessionId.length; i++) {
    const code = sessionId.charCodeAt(i);
    if (code > 0x7f) {
      ascii = false;
      break;
    }
    hash ^= code;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  if (ascii) return hash % partitions;
  hash = 0x811c9dc5;
  for (const byte of Buffer.from(sessionId, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % partitions;
}

/** Compares two stream entry ids (`ms-seq`, decimal without leading zeros): negative when `a` is older. */
export function compareEntryIds(a: string, b: string): number {
  if (a === b) return 0;
  const ad = a.indexOf('-');
  const bd = b.indexOf('-');
  const am = ad < 0 ? a.length : ad;
  const bm = bd < 0 ? b.length : bd;
  if (am !== bm) return am - bm;
  for (let i = 0; i < am; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  const as = ad < 0 ? 0 : a.length - ad - 1;
  const bs = bd < 0 ? 0 : b.length - bd - 1;
  if (as !== bs) return as - bs;
  for (let i = 1; i <= as; i++) {
    const d = a.charCodeAt(ad + i) - b.charCodeAt(bd + i);
    if (d !== 0) return d;
  }
  return 0;
}
