import { MemoryMessageBus } from './memory-bus.js';
import type { MemoryBusOptions } from './options.js';

export { MemoryMessageBus } from './memory-bus.js';
export {
  MEMORY_OPTION_KEYS,
  MEMORY_OPTIONS,
  DEFAULT_MAX_QUEUE_SIZE,
  DEFAULT_MAX_WAITING_PUBLISHES,
  DEFAULT_MAX_TARGET_QUEUES,
  DEFAULT_MAX_DEDUPE_IDS,
  type MemoryBusOptions, type ResolvedMemoryBusOptions } from './options.js';

/** The factory every backend package exports under this name; the adapter loads backends by it. */
export function createMessageBus(options?: MemoryBusOptions): MemoryMessageBus {
  return new MemoryMessageBus(options);
}
