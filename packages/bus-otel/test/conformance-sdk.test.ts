/**
 * The conformance suite through the wrapper over memory with the SDK recording every span and
 * metric and the W3C propagator writing `traceparent` into every published envelope's metadata:
 * telemetry that records and propagates must not change what the bus does either. The suite's
 * exact-metadata checks hold because the wrapper hands handlers and dead-letter readers the
 * metadata as published (the trace context reaches a handler as its active context).
 */
import { describeBusConformance } from '@woodwork/bus-conformance';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterAll, expect, it } from 'vitest';
import { instrumentBus } from '../src/index.js';
import { startTestSdk } from './support/otel.js';

const sdk = startTestSdk();

describeBusConformance({
  name: 'otel over memory (SDK recording, W3C propagation)',
  features: { persistence: false, crossProcess: false, serverRestart: false },
  makeBus: (options) =>
    instrumentBus(new MemoryMessageBus(options), { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, propagator: sdk.propagator }),
  boundedQueueOptions: (limit) => ({ maxQueueSize: limit }),
  timing: { quietMs: 50, slackMs: 3_000 },
});

it('recorded spans and metrics while the suite ran, and propagated the context (the SDK was really on)', async () => {
  const spans = sdk.spans();
  const publishIds = new Set(spans.filter((s) => s.name.startsWith('publish ')).map((s) => s.spanContext().spanId));
  const processSpans = spans.filter((s) => s.name.startsWith('process '));
  expect(publishIds.size).toBeGreaterThan(0);
  expect(processSpans.length).toBeGreaterThan(0);
  // A process span whose parent is a publish span got that parent from `traceparent` in the metadata.
  const continued = processSpans.filter((s) => s.parentSpanContext !== undefined && publishIds.has(s.parentSpanContext.spanId));
  expect(continued.length).toBeGreaterThan(processSpans.length / 2);
  const metrics = await sdk.metrics();
  expect(metrics.has('messaging.process.duration')).toBe(true);
});

afterAll(() => sdk.shutdown());
