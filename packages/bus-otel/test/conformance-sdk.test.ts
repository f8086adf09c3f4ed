/**
 * The conformance suite through the wrapper over memory with the SDK recording every span and
 * metric: telemetry that records must not change what the bus does either. Trace context is not
 * written into the metadata here (no propagator), since the suite checks that metadata arrives as
 * it was published; tracing.test.ts covers propagation.
 */
import type { TextMapPropagator } from '@opentelemetry/api';
import { describeBusConformance } from '@woodwork/bus-conformance';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterAll, expect, it } from 'vitest';
import { instrumentBus } from '../src/index.js';
import { startTestSdk } from './support/otel.js';

const sdk = startTestSdk();
const noPropagation: TextMapPropagator = { inject: () => {}, extract: (ctx) => ctx, fields: () => [] };

describeBusConformance({
  name: 'otel over memory (SDK recording)',
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) =>
    instrumentBus(new MemoryMessageBus(options), { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, propagator: noPropagation }),
  boundedQueueOptions: (limit) => ({ maxQueueSize: limit }),
  timing: { quietMs: 50, slackMs: 3_000 },
});

it('recorded spans and metrics while the suite ran (the SDK was really on)', async () => {
  expect(sdk.spans().some((s) => s.name.startsWith('process '))).toBe(true);
  expect(sdk.spans().some((s) => s.name.startsWith('publish '))).toBe(true);
  const metrics = await sdk.metrics();
  expect(metrics.has('messaging.process.duration')).toBe(true);
});

afterAll(() => sdk.shutdown());
