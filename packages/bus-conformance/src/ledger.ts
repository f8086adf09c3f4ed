/**
 * The ledger of one run, shared by the conformance suites and the fault runner (tools/faults): every
 * publish attempted (acknowledged or rejected) in order, every delivery with the group that got it.
 * `check()` says what was lost, what arrived unasked, how many deliveries were duplicates and which
 * group/session pairs broke publish order. It imports no test framework, so a plain node process
 * (the fault runner) can use it.
 */
import type { MessageBus, MessageEnvelope } from '@woodwork/bus-core';

export interface LedgerReport {
  /** Acknowledged publishes some expected group never got (`group/messageId`, or the id alone). */
  missing: string[];
  /** Of `missing`, those the caller says the server itself lost (a wipe, an fsync window). */
  serverLost: string[];
  /** Delivered ids nobody published (neither acknowledged nor rejected). */
  unexpected: string[];
  /** Deliveries beyond the first of a message within a group. */
  duplicates: number;
  /** `group/session` pairs whose first deliveries do not follow publish order. */
  outOfOrder: string[];
  /**
   * Publishes that rejected but were stored and delivered anyway (allowed: a deadline can pass
   * after the server stored the message). They count neither as unexpected nor in the order check,
   * since the caller cannot know where the store put them.
   */
  rejectedButStored: string[];
}

interface Delivery {
  readonly envelope: MessageEnvelope;
  readonly group: string;
}

export class Ledger {
  /** Acknowledged publishes, in the order they were acknowledged. */
  readonly published: MessageEnvelope[] = [];
  /** Publishes that rejected. */
  readonly rejected: MessageEnvelope[] = [];
  /** Every delivery's envelope, in arrival order. */
  readonly delivered: MessageEnvelope[] = [];
  private readonly deliveries: Delivery[] = [];
  /** Every publish attempted, in the order it was started. */
  private readonly attempted: MessageEnvelope[] = [];

  /** Publishes and records the outcome; a rejection is recorded and rethrown. */
  async publish(bus: MessageBus, envelope: MessageEnvelope): Promise<void> {
    this.attempted.push(envelope);
    try {
      await bus.publish(envelope);
    } catch (error) {
      this.rejected.push(envelope);
      throw error;
    }
    this.published.push(envelope);
  }

  /** Records a publish made elsewhere (another process) with its outcome. */
  note(envelope: MessageEnvelope, acknowledged: boolean): void {
    this.attempted.push(envelope);
    (acknowledged ? this.published : this.rejected).push(envelope);
  }

  /** Records one delivery; `group` tells several groups (or instances of one check) apart. */
  record(envelope: MessageEnvelope, group = ''): void {
    this.delivered.push(envelope);
    this.deliveries.push({ envelope, group });
  }

  /** Distinct messages delivered (to any group). */
  get distinctDelivered(): number {
    return new Set(this.delivered.map((e) => e.messageId)).size;
  }

  /** Distinct messages `group` got. */
  distinctIn(group: string): number {
    return new Set(this.deliveries.filter((d) => d.group === group).map((d) => d.envelope.messageId)).size;
  }

  /** Acknowledged publishes every group in `groups` (default: every group recorded) has received. */
  allDelivered(groups?: readonly string[]): boolean {
    return this.check({ groups }).missing.length === 0;
  }

  check(options: { groups?: readonly string[]; serverLost?: ReadonlySet<string> } = {}): LedgerReport {
    const recordedGroups = [...new Set(this.deliveries.map((d) => d.group))];
    const groups = options.groups ?? (recordedGroups.length > 0 ? recordedGroups : ['']);
    const acknowledged = new Set(this.published.map((e) => e.messageId));
    const rejected = new Set(this.rejected.map((e) => e.messageId));
    const attemptOrder = new Map<string, number>();
    this.attempted.forEach((e, i) => attemptOrder.set(e.messageId, i));

    const unexpected: string[] = [];
    const rejectedButStored = new Set<string>();
    let duplicates = 0;
    const seen = new Map<string, Set<string>>();
    const firstOrder = new Map<string, string[]>();
    for (const { envelope, group } of this.deliveries) {
      const id = envelope.messageId;
      if (!acknowledged.has(id)) {
        if (rejected.has(id)) rejectedButStored.add(id);
        else unexpected.push(id);
      }
      let ids = seen.get(group);
      if (!ids) seen.set(group, (ids = new Set()));
      if (ids.has(id)) {
        duplicates++;
        continue;
      }
      ids.add(id);
      if (!acknowledged.has(id)) continue;
      const key = `${group}/${envelope.sessionId}`;
      const list = firstOrder.get(key) ?? [];
      list.push(id);
      firstOrder.set(key, list);
    }

    const missing: string[] = [];
    const serverLost: string[] = [];
    for (const group of groups) {
      const got = seen.get(group) ?? new Set<string>();
      for (const e of this.published) {
        if (got.has(e.messageId)) continue;
        const name = group === '' ? e.messageId : `${group}/${e.messageId}`;
        if (options.serverLost?.has(e.messageId)) serverLost.push(name);
        else missing.push(name);
      }
    }

    const outOfOrder: string[] = [];
    for (const [key, order] of firstOrder) {
      const expected = [...order].sort((a, b) => (attemptOrder.get(a) ?? 0) - (attemptOrder.get(b) ?? 0));
      if (expected.join() !== order.join()) outOfOrder.push(key);
    }
    return { missing, serverLost, unexpected, duplicates, outOfOrder, rejectedButStored: [...rejectedButStored] };
  }
}
