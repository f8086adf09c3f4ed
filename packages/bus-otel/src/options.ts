/**
 * The options of `instrumentBus`, checked like every woodwork option: an unknown key or a value of
 * the wrong kind is an `InvalidConfigError` naming it.
 */
import type { Attributes, MeterProvider, TextMapPropagator, TracerProvider } from '@opentelemetry/api';
import { InvalidConfigError, rejectUnknownKeys } from '@woodwork/bus-core';

export interface InstrumentBusOptions {
  /** Default: the global one (`trace.getTracerProvider()`), which follows an SDK registered later. */
  tracerProvider?: TracerProvider;
  /**
   * Default: the global one (`metrics.getMeterProvider()`) as it is when `instrumentBus` runs:
   * register the SDK's meter provider first.
   */
  meterProvider?: MeterProvider;
  /** Default: the global one (`propagation`); with the W3C propagator, `traceparent` / `tracestate`. */
  propagator?: TextMapPropagator;
  /** Spans and trace context. Default true. */
  traces?: boolean;
  /** Instruments. Default true. */
  metrics?: boolean;
  /**
   * Added to every metric point: tell apart two buses of one process (`{ 'woodwork.bus': 'planner' }`).
   * Keep them few and fixed; strings, numbers or booleans.
   */
  attributes?: Attributes;
}

const KEYS = ['tracerProvider', 'meterProvider', 'propagator', 'traces', 'metrics', 'attributes'];

function hasMethods(value: unknown, names: readonly string[]): boolean {
  return typeof value === 'object' && value !== null && names.every((n) => typeof (value as Record<string, unknown>)[n] === 'function');
}

export function checkInstrumentOptions(options: unknown): InstrumentBusOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidConfigError('options', `must be an object; got ${options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}`);
  }
  rejectUnknownKeys(options, KEYS);
  const o = options as Record<string, unknown>;
  for (const key of ['traces', 'metrics']) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new InvalidConfigError(key, `must be a boolean; got ${typeof o[key]}`);
  }
  if (o['tracerProvider'] !== undefined && !hasMethods(o['tracerProvider'], ['getTracer'])) {
    throw new InvalidConfigError('tracerProvider', 'must be an OpenTelemetry TracerProvider (with getTracer)');
  }
  if (o['meterProvider'] !== undefined && !hasMethods(o['meterProvider'], ['getMeter'])) {
    throw new InvalidConfigError('meterProvider', 'must be an OpenTelemetry MeterProvider (with getMeter)');
  }
  if (o['propagator'] !== undefined && !hasMethods(o['propagator'], ['inject', 'extract', 'fields'])) {
    throw new InvalidConfigError('propagator', 'must be an OpenTelemetry TextMapPropagator (with inject, extract, fields)');
  }
  if (o['attributes'] !== undefined) {
    const attributes = o['attributes'];
    if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) {
      throw new InvalidConfigError('attributes', 'must be an object of attribute names to strings, numbers or booleans');
    }
    for (const [name, value] of Object.entries(attributes)) {
      if (!['string', 'number', 'boolean'].includes(typeof value)) {
        throw new InvalidConfigError(`attributes.${name}`, `must be a string, a number or a boolean; got ${value === null ? 'null' : typeof value}`);
      }
    }
  }
  return options as InstrumentBusOptions;
}
