/**
 * The bounds on the memory bus's queues in one place: when a queue counts as full, and the
 * `QueueFullError` each bound gives, naming the queue and the option that bounds it.
 *
 * - A group's queue, or the queue of a target that has no listener yet, is full at `maxQueueSize`.
 * - A target with no queue yet counts as full while `maxTargetQueues` targets have one: without it,
 *   messages to ever-new component names would each keep a queue alive until `groupExpiryMs`.
 * - Publishes waiting for room are capped by `maxWaitingPublishes` (`waitingFullError`).
 */
import { QueueFullError, type QueueKey } from '@woodwork/bus-core';
import type { MemoryGroup } from './memory-group.js';
import type { ResolvedMemoryBusOptions } from './options.js';
import type { TargetInbox } from './target-inbox.js';

export class QueueLimits {
  constructor(
    private readonly options: ResolvedMemoryBusOptions,
    private readonly inbox: TargetInbox,
  ) {}

  isFull(queue: QueueKey): boolean {
    if (typeof queue !== 'string') return (queue as MemoryGroup).size >= this.options.maxQueueSize;
    return this.inbox.size(queue) >= this.options.maxQueueSize || this.noRoomForTarget(queue);
  }

  firstFull(queues: readonly QueueKey[]): QueueKey | undefined {
    for (const queue of queues) if (this.isFull(queue)) return queue;
    return undefined;
  }

  /** True when every target queue allowed exists, none of them this target's. */
  noRoomForTarget(target: string): boolean {
    return !this.inbox.has(target) && this.inbox.targets >= this.options.maxTargetQueues;
  }

  /** The error for a publish that found `queue` full; `detail` says why it gave up (a timeout). */
  fullError(queue: QueueKey, detail?: string): QueueFullError {
    const name = this.queueName(queue);
    if (typeof queue === 'string' && this.noRoomForTarget(queue)) {
      const why = `no queue for target ${queue}: ${this.options.maxTargetQueues} targets (maxTargetQueues) already have messages waiting for a listener`;
      return new QueueFullError(name, this.options.maxTargetQueues, detail ? `${why}; ${detail}` : why);
    }
    const why = `queue ${name} is full (limit ${this.options.maxQueueSize}, maxQueueSize)`;
    return new QueueFullError(name, this.options.maxQueueSize, detail ? `${why}; ${detail}` : why);
  }

  /** The error for a publish that would wait while `maxWaitingPublishes` publishes already do. */
  waitingFullError(waiting: number, messageId: string): QueueFullError {
    const limit = this.options.maxWaitingPublishes;
    return new QueueFullError(
      `${this.options.streamPrefix}:waiting-publishes`,
      limit,
      `${waiting} publishes already wait for room (limit ${limit}, maxWaitingPublishes): message ${messageId} rejected`,
    );
  }

  private queueName(queue: QueueKey): string {
    return typeof queue === 'string' ? `${this.options.streamPrefix}:target:${queue}` : (queue as MemoryGroup).streamName;
  }
}
