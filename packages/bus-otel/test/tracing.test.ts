/**
 * Spans over memory, with the SDK's in-memory exporter: a publish and its handling in one trace (the
 * handler's own spans under the attempt), the W3C context in the metadata, attributes by the
 * messaging conventions, retries, a dead letter and a redrive on the trace, refused publishes, and
 * nothing at all when instrumentation is off.
 */
import { SpanKind, SpanStatusCode, context, defaultTextMapSetter, propagation, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { FAST_RETRY, randomName, waitFor } from '@woodwork/bus-conformance';
import { InvalidConfigError, InvalidMessageError, UnrecoverableError, type MessageBus, type MessageEnvelope } from '@woodwork/bus-core';
import { MemoryMessageBus } from '@woodwork/bus-memory';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { instrumentBus, type InstrumentBusOptions } from '../src/index.js';
import { spanTree, startTestSdk } from './support/otel.js';

const sdk = startTestSdk();
const testTracer = sdk.tracerProvider.getTracer('test');
const open: MessageBus[] = [];
/** The memory bus under each wrapper: what is on the "wire", trace context included. */
const innerOf = new WeakMap<MessageBus, MessageBus>();

function makeBus(extra: InstrumentBusOptions = {}): MessageBus {
  const inner = new MemoryMessageBus({ streamPrefix: randomName('otel'), retry: FAST_RETRY });
  const bus = instrumentBus(inner, {
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
    propagator: sdk.propagator,
    ...extra,
  });
  innerOf.set(bus, inner);
  open.push(bus);
  return bus;
}

const byName = (name: string): ReadableSpan[] => sdk.spans().filter((s) => s.name === name);
const idOf = (span: ReadableSpan | undefined): string | undefined => span?.spanContext().spanId;

beforeEach(() => sdk.exporter.reset());
afterEach(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});
afterAll(() => sdk.shutdown());

