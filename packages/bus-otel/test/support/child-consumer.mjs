// A consumer in its own process for cross-process.test.ts: a Redis bus instrumented with its own
// OpenTelemetry SDK, whose finished spans go to stdout as JSON lines (`{"span": ...}`). It handles
// `task.run` as component `worker`: `payload.failFirst` fails the first attempt, `payload.poison`
// fails every attempt; each attempt starts a `worker step` span of its own inside the handler.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { RedisMessageBus } from '@woodwork/bus-redis';
import { instrumentBus } from '../../dist/index.js';

const stdoutExporter = {
  export(spans, done) {
    for (const s of spans) {
      const line = {
        name: s.name,
        traceId: s.spanContext().traceId,
        spanId: s.spanContext().spanId,
        parentSpanId: s.parentSpanContext?.spanId ?? null,
        kind: s.kind,
        attributes: s.attributes,
      };
      process.stdout.write(`${JSON.stringify({ span: line })}\n`);
    }
    done({ code: 0 });
  },
  shutdown: async () => {},
};

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(stdoutExporter)] });
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer('child');

const bus = instrumentBus(
  await RedisMessageBus.connect({
    url: process.env.WW_OTEL_REDIS_URL,
    streamPrefix: process.env.WW_OTEL_PREFIX,
    retry: { initialDelayMs: 10, maxDelayMs: 50, multiplier: 2, jitter: 0.2 },
  }),
);
const seen = new Map();
await bus.subscribe(
  'task.run',
  async (envelope) => {
    const n = (seen.get(envelope.messageId) ?? 0) + 1;
    seen.set(envelope.messageId, n);
    await tracer.startActiveSpan('worker step', async (span) => {
      span.end();
    });
    if (envelope.payload.poison || (envelope.payload.failFirst && n === 1)) throw new Error(`attempt ${n} failed`);
  },
  { componentId: 'worker' },
);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

process.stdin.resume();
process.stdin.on('end', async () => {
  await bus.close();
  await provider.shutdown();
  process.exit(0);
});
