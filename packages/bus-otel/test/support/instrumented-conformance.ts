/**
 * The whole conformance suite through `instrumentBus` over a server backend, every feature on, with
 * the SDK recording and the W3C propagator writing `traceparent` into every envelope (child
 * processes register the same: child-sdk.mjs), then a check that spans were recorded and the trace
 * was continued from the metadata: the wrapped bus must behave exactly as the bus.
 */
import { describeBusConformance, type BusHarness } from '@woodwork/bus-conformance';
import type { MessageBus } from '@woodwork/bus-core';
import { afterAll, expect, it } from 'vitest';
import { instrumentBus } from '../../src/index.js';
import { startTestSdk } from './otel.js';

export type InstrumentedHarness = Omit<BusHarness, 'makeBus' | 'features'> & {
  /** The bare backend's bus; the suite gets it wrapped. */
  connect(options: Record<string, unknown>): Promise<MessageBus>;
};

export function describeInstrumentedConformance(harness: InstrumentedHarness): void {
  const sdk = startTestSdk();
  const telemetry = { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, propagator: sdk.propagator };
  const { connect, ...rest } = harness;
  describeBusConformance({
    ...rest,
    features: { persistence: true, crossProcess: true, serverRestart: true },
    makeBus: async (options) => instrumentBus(await connect(options), telemetry),
  });

  it('recorded spans and continued the trace from the metadata while the suite ran', () => {
    const spans = sdk.spans();
    const publishIds = new Set(spans.filter((s) => s.name.startsWith('publish ')).map((s) => s.spanContext().spanId));
    const continued = spans.filter((s) => s.name.startsWith('process ') && s.parentSpanContext !== undefined && publishIds.has(s.parentSpanContext.spanId));
    expect(continued.length).toBeGreaterThan(0);
  });

  afterAll(() => sdk.shutdown());
}
