/**
 * The OpenTelemetry SDK as the tests use it: spans kept in memory (SimpleSpanProcessor +
 * InMemorySpanExporter), metrics read on demand (a MetricReader whose collect() the test calls), the
 * W3C propagator, and the AsyncLocalStorage context manager (registered globally: `context.with`
 * needs one). Providers are passed to `instrumentBus` explicitly, so nothing else is global.
 */
import { context, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

class OnDemandReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

let contextManagerSet = false;

export function registerContextManager(): void {
  if (contextManagerSet) return;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  contextManagerSet = true;
}

export interface TestSdk {
  exporter: InMemorySpanExporter;
  tracerProvider: BasicTracerProvider;
  meterProvider: MeterProvider;
  propagator: W3CTraceContextPropagator;
  spans(): ReadableSpan[];
  /** Every metric the reader collects now, by name. */
  metrics(): Promise<Map<string, MetricData>>;
  shutdown(): Promise<void>;
}

export function startTestSdk(): TestSdk {
  registerContextManager();
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    exporter,
    tracerProvider,
    meterProvider,
    propagator: new W3CTraceContextPropagator(),
    spans: () => exporter.getFinishedSpans(),
    async metrics() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
      const byName = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
      return byName;
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** The sum of a metric's points whose attributes include `match` (a counter's or gauge's value). */
export function pointSum(metric: MetricData | undefined, match: Attributes = {}): number {
  if (metric === undefined) return 0;
  let sum = 0;
  for (const point of metric.dataPoints as DataPoint<number | Histogram>[]) {
    if (!Object.entries(match).every(([k, v]) => point.attributes[k] === v)) continue;
    sum += typeof point.value === 'number' ? point.value : point.value.count;
  }
  return sum;
}

/** The spans as a tree: each line `name [attempt/outcome]`, children indented, siblings by start time. */
export function spanTree(spans: readonly ReadableSpan[]): string {
  const byParent = new Map<string, ReadableSpan[]>();
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent !== undefined && ids.has(parent) ? parent : 'root';
    byParent.set(key, [...(byParent.get(key) ?? []), span]);
  }
  const lines: string[] = [];
  const walk = (key: string, depth: number): void => {
    const children = [...(byParent.get(key) ?? [])].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1]);
    for (const child of children) {
      const outcome = child.attributes['woodwork.outcome'];
      lines.push(`${'  '.repeat(depth)}${child.name}${outcome === undefined ? '' : ` [${String(child.attributes['woodwork.attempt'])}/${String(outcome)}]`}`);
      walk(child.spanContext().spanId, depth + 1);
    }
  };
  walk('root', 0);
  return lines.join('\n');
}
