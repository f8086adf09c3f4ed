/**
 * Options of the in-memory bus: the shared ones plus the design's `max_queue_size` bound, what a
 * publisher does when a queue is full, and the caps that keep everything else the bus holds bounded
 * (publishes waiting for room, queues of targets with no listener, remembered dedupe ids).
 */
import { configChoice, configInteger, resolveBusOptions, type BusOptions, type ResolvedBusOptions } from '@woodwork/bus-core';

export interface MemoryBusOptions extends BusOptions {
  /** Messages one group (or one waiting target) holds, delivered or not; the design's `max_queue_size`. */
  maxQueueSize?: number;
  /** A publish to a full queue waits for room (up to `publishTimeoutMs`) or rejects at once with `QueueFullError`. */
  onQueueFull?: 'wait' | 'reject';
  /**
   * Publishes waiting for room at once (`onQueueFull: 'wait'`), over every queue. Past it a publish
   * that would wait rejects at once with `QueueFullError`: un-awaited publishes cannot pile up.
   */
  maxWaitingPublishes?: number;
  /**
   * Targets with a queue of their own (messages sent to a component that has no listener yet). A
   * message to one more target is handled like a publish to a full queue (`onQueueFull`).
   */
  maxTargetQueues?: number;
  /**
   * `exactly_once` ids remembered within `dedupeWindowMs`, by the bus (published ids) and by each
   * group (acknowledged ids). Past it the oldest are forgotten early (counted in health).
   */
  maxDedupeIds?: number;
}

export interface ResolvedMemoryBusOptions extends ResolvedBusOptions {
  maxQueueSize: number;
  onQueueFull: 'wait' | 'reject';
  maxWaitingPublishes: number;
  maxTargetQueues: number;
  maxDedupeIds: number;
}

export const MEMORY_OPTION_KEYS = ['maxQueueSize', 'onQueueFull', 'maxWaitingPublishes', 'maxTargetQueues', 'maxDedupeIds'] as const;

export const DEFAULT_MAX_QUEUE_SIZE = 10_000;
export const DEFAULT_MAX_WAITING_PUBLISHES = 10_000;
export const DEFAULT_MAX_TARGET_QUEUES = 1_000;
export const DEFAULT_MAX_DEDUPE_IDS = 100_000;

export function resolveMemoryBusOptions(options: MemoryBusOptions = {}): ResolvedMemoryBusOptions {
  const shared = resolveBusOptions(options, MEMORY_OPTION_KEYS);
  return {
    ...shared,
    maxQueueSize: configInteger(options.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE, 'maxQueueSize', 1),
    onQueueFull: configChoice(options.onQueueFull ?? 'wait', 'onQueueFull', ['wait', 'reject'] as const),
    maxWaitingPublishes: configInteger(options.maxWaitingPublishes ?? DEFAULT_MAX_WAITING_PUBLISHES, 'maxWaitingPublishes', 0),
    maxTargetQueues: configInteger(options.maxTargetQueues ?? DEFAULT_MAX_TARGET_QUEUES, 'maxTargetQueues', 0),
    maxDedupeIds: configInteger(options.maxDedupeIds ?? DEFAULT_MAX_DEDUPE_IDS, 'maxDedupeIds', 1),
  };
}
