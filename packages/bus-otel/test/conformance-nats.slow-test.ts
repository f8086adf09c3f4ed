/**
 * The whole conformance suite through the wrapper over NATS JetStream, every feature on (the same
 * harness as packages/bus-nats/test/conformance.test.ts, each bus wrapped by `instrumentBus`, child
 * processes included), with the SDK recording and the W3C propagator writing `traceparent` into
 * every envelope (the children register the same: support/child-sdk.mjs): the wrapped bus must
 * behave exactly as the bus.
 */
import { fileURLToPath } from 'node:url';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { NatsMessageBus } from '@woodwork/bus-nats';
import { ownServerControls, sharedNatsUrl } from '../../bus-nats/test/support/nats-server.js';
import { afterAll, expect, it } from 'vitest';
import { instrumentBus } from '../src/index.js';
import { startTestSdk } from './support/otel.js';

const sdk = startTestSdk();
const telemetry = { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, propagator: sdk.propagator };

const sharedUrl = await sharedNatsUrl();
process.env['WW_NATS_TEST_URL'] = sharedUrl;

describeBusConformance({
  name: 'otel over nats',
  features: { persistence: true, crossProcess: true, serverRestart: true },
  makeBus: async (options) => instrumentBus(await NatsMessageBus.connect({ url: sharedUrl, ...options }), telemetry),
  ownServer: ownServerControls,
  childBusModule: fileURLToPath(new URL('./support/child-bus-nats.mjs', import.meta.url)),
  fastRecoveryOptions: { ackWaitMs: 1_500, leaseMs: 4_000 },
  recoveryIdleMs: 1_500,
  timing: { quietMs: 200 },
});

it('recorded spans and continued the trace from the metadata while the suite ran', () => {
  const spans = sdk.spans();
  const publishIds = new Set(spans.filter((s) => s.name.startsWith('publish ')).map((s) => s.spanContext().spanId));
  const continued = spans.filter((s) => s.name.startsWith('process ') && s.parentSpanContext !== undefined && publishIds.has(s.parentSpanContext.spanId));
  expect(continued.length).toBeGreaterThan(0);
});

afterAll(() => sdk.shutdown());
