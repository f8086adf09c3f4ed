/**
 * The memory backend as the fault runner sees it: no server (so no server scenarios, no second
 * process), a bounded queue standing in for trimming.
 */
import type { BusHarness } from '@woodwork/bus-conformance/harness';
import { MemoryMessageBus } from '@woodwork/bus-memory';

export const memoryHarness: BusHarness = {
  name: 'memory',
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) => new MemoryMessageBus(options),
  boundedQueueOptions: (limit) => ({ maxQueueSize: limit }),
  faultScenarios: ['poison-message', 'hot-session', 'trim-while-lagging'],
};
