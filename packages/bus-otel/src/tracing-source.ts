/**
 * The tracer a publish or an attempt uses, asked per message: none while tracing has nothing to do.
 *
 * With no SDK registered the global tracer provider is the API's proxy with no delegate, and the
 * global propagator the no-op one: every span would be a non-recording span with no context, and
 * there would be nothing to write into the metadata or read from it. Then there is no tracer, and
 * the wrapper passes the call straight on (no span, no context, no attributes: the `otel` bench case
 * measures what is left). An SDK registered later fills the proxy's delegate, which the next message
 * sees (one property read per message until then). A propagator registered without an SDK keeps the
 * API's no-op tracer in use, which carries a message's trace context on to what its handler
 * publishes, as the API does for every instrumented library.
 */
import type { TextMapPropagator, Tracer, TracerProvider } from '@opentelemetry/api';

/** The API's `ProxyTracerProvider` (the global one), by shape: an SDK becomes its delegate. */
interface ProxyTracerProviderLike extends TracerProvider {
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

function isProxyProvider(provider: TracerProvider): provider is ProxyTracerProviderLike {
  return typeof (provider as Partial<ProxyTracerProviderLike>).getDelegateTracer === 'function';
}

export class TracingSource {
  /** The SDK's tracer once there is one (a delegate, once set, stays: the API never unsets it). */
  private resolved: Tracer | undefined;
  private readonly proxy: ProxyTracerProviderLike | undefined;
  /** The tracer while the proxy has no delegate: the API's no-op one, through the proxy. */
  private readonly fallback: Tracer;

  constructor(
    provider: TracerProvider,
    private readonly name: string,
    private readonly propagator: TextMapPropagator,
  ) {
    this.fallback = provider.getTracer(name);
    if (isProxyProvider(provider)) this.proxy = provider;
    else this.resolved = this.fallback;
  }

  /** The tracer for this message, or undefined when no span would record and nothing propagates. */
  current(): Tracer | undefined {
    if (this.resolved !== undefined) return this.resolved;
    const delegate = this.proxy!.getDelegateTracer(this.name);
    if (delegate !== undefined) {
      this.resolved = delegate;
      return delegate;
    }
    return this.propagator.fields().length > 0 ? this.fallback : undefined;
  }
}
