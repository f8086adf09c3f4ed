/**
 * Messages sent to a component that has no matching group yet. A target's queue exists from the
 * first message sent to it (bounded by `maxQueueSize`), so a listener that registers later still
 * gets everything waiting, in order.
 */
import { Deque, groupReceives, type GroupSpec, type MessageEnvelope } from '@woodwork/bus-core';

export interface WaitingMessage {
  readonly envelope: MessageEnvelope;
  readonly seq: number;
}

export class TargetInbox {
  private readonly byTarget = new Map<string, Deque<WaitingMessage>>();

  size(target: string): number {
    return this.byTarget.get(target)?.length ?? 0;
  }

  get total(): number {
    let n = 0;
    for (const queue of this.byTarget.values()) n += queue.length;
    return n;
  }

  push(target: string, message: WaitingMessage): void {
    let queue = this.byTarget.get(target);
    if (!queue) {
      queue = new Deque<WaitingMessage>();
      this.byTarget.set(target, queue);
    }
    queue.push(message);
  }

  /** Removes and returns, in order, the waiting messages the new group receives. */
  takeFor(spec: GroupSpec): WaitingMessage[] {
    if (spec.componentId === null) return [];
    const queue = this.byTarget.get(spec.componentId);
    if (!queue) return [];
    const taken = queue.retain((m) => !groupReceives(spec, m.envelope));
    if (queue.length === 0) this.byTarget.delete(spec.componentId);
    return taken;
  }

  removeSession(sessionId: string): number {
    let removed = 0;
    for (const [target, queue] of this.byTarget) {
      removed += queue.retain((m) => m.envelope.sessionId !== sessionId).length;
      if (queue.length === 0) this.byTarget.delete(target);
    }
    return removed;
  }

  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [target, queue] of this.byTarget) out[target] = queue.length;
    return out;
  }

  clear(): void {
    this.byTarget.clear();
  }
}
