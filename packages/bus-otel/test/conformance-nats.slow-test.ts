/**
 * The whole conformance suite through the wrapper over NATS JetStream, every feature on (the same
 * harness as packages/bus-nats/test/conformance.test.ts, each bus wrapped by `instrumentBus`, child
 * processes included, the SDK recording and propagating: support/instrumented-conformance.ts).
 */
import { fileURLToPath } from 'node:url';
import { NatsMessageBus } from '@woodwork/bus-nats';
import { ownServerControls, sharedNatsUrl } from '../../bus-nats/test/support/nats-server.js';
import { describeInstrumentedConformance } from './support/instrumented-conformance.js';

const sharedUrl = await sharedNatsUrl();
process.env['WW_NATS_TEST_URL'] = sharedUrl;

describeInstrumentedConformance({
  name: 'otel over nats',
  connect: (options) => NatsMessageBus.connect({ url: sharedUrl, ...options }),
  ownServer: ownServerControls,
  childBusModule: fileURLToPath(new URL('./support/child-bus-nats.mjs', import.meta.url)),
  fastRecoveryOptions: { ackWaitMs: 1_500, leaseMs: 4_000 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
});
