/**
 * A trace from TypeScript through a Python woodwork process and back, over the shared Redis: this
 * process publishes `py.task` inside a `request` span; a Python process (support/py_otel_relay.py:
 * bus-redis's PROTOCOL.md client plus opentelemetry-api) reads `traceparent` from the envelope's
 * metadata with `opentelemetry.propagate.extract`, continues the trace, and publishes `py.reply`
 * with the continued context injected by `opentelemetry.propagate.inject`; the instrumented
 * TypeScript consumer of the reply is in the request's trace, under the Python span.
 *
 * python3 with opentelemetry-api must be installed (`.ci/run` installs it when missing): without it
 * the test fails saying so, it never skips.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import type { MessageEnvelope } from '@woodwork/bus-core';
import { RedisMessageBus } from '@woodwork/bus-redis';
import { afterAll, expect, it } from 'vitest';
import { sharedRedisUrl } from '../../bus-redis/test/support/redis-server.js';
import { instrumentBus } from '../src/index.js';
import { startTestSdk } from './support/otel.js';

const script = fileURLToPath(new URL('./support/py_otel_relay.py', import.meta.url));
const sdk = startTestSdk();
afterAll(() => sdk.shutdown());

interface Continued {
  received_metadata: Record<string, unknown>;
  trace_id: string;
  parent_span_id: string;
  span_id: string;
  reply_metadata: Record<string, string>;
  reply: string;
}

it('a Python consumer continues a TypeScript trace from the metadata, and its reply joins it', async () => {
  const url = new URL(await sharedRedisUrl());
  const prefix = randomName('pyotel');
  const bus = instrumentBus(await RedisMessageBus.connect({ url: url.toString(), streamPrefix: prefix }), {
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
    propagator: sdk.propagator,
  });
  const python = process.env['PYTHON'] ?? 'python3';
  const child = spawn(python, [script, 'relay', url.hostname, url.port || '6379', prefix, 'pyotel', 'py.task', 'py.reply'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  let spawnError: Error | undefined;
  child.on('error', (e) => (spawnError = e));
  child.stdout.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n').filter(Boolean)));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    const replies: MessageEnvelope[] = [];
    await bus.subscribe('py.reply', (e) => void replies.push(e), { componentId: 'ts-replies' });
    await waitFor(() => lines.some((l) => l.includes('"ready"')) || child.exitCode !== null || spawnError !== undefined, 'the Python consumer to be ready', 45_000);
    expect(spawnError, `could not run ${python} (install Python 3 or set PYTHON)`).toBeUndefined();
    expect(lines.some((l) => l.includes('"ready"')), `the Python relay did not start: ${stderr}`).toBe(true);

    const tracer = sdk.tracerProvider.getTracer('test');
    await tracer.startActiveSpan('request', async (root) => {
      await bus.publish({ sessionId: randomName('s'), eventType: 'py.task', componentSource: 'planner', payload: { q: 1 } });
      root.end();
    });
    expect(await exited, `the Python relay failed: ${stderr}`).toBe(0);
    const continued = (JSON.parse(lines.find((l) => l.includes('"continued"'))!) as { continued: Continued }).continued;

    const request = sdk.spans().find((s) => s.name === 'request')!;
    const publish = sdk.spans().find((s) => s.name === 'publish py.task')!;
    const traceId = request.spanContext().traceId;
    // What Python read: the W3C header the wrapper wrote, naming the publish span as the parent.
    expect(continued.received_metadata).toEqual({ traceparent: `00-${traceId}-${publish.spanContext().spanId}-01` });
    expect(continued.trace_id).toBe(traceId);
    expect(continued.parent_span_id).toBe(publish.spanContext().spanId);
    expect(continued.reply_metadata['traceparent']).toBe(`00-${traceId}-${continued.span_id}-01`);

    // The reply's handling here: same trace, child of the Python span.
    await waitFor(() => sdk.spans().some((s) => s.name === 'process py.reply'), 'the reply to be handled', 30_000);
    const process = sdk.spans().find((s) => s.name === 'process py.reply')!;
    expect(process.spanContext().traceId).toBe(traceId);
    expect(process.parentSpanContext?.spanId).toBe(continued.span_id);
    expect(replies[0]!.messageId).toBe(continued.reply);
    expect(replies[0]!.metadata).toEqual({});
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await bus.close();
  }
});
