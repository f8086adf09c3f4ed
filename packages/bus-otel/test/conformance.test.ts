/**
 * The conformance suite through the wrapper over memory, with no OpenTelemetry SDK registered: the
 * wrapped bus must behave exactly as the bus it wraps (with telemetry going to the API's no-ops).
 */
import { describeBusConformance } from '@woodwork/bus-conformance';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { instrumentBus } from '../src/index.js';

describeBusConformance({
  name: 'otel over memory (no SDK)',
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) => instrumentBus(new MemoryMessageBus(options)),
  boundedQueueOptions: (limit) => ({ maxQueueSize: limit }),
  timing: { quietMs: 50, slackMs: 3_000 },
});
