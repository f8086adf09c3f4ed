/**
 * What routing and session deletion need, indexed so their cost follows the work, not the number of
 * sessions, groups or event types (issue 11):
 *
 * - by event pattern (`*` included), then by bound session (or none: a shared group), then by what
 *   the message is: observers take everything there, an untargeted message goes to the groups that
 *   take broadcasts, a targeted one to the groups of its target. A publish looks at four cells and
 *   visits only the groups it reaches (each still checked by core's `groupReceives`), plus at most
 *   `SMALL_CELL` others in a small cell: a cell of a few groups (a session's own components) is a
 *   plain list, a few dozen bytes instead of four hash tables, and a session's cell of one group
 *   is that group itself, so an idle session stays cheap.
 * - by session: the groups bound to it, and its publications with an unfinished delivery (each
 *   lists its deliveries, so the groups still holding one are found), so `deleteSessionQueue` visits
 *   what the session has. A publication enters when its first delivery is queued and leaves when its
 *   last finishes: a fan-out updates this once per publish, never per delivery.
 *
 * `visits` counts the groups looked at (routing and session lookups): tests pin the complexity with
 * it, not with time.
 */
import { groupReceives, isTargeted, type GroupSpec, type MessageEnvelope } from '@woodwork/bus-core';

/** A publication as the index sees it: its session, and its deliveries, each with its group and whether it is unfinished. */
export interface HeldPublication<G> {
  readonly sessionId: string;
  readonly deliveries: ReadonlyArray<{ readonly group: G; readonly held: boolean }>;
}

/** Up to this many groups a cell is a list, visited whole. */
const SMALL_CELL = 4;

interface Cell<G> {
  /** Its groups while there are at most `SMALL_CELL`; undefined once indexed. */
  small: G[] | undefined;
  /** Observers: every message of the pattern (and session) reaches them. */
  observers?: Set<G>;
  /** Groups that take untargeted messages. */
  broadcast?: Set<G>;
  /** Non-observer groups by their component id, for targeted messages. */
  byComponent?: Map<string, Set<G>>;
}

interface PatternEntry<G> {
  readonly shared: Cell<G>;
  /** A session's cell, or its one group (most sessions have one component per event). */
  readonly bySession: Map<string, Cell<G> | G>;
}

const newCell = <G>(): Cell<G> => ({ small: [] });

/** A session's entry that is a group, not a cell (a group has a spec, a cell has none). */
const isGroup = <G extends { readonly spec: GroupSpec }>(entry: Cell<G> | G): entry is G => (entry as G).spec !== undefined;

export class RouteIndex<G extends { readonly spec: GroupSpec }, P extends HeldPublication<G> = HeldPublication<G>> {
  /** Groups looked at so far (a count for tests, never reset). */
  visits = 0;
  private readonly byPattern = new Map<string, PatternEntry<G>>();
  /** A session's own groups: the group, or a list (few per session; removal costs what the session has). */
  private readonly boundBySession = new Map<string, G | G[]>();
  /** A session's publications with an unfinished delivery: the one, or a set (most sessions have one at a time). */
  private readonly pendingBySession = new Map<string, P | Set<P>>();

  add(group: G): void {
    const { spec } = group;
    let entry = this.byPattern.get(spec.eventPattern);
    if (!entry) this.byPattern.set(spec.eventPattern, (entry = { shared: newCell(), bySession: new Map() }));
    const sessionId = spec.sessionId;
    if (sessionId !== null) {
      const bound = this.boundBySession.get(sessionId);
      if (bound === undefined) this.boundBySession.set(sessionId, group);
      else if (Array.isArray(bound)) bound.push(group);
      else this.boundBySession.set(sessionId, [bound, group]);
    }
    if (sessionId !== null) this.addToSession(entry, sessionId, group);
    else this.addToCell(entry.shared, group);
  }

  private addToSession(entry: PatternEntry<G>, sessionId: string, group: G): void {
    const own = entry.bySession.get(sessionId);
    if (own === undefined) entry.bySession.set(sessionId, group);
    else if (!isGroup(own)) this.addToCell(own, group);
    else {
      // A second group of the session on this pattern: a cell of both.
      const cell: Cell<G> = { small: [own] };
      entry.bySession.set(sessionId, cell);
      this.addToCell(cell, group);
    }
  }

  private addToCell(cell: Cell<G>, group: G): void {
    // A new list of exactly one (a push would reserve room for 17).
    if (cell.small && cell.small.length === 0) cell.small = [group];
    else if (cell.small && cell.small.length < SMALL_CELL) cell.small.push(group);
    else if (cell.small) {
      const groups = [...cell.small, group];
      cell.small = undefined;
      for (const g of groups) this.index(cell, g);
    } else this.index(cell, group);
  }

  private index(cell: Cell<G>, group: G): void {
    const { spec } = group;
    if (spec.observer) {
      (cell.observers ??= new Set()).add(group);
    } else {
      if (!spec.targetedOnly) (cell.broadcast ??= new Set()).add(group);
      if (spec.componentId !== null) addTo((cell.byComponent ??= new Map()), spec.componentId, group);
    }
  }

