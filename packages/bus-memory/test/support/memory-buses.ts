/**
 * Memory buses for a test file, each closed after its test: `const makeBus = busesClosedAfterEach(defaults)`
 * registers the afterEach, and `makeBus(options)` opens a bus with `options` over `defaults`.
 */
import { afterEach } from 'vitest';
import { createMessageBus, type MemoryBusOptions, type MemoryMessageBus } from '../../src/index.js';

export function busesClosedAfterEach(defaults: MemoryBusOptions = {}): (options?: MemoryBusOptions) => MemoryMessageBus {
  const open: MemoryMessageBus[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((b) => b.close()));
  });
  return (options = {}) => {
    const bus = createMessageBus({ ...defaults, ...options });
    open.push(bus);
    return bus;
  };
}
