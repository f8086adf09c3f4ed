import { describeBusConformance } from '@woodwork/bus-conformance';
import { MemoryMessageBus } from '../src/index.js';

describeBusConformance({
  name: 'memory',
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) => new MemoryMessageBus(options),
});
