import { describeBusConformance } from '@woodwork/bus-conformance';
import { MemoryMessageBus } from '../src/index.js';

describeBusConformance({
  name: 'memory',
  // No server, no second process: a bus is its own world, gone with its process.
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) => new MemoryMessageBus(options),
  boundedQueueOptions: (limit) => ({ maxQueueSize: limit }),
  // Deliveries are in-process; a short quiet period after the sentinel is enough. The slack on upper
  // timing bounds is for a machine shared by many test runs (tools/stress.mjs): still far below what
  // a close that waits for a one-minute retry, or a timer that never fires, would take.
  timing: { quietMs: 50, slackMs: 3_000 },
  faultScenarios: ['poison-message', 'hot-session', 'trim-while-lagging'],
});