  /** Takes the group out of the routing indexes (its deliveries, finished or dropped, leave on their own). */
  remove(group: G): void {
    const { spec } = group;
    const entry = this.byPattern.get(spec.eventPattern);
    const sessionId = spec.sessionId;
    if (entry) {
      const own = sessionId === null ? entry.shared : entry.bySession.get(sessionId);
      if (own !== undefined && isGroup(own)) {
        if (own === group) entry.bySession.delete(sessionId as string);
      } else if (own !== undefined) {
        removeFromCell(own, group);
        if (sessionId !== null && cellIsEmpty(own)) entry.bySession.delete(sessionId);
      }
      if (cellIsEmpty(entry.shared) && entry.bySession.size === 0) this.byPattern.delete(spec.eventPattern);
    }
    const bound = sessionId === null ? undefined : this.boundBySession.get(sessionId);
    if (bound === group) this.boundBySession.delete(sessionId as string);
    else if (Array.isArray(bound)) {
      const at = bound.indexOf(group);
      if (at >= 0) bound.splice(at, 1);
      if (bound.length === 1) this.boundBySession.set(sessionId as string, bound[0] as G);
    }
  }

  /** Appends to `out` the groups the message routes to. */
  collect(envelope: MessageEnvelope, out: G[]): G[] {
    if (envelope.eventType !== '*') this.collectPattern(this.byPattern.get(envelope.eventType), envelope, out);
    this.collectPattern(this.byPattern.get('*'), envelope, out);
    return out;
  }

  /** The publication has its first unfinished delivery (it stays listed until its last finishes). */
  held(publication: P): void {
    const { sessionId } = publication;
    const pending = this.pendingBySession.get(sessionId);
    if (pending === undefined) this.pendingBySession.set(sessionId, publication);
    else if (pending instanceof Set) pending.add(publication);
    else this.pendingBySession.set(sessionId, new Set([pending, publication]));
  }

  released(publication: P): void {
    const { sessionId } = publication;
    const pending = this.pendingBySession.get(sessionId);
    if (pending === publication) this.pendingBySession.delete(sessionId);
    else if (pending instanceof Set && pending.delete(publication) && pending.size === 0) this.pendingBySession.delete(sessionId);
  }

  /** The groups bound to the session or holding an unfinished delivery of it, each once (a fresh array). */
  groupsOfSession(sessionId: string): G[] {
    const out: G[] = [];
    const bound = this.boundBySession.get(sessionId);
    if (Array.isArray(bound)) for (const group of bound) out.push(group);
    else if (bound !== undefined) out.push(bound);
    const pending = this.pendingBySession.get(sessionId);
    if (pending !== undefined) {
      const seen = new Set<G>(out);
      const addHolders = (publication: P): void => {
        for (const delivery of publication.deliveries) {
          if (!delivery.held || seen.has(delivery.group)) continue;
          seen.add(delivery.group);
          out.push(delivery.group);
        }
      };
      if (pending instanceof Set) for (const publication of pending) addHolders(publication);
      else addHolders(pending);
    }
    this.visits += out.length;
    return out;
  }

  /** Sessions with an entry (bound groups or unfinished publications): to check nothing is left behind. */
  get sessions(): number {
    let n = this.boundBySession.size;
    for (const sessionId of this.pendingBySession.keys()) if (!this.boundBySession.has(sessionId)) n++;
    return n;
  }

  clear(): void {
    this.byPattern.clear();
    this.boundBySession.clear();
    this.pendingBySession.clear();
  }

  private collectPattern(entry: PatternEntry<G> | undefined, envelope: MessageEnvelope, out: G[]): void {
    if (!entry) return;
    this.collectCell(entry.shared, envelope, out);
    const own = entry.bySession.get(envelope.sessionId);
    if (own === undefined) return;
    if (isGroup(own)) this.visit(own, envelope, out);
    else this.collectCell(own, envelope, out);
  }

  private collectCell(cell: Cell<G>, envelope: MessageEnvelope, out: G[]): void {
    if (cell.small) {
      for (const group of cell.small) this.visit(group, envelope, out);
      return;
    }
    if (cell.observers) for (const group of cell.observers) this.visit(group, envelope, out);
    const candidates = isTargeted(envelope) ? cell.byComponent?.get(envelope.componentTarget as string) : cell.broadcast;
    if (candidates) for (const group of candidates) this.visit(group, envelope, out);
  }

  private visit(group: G, envelope: MessageEnvelope, out: G[]): void {
    this.visits++;
    if (groupReceives(group.spec, envelope)) out.push(group);
  }
}

function addTo<K, G>(map: Map<K, Set<G>>, key: K, group: G): void {
  const set = map.get(key);
  if (set) set.add(group);
  else map.set(key, new Set([group]));
}

function removeFrom<K, G>(map: Map<K, Set<G>>, key: K, group: G): void {
  const set = map.get(key);
  if (!set?.delete(group)) return;
  if (set.size === 0) map.delete(key);
}

function removeFromCell<G extends { readonly spec: GroupSpec }>(cell: Cell<G>, group: G): void {
  if (cell.small) {
    const at = cell.small.indexOf(group);
    if (at >= 0) cell.small.splice(at, 1);
    return;
  }
  cell.observers?.delete(group);
  cell.broadcast?.delete(group);
  const componentId = group.spec.componentId;
  if (componentId !== null && cell.byComponent) removeFrom(cell.byComponent, componentId, group);
}

function cellIsEmpty(cell: Cell<unknown>): boolean {
  if (cell.small) return cell.small.length === 0;
  return (cell.observers?.size ?? 0) === 0 && (cell.broadcast?.size ?? 0) === 0 && (cell.byComponent?.size ?? 0) === 0;
}
