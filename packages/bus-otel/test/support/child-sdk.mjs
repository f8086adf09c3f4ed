// The OpenTelemetry SDK of a conformance child process (child-bus-redis.mjs, child-bus-nats.mjs),
// registered globally before the bus is wrapped: spans record (nothing exports them) and the W3C
// propagator writes and reads `traceparent`, as in the parent, so the suite's cross-process
// checks run with trace context in every envelope's metadata.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(new BasicTracerProvider());
