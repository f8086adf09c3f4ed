/**
 * One trace across two processes over Redis: this process publishes inside a `request` span, a child
 * process (support/child-consumer.mjs, its own SDK and bus, the shared Redis under a unique prefix)
 * handles. The child's spans, reported on its stdout, continue this process's trace through the
 * `traceparent` in the envelope's metadata; its retries and a dead letter are on the same trace.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { randomName, waitFor } from '@woodwork/bus-conformance';
import { RedisMessageBus } from '@woodwork/bus-redis';
import { afterAll, expect, it } from 'vitest';
import { sharedRedisUrl } from '../../bus-redis/test/support/redis-server.js';
import { instrumentBus } from '../src/index.js';
import { startTestSdk } from './support/otel.js';

interface ChildSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  attributes: Record<string, unknown>;
}

const sdk = startTestSdk();
const url = await sharedRedisUrl();
const prefix = randomName('otelx');
let child: ChildProcessWithoutNullStreams | undefined;

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.once('exit', r));
    child.stdin.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  await sdk.shutdown();
});

it('a publish here and its handling in another process are one trace, retries and the dead letter included', async () => {
  const childSpans: ChildSpan[] = [];
  const stderr: string[] = [];
  child = spawn(process.execPath, [fileURLToPath(new URL('./support/child-consumer.mjs', import.meta.url))], {
    env: { ...process.env, WW_OTEL_REDIS_URL: url, WW_OTEL_PREFIX: prefix },
  });
  child.stderr.on('data', (d: Buffer) => stderr.push(d.toString()));
  let ready = false;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const parsed = JSON.parse(line) as { ready?: boolean; span?: ChildSpan };
    if (parsed.ready) ready = true;
    if (parsed.span) childSpans.push(parsed.span);
  });
  await waitFor(() => ready || child!.exitCode !== null, 'the child consumer to subscribe', 30_000);
  expect(ready, stderr.join('')).toBe(true);

  const raw = await RedisMessageBus.connect({ url, streamPrefix: prefix });
  const bus = instrumentBus(raw, {
    tracerProvider: sdk.tracerProvider,
    meterProvider: sdk.meterProvider,
    propagator: sdk.propagator,
  });
  try {
    const tracer = sdk.tracerProvider.getTracer('test');
    const ids: Record<'ok' | 'flaky' | 'poison', string> = { ok: '', flaky: '', poison: '' };
    await tracer.startActiveSpan('request', async (root) => {
      const send = (payload: Record<string, boolean>) =>
        bus.publish({ sessionId: randomName('s'), eventType: 'task.run', componentSource: 'planner', componentTarget: 'worker', payload, maxRetries: 1 });
      ids.ok = (await send({})).messageId;
      ids.flaky = (await send({ failFirst: true })).messageId;
      ids.poison = (await send({ poison: true })).messageId;
      root.end();
    });
    // ok: 1 attempt; flaky: 2; poison: 2 (then dead-lettered).
    await waitFor(() => childSpans.filter((s) => s.name === 'process task.run').length === 5, 'five attempt spans from the child', 30_000);
    await waitFor(() => childSpans.filter((s) => s.name === 'worker step').length === 5, 'five handler spans', 10_000);

    const traceId = sdk.spans().find((s) => s.name === 'request')!.spanContext().traceId;
    const publishOf = new Map(sdk.spans().filter((s) => s.name === 'publish task.run').map((s) => [s.attributes['messaging.message.id'], s.spanContext().spanId]));
    for (const span of childSpans) expect(span.traceId, `${span.name} is in the request's trace`).toBe(traceId);
    const attempts = (id: string) =>
      childSpans
        .filter((s) => s.name === 'process task.run' && s.attributes['messaging.message.id'] === id)
        .map((s) => {
          expect(s.parentSpanId, 'a process span is a child of its publish span').toBe(publishOf.get(id));
          return `${String(s.attributes['woodwork.attempt'])}/${String(s.attributes['woodwork.outcome'])}`;
        })
        .sort();
    expect(attempts(ids.ok)).toEqual(['1/acknowledged']);
    expect(attempts(ids.flaky)).toEqual(['1/retried', '2/acknowledged']);
    expect(attempts(ids.poison)).toEqual(['1/retried', '2/dead_lettered']);
    const processIds = new Set(childSpans.filter((s) => s.name === 'process task.run').map((s) => s.spanId));
    for (const step of childSpans.filter((s) => s.name === 'worker step')) expect(processIds.has(step.parentSpanId!), 'handler span under its attempt').toBe(true);
    expect(childSpans.find((s) => s.name === 'process task.run')!.attributes).toMatchObject({ 'messaging.system': 'redis', 'messaging.consumer.group.name': 'worker~task~run' });

    await waitFor(async () => (await bus.getDeadLetterMessages(10, { messageId: ids.poison })).length === 1, 'the dead letter');
    // Stored with the trace context (the wire form); through the wrapper, as published.
    const [stored] = await raw.getDeadLetterMessages(10, { messageId: ids.poison });
    expect(stored!.envelope.metadata['traceparent']).toBe(`00-${traceId}-${publishOf.get(ids.poison)}-01`);
    const [record] = await bus.getDeadLetterMessages(10, { messageId: ids.poison });
    expect(record!.envelope.metadata).toEqual({});
  } finally {
    await bus.purgeDeadLetters().catch(() => undefined);
    await bus.close();
  }
});
