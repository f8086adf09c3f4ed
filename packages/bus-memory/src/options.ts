/**
 * Options of the in-memory bus: the shared ones plus the design's `max_queue_size` bound, what a
 * publisher does when a queue is full, and the caps that keep everything else the bus holds bounded
 * (publishes waiting for room, queues of targets with no listener, remembered dedupe ids).
 */
import {
  BUS_OPTION_KEYS,
  checkOptionTable,
  choiceOption,
  integerOption,
  optionDefaults,
  resolveBusOptions,
  type BusOptions,
  type OptionSpec,
  type ResolvedBusOptions,
} from '@woodwork/bus-core';

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

export const DEFAULT_MAX_QUEUE_SIZE = 10_000;
export const DEFAULT_MAX_WAITING_PUBLISHES = 10_000;
export const DEFAULT_MAX_TARGET_QUEUES = 1_000;
export const DEFAULT_MAX_DEDUPE_IDS = 100_000;

/**
 * The memory bus's own options, with core's builders (the adapter's `BACKEND_OPTIONS.memory`
 * lists the same keys for config files). Read as the options object's own keys only.
 */
export const MEMORY_OPTIONS: readonly OptionSpec[] = Object.freeze([
  integerOption({ key: 'max_queue_size', option: 'maxQueueSize', min: 1, default: DEFAULT_MAX_QUEUE_SIZE, doc: 'messages one group or waiting target holds' }),
  choiceOption({ key: 'on_queue_full', option: 'onQueueFull', choices: ['wait', 'reject'], default: 'wait', doc: 'what a publish into a full queue does' }),
  integerOption({ key: 'max_waiting_publishes', option: 'maxWaitingPublishes', min: 0, default: DEFAULT_MAX_WAITING_PUBLISHES, doc: 'publishes waiting for room at once; past it QueueFullError at once' }),
  integerOption({ key: 'max_target_queues', option: 'maxTargetQueues', min: 0, default: DEFAULT_MAX_TARGET_QUEUES, doc: 'targets with messages waiting for their first listener' }),
  integerOption({ key: 'max_dedupe_ids', option: 'maxDedupeIds', min: 1, default: DEFAULT_MAX_DEDUPE_IDS, doc: 'exactly_once ids remembered by the bus and by each group' }),
]);

export const MEMORY_OPTION_KEYS = MEMORY_OPTIONS.map((spec) => spec.option);

export function resolveMemoryBusOptions(options: MemoryBusOptions = {}): ResolvedMemoryBusOptions {
  const shared = resolveBusOptions(options, MEMORY_OPTION_KEYS);
  const own = checkOptionTable(options, MEMORY_OPTIONS, { naming: 'option', extraKeys: BUS_OPTION_KEYS });
  return { ...shared, ...(optionDefaults(MEMORY_OPTIONS) as MemoryOwnOptions), ...(own as Partial<MemoryOwnOptions>) };
}

type MemoryOwnOptions = Omit<ResolvedMemoryBusOptions, keyof ResolvedBusOptions>;
