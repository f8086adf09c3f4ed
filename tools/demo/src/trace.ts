/**
 * `--trace`: the run recorded with OpenTelemetry and printed as a tree of spans with timings. The
 * bus is wrapped by `@woodwork/bus-otel`; the SDK keeps finished spans in memory (nothing is
 * exported), the W3C propagator carries the context in each envelope's metadata, and the run itself
 * is the root span `demo run`. With `--role`, each process prints the spans it recorded: the trace
 * id is the same in every process (the context travels in the messages), a subtree whose parent is
 * in another process starts at the left.
 */
import { ROOT_CONTEXT, context, propagation, trace, type Context, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { instrumentBus } from '@woodwork/bus-otel';
import type { MessageBus } from '@woodwork/bus-core';

/** One span of the printed tree (also the `--json` summary's `trace`). */
export interface TraceLine {
  depth: number;
  name: string;
  /** Milliseconds from the earliest span's start. */
  start_ms: number;
  duration_ms: number;
  trace_id: string;
  span_id: string;
  parent_span_id: string | null;
  /** `attempt/outcome` for a handler attempt, else null. */
  outcome: string | null;
}

export class DemoTracing {
  private readonly exporter = new InMemorySpanExporter();
  private readonly provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(this.exporter)] });
  private readonly propagator = new W3CTraceContextPropagator();

  private readonly root: Span;
  private readonly rootContext: Context;

  /** Starts the root span `rootName`; it ends in `finish()`. */
  constructor(rootName: string) {
    // `context.with` (the handler inside its attempt's span) needs a context manager.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(this.propagator);
    this.root = this.provider.getTracer('woodwork-demo').startSpan(rootName);
    this.rootContext = trace.setSpan(ROOT_CONTEXT, this.root);
  }

  wrap(bus: MessageBus): MessageBus {
    return instrumentBus(bus, { tracerProvider: this.provider, propagator: this.propagator, metrics: false });
  }

  /** Runs `fn` inside the root span: what it starts (subscriptions, publishes) belongs to the run. */
  inRoot<T>(fn: () => T): T {
    return context.with(this.rootContext, fn);
  }

  /** Ends the root span and the SDK; the spans recorded, as tree lines. */
  async finish(): Promise<TraceLine[]> {
    this.root.end();
    const lines = spanLines(this.exporter.getFinishedSpans());
    await this.provider.shutdown();
    context.disable();
    propagation.disable();
    return lines;
  }
}

const toMs = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;

/** Depth-first, children by start time; a span whose parent was not recorded here is a root. */
export function spanLines(spans: readonly ReadableSpan[]): TraceLine[] {
  if (spans.length === 0) return [];
  const ids = new Set(spans.map((s) => s.spanContext().spanId));
  const children = new Map<string, ReadableSpan[]>();
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId;
    const key = parent !== undefined && ids.has(parent) ? parent : '';
    children.set(key, [...(children.get(key) ?? []), span]);
  }
  const origin = Math.min(...spans.map((s) => toMs(s.startTime)));
  const lines: TraceLine[] = [];
  const walk = (key: string, depth: number): void => {
    const list = [...(children.get(key) ?? [])].sort((a, b) => toMs(a.startTime) - toMs(b.startTime));
    for (const span of list) {
      const attempt = span.attributes['woodwork.attempt'];
      const outcome = span.attributes['woodwork.outcome'];
      lines.push({
        depth,
        name: span.name,
        start_ms: Number((toMs(span.startTime) - origin).toFixed(2)),
        duration_ms: Number(toMs(span.duration).toFixed(2)),
        trace_id: span.spanContext().traceId,
        span_id: span.spanContext().spanId,
        parent_span_id: span.parentSpanContext?.spanId ?? null,
        outcome: outcome === undefined ? null : `${String(attempt)}/${String(outcome)}`,
      });
      walk(span.spanContext().spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines;
}

/** The tree as text, under 80 columns: start and duration in ms, then the span, indented. */
export function formatTrace(lines: readonly TraceLine[]): string {
  if (lines.length === 0) return 'trace: no spans recorded';
  const traces = [...new Set(lines.map((l) => l.trace_id))];
  const out = [`trace ${traces.join(', ')} (${lines.length} spans)`, `${'start ms'.padStart(9)} ${'took ms'.padStart(8)}  span`];
  for (const line of lines) {
    const label = `${'  '.repeat(Math.min(line.depth, 12))}${line.name}${line.outcome === null ? '' : ` ${line.outcome}`}`;
    const text = `${line.start_ms.toFixed(1).padStart(9)} ${line.duration_ms.toFixed(1).padStart(8)}  ${label}`;
    out.push(text.length > 80 ? `${text.slice(0, 79)}…` : text);
  }
  return out.join('\n');
}