describe('a publish and its handling', () => {
  it('are one trace: request -> publish (PRODUCER) -> process (CONSUMER) -> the handler own span', async () => {
    const bus = makeBus();
    const received: MessageEnvelope[] = [];
    const activeInHandler: Record<string, string>[] = [];
    const onWire: MessageEnvelope[] = [];
    await innerOf.get(bus)!.subscribe('agent.thought', (envelope) => void onWire.push(envelope), { observe: true });
    await bus.subscribe(
      'agent.thought',
      async (envelope) => {
        received.push(envelope);
        const carrier: Record<string, string> = {};
        sdk.propagator.inject(context.active(), carrier, defaultTextMapSetter);
        activeInHandler.push(carrier);
        await testTracer.startActiveSpan('call model', async (span) => {
          await new Promise((r) => setTimeout(r, 5));
          span.end();
        });
      },
      { componentId: 'planner' },
    );
    const metadata = { user: 'u1' };
    await testTracer.startActiveSpan('request', async (root) => {
      await bus.publish({ sessionId: 's1', eventType: 'agent.thought', componentSource: 'ui', componentTarget: 'planner', payload: { text: 'hi' }, metadata });
      root.end();
    });
    await waitFor(() => byName('call model').length === 1, 'the handler span');

    const [request] = byName('request');
    const [publish] = byName('publish agent.thought');
    const [process] = byName('process agent.thought');
    const [work] = byName('call model');
    const traceId = request!.spanContext().traceId;
    for (const span of [publish, process, work]) expect(span?.spanContext().traceId).toBe(traceId);
    expect(publish!.kind).toBe(SpanKind.PRODUCER);
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(publish!.parentSpanContext?.spanId).toBe(idOf(request));
    expect(process!.parentSpanContext?.spanId).toBe(idOf(publish));
    expect(work!.parentSpanContext?.spanId).toBe(idOf(process));
    expect(spanTree(sdk.spans())).toBe(['request', '  publish agent.thought', '    process agent.thought [1/acknowledged]', '      call model'].join('\n'));

    // W3C trace context in the metadata on the wire, as a Python process reads it; the caller's
    // object unchanged; the handler sees the metadata as published, the context as the active one.
    await waitFor(() => onWire.length === 1, 'the observer on the inner bus');
    expect(onWire[0]!.metadata).toEqual({ user: 'u1', traceparent: `00-${traceId}-${idOf(publish)}-01` });
    expect(metadata).toEqual({ user: 'u1' });
    expect(received[0]!.metadata).toEqual({ user: 'u1' });
    expect(activeInHandler[0]).toEqual({ traceparent: `00-${traceId}-${idOf(process)}-01` });

    const messageId = received[0]!.messageId;
    expect(publish!.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': 'agent.thought',
      'messaging.message.id': messageId,
      'messaging.message.conversation_id': 's1',
      'woodwork.component.source': 'ui',
      'woodwork.component.target': 'planner',
    });
    expect(process!.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'agent.thought',
      'messaging.message.id': messageId,
      'messaging.message.conversation_id': 's1',
      'messaging.consumer.group.name': 'planner~agent~thought',
      'woodwork.component.target': 'planner',
      'woodwork.attempt': 1,
      'woodwork.max_attempts': 4,
      'woodwork.outcome': 'acknowledged',
    });
    expect(process!.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('a handler that publishes continues the trace: a chain of components is one tree', async () => {
    const bus = makeBus();
    await bus.subscribe('step.one', async (e) => {
      await bus.publish({ sessionId: e.sessionId, eventType: 'step.two', componentSource: 'one', componentTarget: 'two' });
    }, { componentId: 'one' });
    await bus.subscribe('step.two', () => {}, { componentId: 'two' });
    await testTracer.startActiveSpan('request', async (root) => {
      await bus.publish({ sessionId: 's', eventType: 'step.one', componentSource: 'ui', componentTarget: 'one' });
      root.end();
    });
    await waitFor(() => byName('process step.two').length === 1, 'the second step');
    expect(spanTree(sdk.spans())).toBe(
      ['request', '  publish step.one', '    process step.one [1/acknowledged]', '      publish step.two', '        process step.two [1/acknowledged]'].join('\n'),
    );
  });

  it('a message forwarded with a traceparent and no active span continues that trace', async () => {
    const bus = makeBus();
    await bus.subscribe('job.step', () => {});
    const upstream = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await bus.publish({ sessionId: 's', eventType: 'job.step', componentSource: 'py', metadata: { traceparent: upstream } });
    await waitFor(() => byName('process job.step').length === 1, 'process span');
    const [publish] = byName('publish job.step');
    expect(publish!.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(publish!.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(byName('process job.step')[0]!.parentSpanContext?.spanId).toBe(idOf(publish));
  });

  it('each replica group of a pub_sub message gets its own process span under the one publish span', async () => {
    const bus = makeBus();
    await bus.subscribe('note.added', () => {}, { componentId: 'a' });
    await bus.subscribe('note.added', () => {}, { componentId: 'b' });
    await bus.publish({ sessionId: 's', eventType: 'note.added', componentSource: 'x', pattern: 'pub_sub' });
    await waitFor(() => byName('process note.added').length === 2, 'two process spans');
    const [publish] = byName('publish note.added');
    const groups = byName('process note.added').map((s) => [s.parentSpanContext?.spanId, s.attributes['messaging.consumer.group.name']]);
    expect(groups.sort()).toEqual([
      [idOf(publish), 'a~note~added'],
      [idOf(publish), 'b~note~added'],
    ]);
  });
});

describe('retries, dead letters and redrives', () => {
  it('every attempt is a sibling under the publish span with its outcome; the dead letter and its redrive are on the trace', async () => {
    const bus = makeBus();
    let failing = true;
    await bus.subscribe(
      'tool.call',
      () => {
        if (failing) throw new Error('tool down');
      },
      { componentId: 'tools' },
    );
    await bus.publish({ sessionId: 's', eventType: 'tool.call', componentSource: 'planner', maxRetries: 2 });
    await waitFor(async () => (await bus.getDeadLetterMessages()).length === 1, 'the dead letter');
    await waitFor(() => byName('process tool.call').length === 3, 'three attempt spans');

    const [publish] = byName('publish tool.call');
    const attempts = byName('process tool.call').sort((a, b) => Number(a.attributes['woodwork.attempt']) - Number(b.attributes['woodwork.attempt']));
    expect(attempts.map((s) => [s.attributes['woodwork.attempt'], s.attributes['woodwork.outcome'], s.attributes['error.type']])).toEqual([
      [1, 'retried', 'Error'],
      [2, 'retried', 'Error'],
      [3, 'dead_lettered', 'Error'],
    ]);
    for (const span of attempts) {
      expect(span.parentSpanContext?.spanId).toBe(idOf(publish));
      expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'tool down' });
      expect(span.events.map((e) => e.name)).toContain('exception');
    }

    // The stored record keeps the trace context (redriving it continues the same trace); through
    // the wrapper the record shows the metadata as published.
    const [stored] = await innerOf.get(bus)!.getDeadLetterMessages();
    expect(stored!.envelope.metadata['traceparent']).toBe(`00-${publish!.spanContext().traceId}-${idOf(publish)}-01`);
    const [record] = await bus.getDeadLetterMessages();
    expect(record!.envelope.metadata).toEqual({});
    expect(record!.id).toBe(stored!.id);
    failing = false;
    const result = await bus.redriveDeadLetters();
    expect(result.redriven).toEqual([record!.id]);
    await waitFor(() => byName('process tool.call').length === 4, 'the redriven attempt');
    const redriven = byName('process tool.call').find((s) => s.attributes['woodwork.outcome'] === 'acknowledged');
    expect(redriven?.attributes['woodwork.attempt']).toBe(1);
    expect(redriven?.parentSpanContext?.spanId).toBe(idOf(publish));
    const [redrive] = byName('redrive dead letters');
    expect(redrive!.attributes).toMatchObject({ 'woodwork.redrive.redriven': 1, 'woodwork.redrive.skipped': 0 });
    expect(redrive!.links.map((l) => l.context.spanId)).toEqual([idOf(publish)]);
    expect(redrive!.links[0]!.attributes).toMatchObject({ 'messaging.consumer.group.name': 'tools~tool~call' });
    expect(spanTree(sdk.spans().filter((s) => s.name !== 'redrive dead letters'))).toBe(
      ['publish tool.call', '  process tool.call [1/retried]', '  process tool.call [2/retried]', '  process tool.call [3/dead_lettered]', '  process tool.call [1/acknowledged]'].join(
        '\n',
      ),
    );
  });

  it('an UnrecoverableError is dead-lettered on its first attempt; at_most_once has one attempt', async () => {
    const bus = makeBus();
    await bus.subscribe('a.b', () => {
      throw new UnrecoverableError('bad input', { cause: new Error('x') });
    });
    await bus.subscribe('c.d', () => Promise.reject(new Error('once')));
    await bus.publish({ sessionId: 's', eventType: 'a.b', componentSource: 'x' });
    await bus.publish({ sessionId: 's', eventType: 'c.d', componentSource: 'x', deliveryMode: 'at_most_once' });
    await waitFor(() => byName('process a.b').length === 1 && byName('process c.d').length === 1, 'both spans');
    expect(byName('process a.b')[0]!.attributes).toMatchObject({ 'woodwork.outcome': 'dead_lettered', 'error.type': 'UNRECOVERABLE', 'woodwork.max_attempts': 4 });
    expect(byName('process c.d')[0]!.attributes).toMatchObject({ 'woodwork.outcome': 'dead_lettered', 'woodwork.max_attempts': 1 });
  });

  it('a handler timeout fails the attempt even when the handler resolves later', async () => {
    const bus = makeBus();
    await bus.subscribe('slow.step', () => new Promise((r) => setTimeout(r, 150)), { handlerTimeoutMs: 20 });
    await bus.publish({ sessionId: 's', eventType: 'slow.step', componentSource: 'x', maxRetries: 0 });
    await waitFor(() => byName('process slow.step').length === 1, 'the span');
    expect(byName('process slow.step')[0]!.attributes).toMatchObject({ 'woodwork.outcome': 'dead_lettered', 'error.type': 'HANDLER_TIMEOUT' });
  });
});

describe('refused publishes and bad options', () => {
  it('a refused publish rejects with the bus error itself and leaves an ERROR span', async () => {
    const bus = makeBus();
    const error = await bus.publish({ sessionId: 's', eventType: 'bad type!', componentSource: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidMessageError);
    const [span] = byName('publish');
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
    expect(span!.attributes['error.type']).toBe('INVALID_MESSAGE');
    // Metadata that is not an object is the bus's to refuse, unchanged.
    await expect(bus.publish({ sessionId: 's', eventType: 'a.b', componentSource: 'x', metadata: 'x' as never })).rejects.toMatchObject({ field: 'metadata' });
  });

  it('bad arguments to instrumentBus are an InvalidConfigError naming them', () => {
    const inner = new MemoryMessageBus();
    open.push(inner);
    expect(() => instrumentBus({} as MessageBus)).toThrow(InvalidConfigError);
    expect(() => instrumentBus(inner, { trace: true } as never)).toThrow(/trace is not a known option/);
    expect(() => instrumentBus(inner, { metrics: 'yes' } as never)).toThrow(/metrics must be a boolean/);
    expect(() => instrumentBus(inner, { tracerProvider: {} } as never)).toThrow(/tracerProvider/);
    expect(() => instrumentBus(inner, { attributes: { a: null } } as never)).toThrow(/attributes\.a/);
  });
});

describe('instrumentation off', () => {
  async function roundTrip(bus: MessageBus): Promise<MessageEnvelope> {
    const got: MessageEnvelope[] = [];
    await bus.subscribe('quiet.event', (e) => void got.push(e));
    await testTracer.startActiveSpan('request', async (root) => {
      await bus.publish({ sessionId: 's', eventType: 'quiet.event', componentSource: 'x', metadata: { k: 1 } });
      root.end();
    });
    await waitFor(() => got.length === 1, 'delivery');
    return got[0]!;
  }

  it('traces: false, metrics: false records nothing and writes nothing into the metadata', async () => {
    const bus = makeBus({ traces: false, metrics: false });
    const got = await roundTrip(bus);
    expect(got.metadata).toEqual({ k: 1 });
    expect(sdk.spans().map((s) => s.name)).toEqual(['request']);
  });

  it('a bus that is not wrapped records nothing, with the SDK and propagator registered globally', async () => {
    trace.setGlobalTracerProvider(sdk.tracerProvider);
    propagation.setGlobalPropagator(sdk.propagator);
    try {
      const inner = new MemoryMessageBus({ streamPrefix: randomName('plain') });
      open.push(inner);
      const got = await roundTrip(inner);
      expect(got.metadata).toEqual({ k: 1 });
      expect(sdk.spans().map((s) => s.name)).toEqual(['request']);
    } finally {
      trace.disable();
      propagation.disable();
    }
  });

  it('with no SDK at all (the API no-ops) nothing is written into the metadata', async () => {
    const bus = instrumentBus(new MemoryMessageBus({ streamPrefix: randomName('nosdk') }));
    open.push(bus);
    const got: MessageEnvelope[] = [];
    await bus.subscribe('quiet.event', (e) => void got.push(e));
    await bus.publish({ sessionId: 's', eventType: 'quiet.event', componentSource: 'x', metadata: { k: 1 } });
    await waitFor(() => got.length === 1, 'delivery');
    expect(got[0]!.metadata).toEqual({ k: 1 });
    expect(trace.getSpan(context.active())).toBeUndefined();
  });
});
