/**
 * Options of the in-memory bus: the shared ones plus the design's `max_queue_size` bound and what a
 * publisher does when a queue is full.
 */
import { configChoice, configInteger, resolveBusOptions, type BusOptions, type ResolvedBusOptions } from '@woodwork/bus-core';

export interface MemoryBusOptions extends BusOptions {
  /** Messages one group (or one waiting target) holds, delivered or not; the design's `max_queue_size`. */
  maxQueueSize?: number;
  /** A publish to a full queue waits for room (up to `publishTimeoutMs`) or rejects at once with `QueueFullError`. */
  onQueueFull?: 'wait' | 'reject';
}

export interface ResolvedMemoryBusOptions extends ResolvedBusOptions {
  maxQueueSize: number;
  onQueueFull: 'wait' | 'reject';
}

export const MEMORY_OPTION_KEYS = ['maxQueueSize', 'onQueueFull'] as const;

export const DEFAULT_MAX_QUEUE_SIZE = 10_000;

export function resolveMemoryBusOptions(options: MemoryBusOptions = {}): ResolvedMemoryBusOptions {
  const shared = resolveBusOptions(options, MEMORY_OPTION_KEYS);
  return {
    ...shared,
    maxQueueSize: configInteger(options.maxQueueSize ?? DEFAULT_MAX_QUEUE_SIZE, 'maxQueueSize', 1),
    onQueueFull: configChoice(options.onQueueFull ?? 'wait', 'onQueueFull', ['wait', 'reject'] as const),
  };
}
