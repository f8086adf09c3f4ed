/**
 * A short smoke test over the shared NATS JetStream (the whole suite over NATS is test:slow): a
 * publish on one bus and its handling on another are one trace, the handler's span under the
 * attempt, the traceparent carried in the envelope's metadata over the wire.
 */
import { SpanKind } from '@opentelemetry/api';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import type { MessageEnvelope } from '@woodwork/bus-core';
import { NatsMessageBus } from '@woodwork/bus-nats';
import { afterAll, expect, it } from 'vitest';
import { sharedNatsUrl } from '../../bus-nats/test/support/nats-server.js';
import { instrumentBus } from '../src/index.js';
import { spanTree, startTestSdk } from './support/otel.js';

const sdk = startTestSdk();
const url = await sharedNatsUrl();
afterAll(() => sdk.shutdown());

it('over NATS, a publish on one bus and its handling on another are one trace', async () => {
  const streamPrefix = randomName('otelnats');
  const options = { tracerProvider: sdk.tracerProvider, meterProvider: sdk.meterProvider, propagator: sdk.propagator };
  const inner = await NatsMessageBus.connect({ url, streamPrefix });
  const consumer = instrumentBus(inner, options);
  const producer = instrumentBus(await NatsMessageBus.connect({ url, streamPrefix }), options);
  const tracer = sdk.tracerProvider.getTracer('test');
  try {
    const got: MessageEnvelope[] = [];
    await consumer.subscribe(
      'tool.call',
      async (e) => {
        got.push(e);
        await tracer.startActiveSpan('run tool', async (span) => span.end());
      },
      { componentId: 'tools' },
    );
    await tracer.startActiveSpan('request', async (root) => {
      await producer.publish({ sessionId: 's', eventType: 'tool.call', componentSource: 'planner', componentTarget: 'tools' });
      root.end();
    });
    await waitFor(() => sdk.spans().some((s) => s.name === 'run tool'), 'the handler span', 30_000);
    expect(spanTree(sdk.spans())).toBe(['request', '  publish tool.call', '    process tool.call [1/acknowledged]', '      run tool'].join('\n'));
    const publish = sdk.spans().find((s) => s.name === 'publish tool.call')!;
    const process = sdk.spans().find((s) => s.name === 'process tool.call')!;
    expect(process.kind).toBe(SpanKind.CONSUMER);
    expect(process.attributes['messaging.system']).toBe('nats');
    // The context crossed the wire in the metadata (the two buses share nothing else); the handler
    // sees the metadata as published.
    expect(process.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(got[0]!.metadata).toEqual({});
  } finally {
    await producer.close();
    // Closes the consumer's bus and deletes the prefix's streams: the shared server keeps none.
    await inner.deleteNamespace();
  }
});
