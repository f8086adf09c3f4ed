/**
 * The wrapper with the global providers, as an app uses it (`instrumentBus(bus)`, no options).
 * While no SDK is registered it passes every call straight on (the fast path the `otel` bench case
 * measures); an SDK registered after `instrumentBus()` records from the next message on, and an
 * incoming `traceparent` is continued; a propagator registered without an SDK still carries a
 * message's trace context on to what its handler publishes (the API's no-op spans do that).
 */
import { context, propagation, trace, type SpanContext } from '@opentelemetry/api';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import type { MessageBus, MessageEnvelope } from '@woodwork/bus-core';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrumentBus } from '../src/index.js';
import { spanTree, startTestSdk } from './support/otel.js';

const sdk = startTestSdk();
const testTracer = sdk.tracerProvider.getTracer('test');
const open: MessageBus[] = [];

/** An instrumented memory bus with the global providers, and what crosses its "wire". */
async function makeBus(): Promise<{ bus: MessageBus; wire: MessageEnvelope[] }> {
  const inner = new MemoryMessageBus({ streamPrefix: randomName('global') });
  open.push(inner);
  const wire: MessageEnvelope[] = [];
  await inner.subscribe('*', (envelope) => void wire.push(envelope), { observe: true });
  return { bus: instrumentBus(inner), wire };
}

beforeEach(() => sdk.exporter.reset());
afterEach(async () => {
  trace.disable();
  propagation.disable();
  await Promise.all(open.splice(0).map((b) => b.close()));
});
afterAll(() => sdk.shutdown());

const upstream = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('an SDK registered after instrumentBus()', () => {
  it('nothing before it; spans, the trace context on the wire and an incoming traceparent continued after it', async () => {
    const { bus, wire } = await makeBus();
    const seen: { envelope: MessageEnvelope; active: SpanContext | undefined }[] = [];
    await bus.subscribe('job.step', (envelope) => void seen.push({ envelope, active: trace.getSpanContext(context.active()) }), { componentId: 'worker' });

    await bus.publish({ sessionId: 's', eventType: 'job.step', componentSource: 'ui', metadata: { k: 1 } });
    await waitFor(() => seen.length === 1, 'the first delivery');
    expect(wire[0]!.metadata).toEqual({ k: 1 });
    expect(seen[0]!.envelope.metadata).toEqual({ k: 1 });
    expect(seen[0]!.active).toBeUndefined();
    expect(sdk.spans()).toEqual([]);

    expect(trace.setGlobalTracerProvider(sdk.tracerProvider)).toBe(true);
    expect(propagation.setGlobalPropagator(sdk.propagator)).toBe(true);

    await testTracer.startActiveSpan('request', async (root) => {
      await bus.publish({ sessionId: 's', eventType: 'job.step', componentSource: 'ui', metadata: { k: 2 } });
      root.end();
    });
    await waitFor(() => sdk.spans().some((s) => s.name === 'process job.step'), 'the process span');
    expect(spanTree(sdk.spans())).toBe(['request', '  publish job.step', '    process job.step [1/acknowledged]'].join('\n'));
    const request = sdk.spans().find((s) => s.name === 'request')!;
    const process = sdk.spans().find((s) => s.name === 'process job.step')!;
    expect(wire[1]!.metadata['traceparent']).toMatch(new RegExp(`^00-${request.spanContext().traceId}-[0-9a-f]{16}-01$`));
    expect(seen[1]!.envelope.metadata).toEqual({ k: 2 });
    expect(seen[1]!.active?.spanId).toBe(process.spanContext().spanId);

    // A message from another process (a traceparent and no active span) continues its trace.
    sdk.exporter.reset();
    await bus.publish({ sessionId: 's', eventType: 'job.step', componentSource: 'py', metadata: { traceparent: upstream } });
    await waitFor(() => sdk.spans().some((s) => s.name === 'process job.step'), 'the forwarded message processed');
    const publish = sdk.spans().find((s) => s.name === 'publish job.step')!;
    expect(publish.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(publish.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(sdk.spans().find((s) => s.name === 'process job.step')!.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(seen[2]!.envelope.metadata).toEqual({});
  });
});

describe('a propagator registered without an SDK', () => {
  it('records nothing, and carries an incoming trace context to what the handler publishes', async () => {
    const { bus, wire } = await makeBus();
    expect(propagation.setGlobalPropagator(sdk.propagator)).toBe(true);
    const inHandler: MessageEnvelope[] = [];
    await bus.subscribe(
      'step.one',
      async (envelope) => {
        inHandler.push(envelope);
        await bus.publish({ sessionId: envelope.sessionId, eventType: 'step.two', componentSource: 'one' });
      },
      { componentId: 'one' },
    );
    await bus.publish({ sessionId: 's', eventType: 'step.one', componentSource: 'py', metadata: { traceparent: upstream } });
    await waitFor(() => wire.some((e) => e.eventType === 'step.two'), 'the second step on the wire');
    expect(inHandler[0]!.metadata).toEqual({});
    const two = wire.find((e) => e.eventType === 'step.two')!;
    // The API's no-op spans keep the context they were given: the same trace, the same parent.
    expect(two.metadata['traceparent']).toBe(upstream);
    expect(sdk.spans()).toEqual([]);
  });
});
