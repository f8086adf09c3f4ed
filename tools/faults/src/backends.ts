/**
 * The backends the fault runner knows, each loaded only when asked for (an app with one backend
 * never loads another's driver). The Redis and NATS backends add their entry here: a loader that
 * returns their `BusHarness` with `ownServer()` and their `faultScenarios`.
 */
import type { BusHarness } from '@woodwork/bus-conformance/harness';

export const BACKENDS: Record<string, () => Promise<BusHarness>> = {
  memory: async () => (await import('./backends/memory.js')).memoryHarness,
  nats: async () => (await import('./backends/nats.js')).natsHarness,
  redis: async () => (await import('./backends/redis.js')).redisHarness,
};
