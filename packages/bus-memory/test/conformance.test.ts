import { describeBusConformance } from '@woodwork/bus-conformance';
import { MemoryMessageBus } from '../src/index.js';

describeBusConformance({
  name: 'memory',
  // No server, no second process: a bus is its own world, gone with its process.
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) => new MemoryMessageBus(options),
  boundedQueueOptions: (limit) => ({ maxQueueSize: limit }),
  // Deliveries are in-process; a short quiet period after the sentinel is enough.
  timing: { quietMs: 50, slackMs: 1_000 },
  faultScenarios: ['poison-message', 'hot-session', 'trim-while-lagging'],
});
